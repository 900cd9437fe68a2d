using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Net
{
    public sealed class AvatarSessionOptions
    {
        /// <summary>The server's WebSocket, e.g. <c>ws://127.0.0.1:8000/ws</c>.</summary>
        public Uri Url;
        /// <summary>A session token (servers with <c>AVATAR_AUTH_MODE=token</c>).</summary>
        public string Token;
        /// <summary>Send the token as <c>?token=</c> instead of an <c>Authorization</c> header.</summary>
        public bool TokenInQuery;
        /// <summary>Resume this conversation (<c>?session_id=</c>) on the first connect.</summary>
        public string SessionId;
        public bool Reconnect = true;
        /// <summary>Retries after a lost connection before giving up (0: no limit).</summary>
        public int MaxReconnectAttempts = 10;
        public Backoff Backoff = new Backoff();
        public TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
        /// <summary>After the socket opens, how long to wait for <c>session.ready</c>.</summary>
        public TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);
        /// <summary>A server message larger than this is dropped (reported as MESSAGE_TOO_LARGE).</summary>
        public int MaxMessageBytes = 4 << 20;
        /// <summary>After a reconnect, send again the session.update messages sent so far.</summary>
        public bool ReplaySessionUpdates = true;
        /// <summary>JSON messages kept while disconnected (older ones are dropped).</summary>
        public int MaxQueuedMessages = 64;
    }

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
    public sealed class AvatarSession : IDisposable
    {
        private sealed class Outgoing
        {
            public string Text;
            public byte[] Binary;
            public bool Droppable; // audio and marks: dropped rather than sent late on a new connection
            public bool Close;
            public int Epoch;
        }

        private readonly AvatarSessionOptions _options;
        private readonly ConcurrentQueue<SessionEvent> _events = new ConcurrentQueue<SessionEvent>();
        private readonly SemaphoreSlim _eventSignal = new SemaphoreSlim(0);
        private readonly object _sendLock = new object();
        private LinkedList<Outgoing> _outbox = new LinkedList<Outgoing>();
        private readonly SemaphoreSlim _sendSignal = new SemaphoreSlim(0);
        private readonly List<string> _sessionUpdates = new List<string>();
        private readonly CancellationTokenSource _life = new CancellationTokenSource();
        private readonly TaskCompletionSource<SessionReady> _firstReady =
            new TaskCompletionSource<SessionReady>(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _run;
        private volatile int _state = (int)SessionState.Idle;
        private volatile bool _closing;
        private int _epoch;
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
        public int DroppedWhileDisconnected { get; private set; }

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
                lock (_sendLock) _outbox.AddLast(new Outgoing { Close = true, Epoch = _epoch });
                _sendSignal.Release();
                await Task.WhenAny(run, Task.Delay(2000)).ConfigureAwait(false);
            }
            _life.Cancel();
            _sendSignal.Release();
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
            if (message is SessionUpdate)
            {
                lock (_sendLock) _sessionUpdates.Add(text);
            }
            bool isMark = message is PlaybackMark;
            Enqueue(new Outgoing { Text = text, Droppable = isMark });
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
            Enqueue(new Outgoing { Binary = pcm16le, Droppable = true });
        }

        private void Enqueue(Outgoing o)
        {
            if (_closing) return;
            lock (_sendLock)
            {
                if (o.Droppable && State != SessionState.Open)
                {
                    DroppedWhileDisconnected++;
                    return;
                }
                o.Epoch = _epoch;
                _outbox.AddLast(o);
                // keep the backlog bounded while disconnected (drop the oldest)
                while (_outbox.Count > _options.MaxQueuedMessages && State != SessionState.Open) _outbox.RemoveFirst();
            }
            _sendSignal.Release();
        }

        private Outgoing TakeNext(int epoch)
        {
            lock (_sendLock)
            {
                while (_outbox.Count > 0)
                {
                    var o = _outbox.First.Value;
                    _outbox.RemoveFirst();
                    if (o.Droppable && o.Epoch != epoch) { DroppedWhileDisconnected++; continue; }
                    return o;
                }
                return null;
            }
        }

        private async Task SendLoopAsync(ClientWebSocket ws, int epoch, CancellationToken token)
        {
            while (!token.IsCancellationRequested)
            {
                await _sendSignal.WaitAsync(token).ConfigureAwait(false);
                Outgoing o;
                while ((o = TakeNext(epoch)) != null)
                {
                    try
                    {
                        if (o.Close)
                            await Bounded(ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", token)).ConfigureAwait(false);
                        else if (o.Text != null)
                            await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(o.Text)), WebSocketMessageType.Text, true, token).ConfigureAwait(false);
                        else
                            await ws.SendAsync(new ArraySegment<byte>(o.Binary), WebSocketMessageType.Binary, true, token).ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        // not sent: put a control message back for the next connection
                        if (!o.Droppable) lock (_sendLock) _outbox.AddFirst(o);
                        throw;
                    }
                }
            }
        }

        // ------------------------------------------------------------------ connection loop
        private sealed class Outcome
        {
            public bool GotReady;
            public readonly TaskCompletionSource<bool> ReadySignal = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            public ErrorMsg Refusal; // an error before session.ready
            public WebSocketCloseStatus? CloseStatus;
            public string Reason;
        }

        private Uri BuildUri(string resume)
        {
            var b = new UriBuilder(_options.Url);
            var q = new StringBuilder(b.Query.TrimStart('?'));
            if (!string.IsNullOrEmpty(_options.Token) && _options.TokenInQuery)
                q.Append(q.Length > 0 ? "&" : "").Append("token=").Append(Uri.EscapeDataString(_options.Token));
            if (!string.IsNullOrEmpty(resume))
                q.Append(q.Length > 0 ? "&" : "").Append("session_id=").Append(Uri.EscapeDataString(resume));
            b.Query = q.ToString();
            return b.Uri;
        }

        private async Task RunGuardedAsync()
        {
            try { await RunAsync().ConfigureAwait(false); }
            catch (Exception e)
            {
                Finish("INTERNAL_ERROR", "the session loop failed: " + Describe(e) + "\n" + e.StackTrace);
            }
        }

        private async Task RunAsync()
        {
            int attempt = 0;
            while (!_closing)
            {
                string resume = _resumeId;
                var outcome = await ConnectOnceAsync(resume).ConfigureAwait(false);
                if (_closing) break;
                if (outcome.GotReady) attempt = 0;

                var refusal = outcome.Refusal;
                TimeSpan? serverDelay = null;
                if (refusal != null)
                {
                    if (refusal.Code == "NOT_FOUND" && resume != null && !outcome.GotReady)
                    {
                        // the conversation to resume is not stored (no turn finished in it): start a new one
                        _resumeId = null;
                        EmitError("RESUME_FAILED", "cannot resume session " + resume + " (" + refusal.Message + "); starting a new one");
                        continue;
                    }
                    if (refusal.Code == "SERVICE_UNAVAILABLE" || refusal.Code == "RATE_LIMITED")
                    {
                        if (refusal.RetryAfter.HasValue) serverDelay = TimeSpan.FromSeconds(refusal.RetryAfter.Value);
                    }
                    else if (!outcome.GotReady)
                    {
                        Finish(refusal.Code, "the server refused the session: " + refusal.Message);
                        return;
                    }
                }
                else if (outcome.CloseStatus == WebSocketCloseStatus.PolicyViolation)
                {
                    Finish("CLOSED", "the server closed the session (policy): " + outcome.Reason);
                    return;
                }
                attempt++;
                if (!_options.Reconnect || (_options.MaxReconnectAttempts > 0 && attempt > _options.MaxReconnectAttempts))
                {
                    Finish("DISCONNECTED", outcome.Reason ?? "connection closed");
                    return;
                }
                var delay = _options.Backoff.Delay(attempt);
                if (serverDelay.HasValue && serverDelay.Value > delay) delay = serverDelay.Value;
                if (_turnCompleted && SessionId != null) _resumeId = SessionId;
                _state = (int)SessionState.Reconnecting;
                Emit(new SessionEvent
                {
                    Kind = SessionEventKind.Reconnecting, Attempt = attempt, Delay = delay, Resume = _resumeId != null,
                    ErrorMessage = outcome.Reason,
                });
                try { await Task.Delay(delay, _life.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
            Finish("CLOSED", "closed by the application");
        }

        private void Finish(string code, string message)
        {
            if (State == SessionState.Closed) return;
            _state = (int)SessionState.Closed;
            _closing = true;
            Emit(new SessionEvent { Kind = SessionEventKind.Closed, ErrorCode = code, ErrorMessage = message });
            _firstReady.TrySetException(new IOException("session ended before session.ready: " + code + ": " + message));
        }

        private async Task<Outcome> ConnectOnceAsync(string resume)
        {
            var outcome = new Outcome();
            var ws = new ClientWebSocket();
            if (!string.IsNullOrEmpty(_options.Token) && !_options.TokenInQuery)
                ws.Options.SetRequestHeader("Authorization", "Bearer " + _options.Token);
            var conn = CancellationTokenSource.CreateLinkedTokenSource(_life.Token);
            Task sender = null;
            try
            {
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_life.Token))
                {
                    timeout.CancelAfter(_options.ConnectTimeout);
                    try
                    {
                        await ws.ConnectAsync(BuildUri(resume), timeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        if (_closing) return outcome;
                        outcome.Reason = "cannot connect to " + _options.Url + ": " + Describe(e);
                        EmitError("CONNECT_FAILED", outcome.Reason);
                        return outcome;
                    }
                }
                int epoch;
                lock (_sendLock) epoch = ++_epoch;
                var readyTimer = Task.Delay(_options.ReadyTimeout, conn.Token);
                var receiver = ReceiveLoopAsync(ws, outcome, conn, () => sender = StartSender(ws, epoch, conn.Token));
                var first = await Task.WhenAny(receiver, outcome.ReadySignal.Task, readyTimer).ConfigureAwait(false);
                if (first == readyTimer && !outcome.GotReady && !_closing)
                {
                    outcome.Reason = "no session.ready within " + _options.ReadyTimeout.TotalSeconds + " s";
                    EmitError("READY_TIMEOUT", outcome.Reason);
                    conn.Cancel();
                }
                await receiver.ConfigureAwait(false);
            }
            finally
            {
                if (_state == (int)SessionState.Open) _state = (int)SessionState.Reconnecting;
                conn.Cancel();
                if (sender != null)
                {
                    try { await sender.ConfigureAwait(false); } catch (Exception) { /* reported by the receiver */ }
                }
                ws.Dispose();
                conn.Dispose();
            }
            return outcome;
        }

        private Task StartSender(ClientWebSocket ws, int epoch, CancellationToken token)
        {
            var replay = new List<string>();
            lock (_sendLock)
            {
                if (_options.ReplaySessionUpdates && Volatile.Read(ref _connections) > 1)
                {
                    replay.AddRange(_sessionUpdates);
                    // the copies already queued for this connection would be sent twice
                    var keep = new LinkedList<Outgoing>();
                    foreach (var o in _outbox) if (o.Text == null || !replay.Contains(o.Text)) keep.AddLast(o);
                    _outbox = keep;
                    for (int i = replay.Count - 1; i >= 0; i--) _outbox.AddFirst(new Outgoing { Text = replay[i], Epoch = epoch });
                }
                _state = (int)SessionState.Open;
            }
            _sendSignal.Release();
            return Task.Run(() => SendLoopAsync(ws, epoch, token));
        }

        private async Task ReceiveLoopAsync(ClientWebSocket ws, Outcome outcome, CancellationTokenSource conn, Func<Task> onReady)
        {
            var buffer = new byte[16 * 1024];
            var message = new MemoryStream();
            try
            {
                while (ws.State == WebSocketState.Open || ws.State == WebSocketState.CloseSent)
                {
                    message.SetLength(0);
                    WebSocketReceiveResult r;
                    bool tooLarge = false;
                    do
                    {
                        r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), conn.Token).ConfigureAwait(false);
                        if (r.MessageType == WebSocketMessageType.Close) break;
                        if (message.Length + r.Count > _options.MaxMessageBytes) tooLarge = true;
                        if (!tooLarge) message.Write(buffer, 0, r.Count);
                    } while (!r.EndOfMessage);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        outcome.CloseStatus = r.CloseStatus;
                        outcome.Reason = "server closed the connection (" + (int?)r.CloseStatus + " " + r.CloseStatusDescription + ")";
                        if (ws.State == WebSocketState.CloseReceived)
                            await Bounded(ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None)).ConfigureAwait(false);
                        break;
                    }
                    if (tooLarge)
                    {
                        EmitError("MESSAGE_TOO_LARGE", "dropped a server message over " + _options.MaxMessageBytes + " bytes");
                        continue;
                    }
                    if (r.MessageType == WebSocketMessageType.Binary) OnBinary(message.GetBuffer(), (int)message.Length);
                    else OnText(message.GetBuffer(), (int)message.Length, outcome, onReady);
                }
            }
            catch (OperationCanceledException)
            {
                if (outcome.Reason == null) outcome.Reason = _closing ? "closed" : "connection cancelled";
            }
            catch (Exception e)
            {
                if (!_closing)
                {
                    outcome.Reason = "connection lost: " + Describe(e);
                    EmitError("CONNECTION_LOST", outcome.Reason);
                }
            }
            if (outcome.Reason == null) outcome.Reason = "connection closed (" + ws.State + ")";
        }

        private void OnBinary(byte[] data, int count)
        {
            AudioFrame frame;
            try { frame = AudioFrame.Parse(data, count); }
            catch (ProtocolException e)
            {
                EmitError("BAD_FRAME", e.Message);
                return;
            }
            Emit(new SessionEvent { Kind = SessionEventKind.Audio, Audio = frame });
        }

        private void OnText(byte[] data, int count, Outcome outcome, Func<Task> onReady)
        {
            string text;
            try { text = new UTF8Encoding(false, true).GetString(data, 0, count); }
            catch (ArgumentException)
            {
                EmitError("BAD_FRAME", "server sent a text frame that is not UTF-8");
                return;
            }
            ServerMessage msg;
            try { msg = ServerMessage.Parse(text); }
            catch (ProtocolException e)
            {
                EmitError("BAD_FRAME", e.Message);
                return;
            }
            var ready = msg as SessionReady;
            if (ready != null)
            {
                Ready = ready;
                SessionId = ready.SessionId;
                Interlocked.Increment(ref _connections);
                outcome.GotReady = true;
                onReady();
                outcome.ReadySignal.TrySetResult(true);
            }
            var err = msg as ErrorMsg;
            if (err != null && !outcome.GotReady) outcome.Refusal = err;
            if (msg is ResponseDone) _turnCompleted = true;
            Emit(new SessionEvent { Kind = SessionEventKind.Message, Message = msg, Text = text });
            if (ready != null) _firstReady.TrySetResult(ready);
        }

        /// <summary>Await a close for at most a second: Mono's ClientWebSocket waits (10 s, ignoring
        /// the token) for a server that never closes its end; Dispose aborts it after that.</summary>
        private static async Task Bounded(Task close)
        {
            var first = await Task.WhenAny(close, Task.Delay(1000)).ConfigureAwait(false);
            if (first == close && close.Exception == null) return;
            GC.KeepAlive(close.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted)); // observed: no unobserved-exception noise
        }

        private static string Describe(Exception e)
        {
            var inner = e;
            while (inner.InnerException != null) inner = inner.InnerException;
            return inner == e ? e.Message : e.Message + " (" + inner.Message + ")";
        }
    }
}
