using System;

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
}
