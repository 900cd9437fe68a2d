using System;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Net
{
    public enum SessionEventKind
    {
        /// <summary>A JSON message from the server (<see cref="SessionEvent.Message"/>, <see cref="SessionEvent.Text"/>).</summary>
        Message,
        /// <summary>A binary audio frame (<see cref="SessionEvent.Audio"/>).</summary>
        Audio,
        /// <summary>A problem on this side: a frame that does not follow the protocol, a failed connect
        /// or send, a lost connection (<see cref="SessionEvent.ErrorCode"/>). The session goes on.</summary>
        Error,
        /// <summary>The connection was lost; the next attempt starts after <see cref="SessionEvent.Delay"/>.
        /// Flush playback: the response that was playing will not continue.</summary>
        Reconnecting,
        /// <summary>The session is over (closed by the application, refused by the server, or out of
        /// reconnect attempts). No more events follow.</summary>
        Closed,
    }

    /// <summary>One thing that happened on the session, delivered through the session's queue to
    /// whoever drains it (Unity: the main thread, in <c>Update</c>), never from the socket thread.</summary>
    public sealed class SessionEvent
    {
        public SessionEventKind Kind;
        public ServerMessage Message;
        /// <summary>The JSON text the server sent (for logs; <see cref="Message"/> is its decoding).</summary>
        public string Text;
        public AudioFrame Audio;
        /// <summary>For <see cref="SessionEventKind.Error"/>: BAD_FRAME, MESSAGE_TOO_LARGE, CONNECT_FAILED,
        /// CONNECTION_LOST, SEND_FAILED, READY_TIMEOUT; for <see cref="SessionEventKind.Closed"/>: why.</summary>
        public string ErrorCode;
        public string ErrorMessage;
        /// <summary>For <see cref="SessionEventKind.Reconnecting"/>: 1 for the first retry.</summary>
        public int Attempt;
        public TimeSpan Delay;
        /// <summary>For <see cref="SessionEventKind.Reconnecting"/>: the next attempt resumes this
        /// conversation (<c>?session_id=</c>) rather than starting a new one.</summary>
        public bool Resume;

        public override string ToString()
        {
            switch (Kind)
            {
                case SessionEventKind.Message: return "message " + Message.Type;
                case SessionEventKind.Audio: return "audio response " + Audio.ResponseId + " chunk " + Audio.ChunkIndex;
                case SessionEventKind.Reconnecting: return "reconnecting (attempt " + Attempt + ", in " + Delay.TotalMilliseconds + " ms)";
                default: return Kind.ToString().ToLowerInvariant() + " " + ErrorCode + ": " + ErrorMessage;
            }
        }
    }

    /// <summary>
    /// Reconnect delays: exponential from <see cref="MinDelay"/> (doubling) up to
    /// <see cref="MaxDelay"/>, each drawn uniformly from its upper half ("equal jitter"), so many
    /// clients that lost the same server do not come back in lock-step.
    /// </summary>
    public sealed class Backoff
    {
        public TimeSpan MinDelay = TimeSpan.FromMilliseconds(500);
        public TimeSpan MaxDelay = TimeSpan.FromSeconds(10);
        private readonly Random _random;

        public Backoff(int? seed = null)
        {
            _random = seed.HasValue ? new Random(seed.Value) : new Random();
        }

        /// <summary>Delay before retry number <paramref name="attempt"/> (1, 2, ...).</summary>
        public TimeSpan Delay(int attempt)
        {
            double cap = MinDelay.TotalMilliseconds * Math.Pow(2, Math.Max(0, Math.Min(attempt - 1, 30)));
            cap = Math.Min(cap, MaxDelay.TotalMilliseconds);
            double ms;
            lock (_random) ms = cap / 2 + _random.NextDouble() * cap / 2;
            return TimeSpan.FromMilliseconds(ms);
        }
    }
}
