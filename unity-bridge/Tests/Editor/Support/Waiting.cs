using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using AvatarRealtime.Core.Net;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>Drains a session's queue (as a Unity Update would) until an event matches.</summary>
    public sealed class EventLog
    {
        public readonly AvatarSession Session;
        public readonly List<SessionEvent> Seen = new List<SessionEvent>();

        public EventLog(AvatarSession session) { Session = session; }

        public async Task<SessionEvent> WaitFor(Func<SessionEvent, bool> match, double timeoutS, string what)
        {
            var sw = Stopwatch.StartNew();
            int from = Seen.Count;
            while (true)
            {
                SessionEvent e;
                while (Session.TryDequeue(out e))
                {
                    Seen.Add(e);
                    if (match(e)) return e;
                }
                double left = timeoutS - sw.Elapsed.TotalSeconds;
                if (left <= 0)
                {
                    var recent = string.Join("; ", Seen.Skip(from).Select(x => x.ToString()).Take(30).ToArray());
                    Assert.Fail("timed out after " + timeoutS + " s waiting for " + what + "; saw: " + recent);
                }
                await Session.WaitForEventAsync(TimeSpan.FromSeconds(Math.Min(left, 0.5))).ConfigureAwait(false);
            }
        }

        public Task<SessionEvent> WaitForMessage(string type, double timeoutS)
        {
            return WaitFor(e => e.Kind == SessionEventKind.Message && e.Message.Type == type, timeoutS, type);
        }

        public IEnumerable<SessionEvent> Of(SessionEventKind kind) { return Seen.Where(e => e.Kind == kind); }
    }
}
