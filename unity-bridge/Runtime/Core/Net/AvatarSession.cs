using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Net
{
    public enum SessionState { Idle, Connecting, Open, Reconnecting, Closed }

    /// <summary>
    /// The session client: one conversation over <see cref="ClientWebSocket"/>, protocol v1.
    ///
    /// Connects (token as header or query), waits for <c>session.ready</c>, then sends from one
    /// queue (a single writer, so text and audio keep their order) and receives into another:
    /// every message, audio frame, error and state change becomes a <see cref="SessionEvent"/> that
    /// the application drains on its own thread (<see cref="TryDequeue"/>, <see cref="Drain"/>);
    /// nothing is called back from the socket thread.
    ///
    /// A lost connection is retried with back-off (<see cref="Backoff"/>, or the server's
    /// <c>retry_after</c>); once a turn completed, the retry resumes the conversation with
    /// <c>?session_id=</c>, and the session.update messages sent so far are sent again. Refusals
    /// that another try cannot fix (UNAUTHORIZED, close code 1008) end the session. Frames that do
    /// not follow the protocol are reported as BAD_FRAME errors and skipped; the session goes on.
    /// </summary>
    public sealed partial class AvatarSession : IDisposable
    {
        private readonly AvatarSessionOptions _options;
        private readonly ConcurrentQueue<SessionEvent> _events = new ConcurrentQueue<SessionEvent>();
        private readonly SemaphoreSlim _eventSignal = new SemaphoreSlim(0);
        private readonly Outbox _outbox;
        private readonly CancellationTokenSource _life = new CancellationTokenSource();
        private readonly TaskCompletionSource<SessionReady> _firstReady =
            new TaskCompletionSource<SessionReady>(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _run;
        private volatile int _state = (int)SessionState.Idle;
        private volatile bool _closing;
        private int _connections;
        private volatile bool _turnCompleted;
        private volatile string _resumeId;

        public AvatarSession(AvatarSessionOptions options)
        {
            if (options == null || options.Url == null) throw new ArgumentException("AvatarSessionOptions.Url is required");
            if (options.Url.Scheme != "ws" && options.Url.Scheme != "wss")
                throw new ArgumentException("the URL must be ws:// or wss://, got " + options.Url);
            _options = options;
            _resumeId = options.SessionId;
            _outbox = new Outbox(options.MaxQueuedMessages);
        }

        public SessionState State { get { return (SessionState)_state; } }
        /// <summary>The conversation's id (from the last session.ready); pass it as
        /// <see cref="AvatarSessionOptions.SessionId"/> to resume it later.</summary>
        public string SessionId { get; private set; }
        public SessionReady Ready { get; private set; }
        public int OutputSampleRate { get { var r = Ready; return r == null ? 0 : r.OutputSampleRate; } }
        /// <summary>Connections opened so far (1 + successful reconnects).</summary>
        public int Connections { get { return Volatile.Read(ref _connections); } }
        /// <summary>Audio frames and marks dropped because no connection was open.</summary>
        public int DroppedWhileDisconnected { get { return _outbox.Dropped; } }

        // ------------------------------------------------------------------ lifecycle
        /// <summary>Start connecting; completes with the first session.ready, or throws when the
        /// session ends before one (refused, unreachable and out of attempts).</summary>
        public Task<SessionReady> ConnectAsync()
        {
            if (_run == null)
            {
                _state = (int)SessionState.Connecting;
                _run = Task.Run(() => RunGuardedAsync());
            }
            return _firstReady.Task;
        }

        /// <summary>Close the connection (a normal close) and end the session.</summary>
        public async Task CloseAsync()
        {
            if (_closing && State == SessionState.Closed) return;
            _closing = true;
            var run = _run;
            if (run == null)
            {
                Finish("CLOSED", "closed by the application");
                return;
            }
            if (State == SessionState.Open)
            {
                // a close frame through the send queue (after what is queued), then the server's reply
                _outbox.AddClose();
                await Task.WhenAny(run, Task.Delay(2000)).ConfigureAwait(false);
            }
            _life.Cancel();
            _outbox.Wake();
            await Task.WhenAny(run, Task.Delay(2000)).ConfigureAwait(false);
        }

        public void Dispose()
        {
            if (!_closing) CloseAsync().Wait(3500);
        }

        // ------------------------------------------------------------------ events
        public bool TryDequeue(out SessionEvent e) { return _events.TryDequeue(out e); }

        /// <summary>Handle up to <paramref name="max"/> queued events on the calling thread.</summary>
        public int Drain(Action<SessionEvent> handler, int max = int.MaxValue)
        {
            int n = 0;
            SessionEvent e;
            while (n < max && _events.TryDequeue(out e))
            {
                handler(e);
                n++;
            }
            return n;
        }

        /// <summary>Wait until an event is queued (or the timeout); for threads that can block or
        /// await (the console, tests). Unity polls <see cref="Drain"/> each frame instead.</summary>
        public async Task<bool> WaitForEventAsync(TimeSpan timeout)
        {
            if (!_events.IsEmpty) return true;
            await _eventSignal.WaitAsync(timeout).ConfigureAwait(false);
            return !_events.IsEmpty;
        }

        private void Emit(SessionEvent e)
        {
            _events.Enqueue(e);
            _eventSignal.Release();
        }

        private void EmitError(string code, string message)
        {
            Emit(new SessionEvent { Kind = SessionEventKind.Error, ErrorCode = code, ErrorMessage = message });
        }

        // ------------------------------------------------------------------ sending
        /// <summary>Queue a client message (validated now: a bad one throws <see cref="ProtocolException"/>).
        /// Kept while reconnecting and sent once the next session is ready.</summary>
        public void Send(ClientMessage message)
        {
            string text = message.Encode();
            if (_closing) return;
            _outbox.Add(new Outbox.Item { Text = text, Droppable = message is PlaybackMark }, State == SessionState.Open,
                        message is SessionUpdate);
        }

        public void SendText(string text) { Send(new InputText { Text = text }); }

        public void Cancel(int? responseId = null) { Send(new ResponseCancel { ResponseId = responseId }); }

        /// <summary><c>playback.mark</c>: how much of a response the user has heard (send every ~250 ms
        /// while playing, and at the end).</summary>
        public void Mark(int responseId, double playedMs)
        {
            Send(new PlaybackMark { ResponseId = responseId, PlayedMs = Math.Round(playedMs, 1) });
        }

        public void UpdateSession(SessionUpdate update) { Send(update); }

        public void CommitAudio() { Send(new InputAudioCommit()); }

        public void ClearAudio() { Send(new InputAudioClear()); }

        /// <summary>A microphone frame: raw PCM16LE mono at the session's input rate, 10-100 ms.
        /// Dropped (and counted) while no connection is open.</summary>
        public void SendAudio(byte[] pcm16le)
        {
            if (pcm16le == null || pcm16le.Length == 0 || pcm16le.Length % 2 != 0)
                throw new ArgumentException("a microphone frame is a non-empty, even number of PCM16LE bytes");
            if (_closing) return;
            _outbox.Add(new Outbox.Item { Binary = pcm16le, Droppable = true }, State == SessionState.Open);
        }
    }
}
