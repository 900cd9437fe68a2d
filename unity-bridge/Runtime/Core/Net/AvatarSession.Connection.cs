using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Net
{
    /// <summary>The connection side of <see cref="AvatarSession"/>: connect, send and receive
    /// loops, reconnection with back-off and resume.</summary>
    public sealed partial class AvatarSession
    {
        private async Task SendLoopAsync(ClientWebSocket ws, int epoch, CancellationToken token)
        {
            while (!token.IsCancellationRequested)
            {
                await _outbox.WaitAsync(token).ConfigureAwait(false);
                Outbox.Item o;
                while ((o = _outbox.Take(epoch)) != null)
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
                        _outbox.PutBack(o); // a control message goes to the next connection
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
            // ConnectAsync fails before the Closed event can be seen
            _firstReady.TrySetException(new IOException("session ended before session.ready: " + code + ": " + message));
            Emit(new SessionEvent { Kind = SessionEventKind.Closed, ErrorCode = code, ErrorMessage = message });
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
                int epoch = _outbox.NextEpoch();
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
            if (_options.ReplaySessionUpdates && Volatile.Read(ref _connections) > 1) _outbox.ReplaySessionUpdates(epoch);
            _state = (int)SessionState.Open;
            _outbox.Wake();
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
