using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AvatarRealtime.Core.Net;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>
    /// The session client against a scripted stand-in server, for what the real server never does
    /// on purpose: bad frames, refusals, a close at a chosen moment. (LiveSessionTests use the real
    /// server.)
    /// </summary>
    [TestFixture]
    public class SessionTests
    {
        private static AvatarSession Session(Uri url, Action<AvatarSessionOptions> configure = null)
        {
            var o = new AvatarSessionOptions
            {
                Url = url,
                Backoff = new Backoff(1) { MinDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200) },
            };
            if (configure != null) configure(o);
            return new AvatarSession(o);
        }

        [Test]
        public async Task Bad_frames_from_the_server_are_reported_and_the_session_goes_on()
        {
            using (var server = new StandInServer(async c =>
            {
                await c.SendText(StandInServer.ReadyText("s1"));
                await c.SendText("this is not json");
                await c.SendText("{\"type\":\"response.dance\"}");
                await c.SendText("{\"type\":\"response.sentence\",\"response_id\":1,\"index\":0}");
                await c.SendBinary(new byte[] { 1, 1, 0 });
                await c.SendBinary(new byte[] { 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 });
                await c.SendBinary(new byte[] { 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 });
                await c.SendText(new string('x', 300000)); // over MaxMessageBytes below
                // good frames after all that, the text one in three fragments
                await c.SendFrame(1, Encoding.UTF8.GetBytes("{\"type\":\"response.sentence\",\"response_id\":1,\"index\":0,\"text\":\"still here\"}"), 3);
                await c.SendBinary(new AudioFrame(1, 0, 0, new short[] { 1, -2, 3 }).Encode());
                await c.ReceiveText();
            }))
            using (var s = Session(server.Url, o => o.MaxMessageBytes = 200000))
            {
                var log = new EventLog(s);
                await s.ConnectAsync();
                var sentence = await log.WaitForMessage("response.sentence", 10);
                Assert.AreEqual("still here", ((SentenceMsg)sentence.Message).Text);
                var audio = await log.WaitFor(e => e.Kind == SessionEventKind.Audio, 10, "audio");
                CollectionAssert.AreEqual(new short[] { 1, -2, 3 }, audio.Audio.Samples);
                var errors = log.Of(SessionEventKind.Error).ToList();
                var text = string.Join("\n", errors.Select(e => e.ErrorCode + ": " + e.ErrorMessage).ToArray());
                Assert.AreEqual(7, errors.Count, text);
                Assert.AreEqual(6, errors.Count(e => e.ErrorCode == "BAD_FRAME"), text);
                StringAssert.Contains("invalid JSON at offset 0", text);
                StringAssert.Contains("unknown message type 'response.dance'", text);
                StringAssert.Contains("missing required field 'text'", text);
                StringAssert.Contains("shorter than the 16-byte audio header", text);
                StringAssert.Contains("unknown kind 9", text);
                StringAssert.Contains("odd length 1", text);
                StringAssert.Contains("MESSAGE_TOO_LARGE", text);
                Assert.AreEqual(SessionState.Open, s.State);
                Assert.AreEqual(0, log.Of(SessionEventKind.Reconnecting).Count());
            }
        }

        [Test]
        public async Task A_text_frame_that_is_not_utf8_fails_the_connection_and_the_client_reconnects()
        {
            int n = 0;
            using (var server = new StandInServer(async c =>
            {
                int k = Interlocked.Increment(ref n);
                await c.SendText(StandInServer.ReadyText("s" + k));
                if (k == 1) await c.SendFrame(1, new byte[] { 0xff, 0xfe, 0x7b }); // RFC 6455 8.1: fail the connection
                await c.ReceiveText();
            }))
            using (var s = Session(server.Url))
            {
                var log = new EventLog(s);
                await s.ConnectAsync();
                var lost = await log.WaitFor(e => e.Kind == SessionEventKind.Error, 10, "an error");
                Assert.AreEqual("CONNECTION_LOST", lost.ErrorCode);
                await log.WaitFor(e => e.Kind == SessionEventKind.Reconnecting, 10, "reconnecting");
                var ready = await log.WaitForMessage("session.ready", 10);
                Assert.AreEqual("s2", ((SessionReady)ready.Message).SessionId);
                Assert.AreEqual(SessionState.Open, s.State);
            }
        }

        [Test]
        public async Task The_token_goes_as_a_bearer_header_or_in_the_query()
        {
            var targets = new ConcurrentQueue<StandInServer.Connection>();
            using (var server = new StandInServer(async c => { targets.Enqueue(c); await c.SendText(StandInServer.ReadyText("s1")); await c.ReceiveText(); }))
            {
                using (var s = Session(server.Url, o => o.Token = "tok en/1"))
                {
                    await s.ConnectAsync();
                    StandInServer.Connection c;
                    Assert.IsTrue(targets.TryDequeue(out c));
                    Assert.AreEqual("Bearer tok en/1", c.Headers["Authorization"]);
                    Assert.AreEqual("/ws", c.Target);
                }
                using (var s = Session(new Uri(server.Url + "?x=1"), o => { o.Token = "tok en/1"; o.TokenInQuery = true; o.SessionId = "abc"; }))
                {
                    await s.ConnectAsync();
                    StandInServer.Connection c;
                    Assert.IsTrue(targets.TryDequeue(out c));
                    Assert.IsFalse(c.Headers.ContainsKey("Authorization"));
                    Assert.AreEqual("/ws?x=1&token=tok%20en%2F1&session_id=abc", c.Target);
                }
            }
        }

        [Test]
        public async Task An_unauthorized_refusal_ends_the_session_without_retrying()
        {
            using (var server = new StandInServer(async c =>
            {
                await c.SendText("{\"type\":\"error\",\"code\":\"UNAUTHORIZED\",\"message\":\"invalid session token\",\"response_id\":null,\"retry_after\":null}");
                await c.SendClose(1008, "UNAUTHORIZED");
                await c.ReceiveText();
            }))
            using (var s = Session(server.Url))
            {
                var log = new EventLog(s);
                var ex = Assert.Throws<AggregateException>(() => s.ConnectAsync().Wait(10000));
                StringAssert.Contains("UNAUTHORIZED", ex.InnerException.Message);
                var closed = await log.WaitFor(e => e.Kind == SessionEventKind.Closed, 5, "closed");
                Assert.AreEqual("UNAUTHORIZED", closed.ErrorCode);
                StringAssert.Contains("invalid session token", closed.ErrorMessage);
                Assert.AreEqual(SessionState.Closed, s.State);
                await Task.Delay(300);
                Assert.AreEqual(1, server.Count, "no second attempt");
                Assert.AreEqual(0, log.Of(SessionEventKind.Reconnecting).Count());
            }
        }

        [Test]
        public async Task A_busy_server_is_retried_after_its_retry_after()
        {
            int n = 0;
            using (var server = new StandInServer(async c =>
            {
                if (Interlocked.Increment(ref n) == 1)
                {
                    await c.SendText("{\"type\":\"error\",\"code\":\"SERVICE_UNAVAILABLE\",\"message\":\"session limit\",\"response_id\":null,\"retry_after\":0.6}");
                    await c.SendClose(1013, "SERVICE_UNAVAILABLE");
                    await c.ReceiveText();
                    return;
                }
                await c.SendText(StandInServer.ReadyText("s2"));
                await c.ReceiveText();
            }))
            using (var s = Session(server.Url))
            {
                var log = new EventLog(s);
                var sw = Stopwatch.StartNew();
                var ready = await s.ConnectAsync();
                Assert.AreEqual("s2", ready.SessionId);
                Assert.GreaterOrEqual(sw.Elapsed.TotalSeconds, 0.55, "waited for retry_after, not the 50 ms back-off");
                var r = await log.WaitFor(e => e.Kind == SessionEventKind.Reconnecting, 1, "reconnecting");
                Assert.AreEqual(600, r.Delay.TotalMilliseconds, 1);
                Assert.IsFalse(r.Resume);
            }
        }

        [Test]
        public async Task A_server_that_is_gone_is_retried_with_growing_delays_then_given_up()
        {
            using (var server = new StandInServer(c => { c.Abort(); return Task.FromResult(0); }))
            using (var s = Session(server.Url, o => o.MaxReconnectAttempts = 4))
            {
                var log = new EventLog(s);
                var connecting = s.ConnectAsync();
                var closed = await log.WaitFor(e => e.Kind == SessionEventKind.Closed, 20, "closed");
                Assert.AreEqual("DISCONNECTED", closed.ErrorCode);
                var delays = log.Of(SessionEventKind.Reconnecting).Select(e => e.Delay.TotalMilliseconds).ToList();
                Assert.AreEqual(4, delays.Count);
                Assert.AreEqual(5, server.Count);
                CollectionAssert.AreEqual(new[] { 1, 2, 3, 4 }, log.Of(SessionEventKind.Reconnecting).Select(e => e.Attempt).ToArray());
                // 50, 100, 200, 200 ms caps, each drawn from its upper half
                Assert.That(delays[0], Is.InRange(25, 50));
                Assert.That(delays[1], Is.InRange(50, 100));
                Assert.That(delays[2], Is.InRange(100, 200));
                Assert.That(delays[3], Is.InRange(100, 200));
                Assert.IsTrue(connecting.IsFaulted, "ConnectAsync fails when no session.ready ever came");
            }
        }

        [Test]
        public void Backoff_doubles_up_to_its_cap_with_equal_jitter()
        {
            var b = new Backoff(3) { MinDelay = TimeSpan.FromSeconds(0.5), MaxDelay = TimeSpan.FromSeconds(10) };
            var caps = new[] { 500, 1000, 2000, 4000, 8000, 10000, 10000 };
            for (int a = 1; a <= caps.Length; a++)
            {
                for (int k = 0; k < 20; k++)
                    Assert.That(b.Delay(a).TotalMilliseconds, Is.InRange(caps[a - 1] / 2.0, caps[a - 1]));
            }
        }

        [Test]
        public async Task Messages_keep_their_order_and_control_messages_wait_out_a_reconnect()
        {
            var received = new ConcurrentQueue<string>();
            int n = 0;
            var second = new TaskCompletionSource<bool>();
            using (var server = new StandInServer(async c =>
            {
                int k = Interlocked.Increment(ref n);
                await c.SendText(StandInServer.ReadyText("s" + k));
                while (true)
                {
                    var f = await c.Receive();
                    if (f.Key < 0 || f.Key == 8) return;
                    received.Enqueue(k + ":" + (f.Key == 1 ? Encoding.UTF8.GetString(f.Value) : "bin" + f.Value.Length));
                    if (k == 1 && received.Count == 4) { c.Abort(); return; } // drop after four messages
                    if (k == 2 && received.Count == 7) second.TrySetResult(true);
                }
            }))
            using (var s = Session(server.Url))
            {
                var log = new EventLog(s);
                await s.ConnectAsync();
                s.UpdateSession(new SessionUpdate { Language = "en" });
                s.SendAudio(new byte[640]);
                s.SendText("one");
                s.SendAudio(new byte[320]);
                await log.WaitFor(e => e.Kind == SessionEventKind.Reconnecting, 10, "reconnecting");
                s.SendText("two");           // kept until the next session is ready
                s.SendAudio(new byte[640]);  // dropped: stale microphone audio
                s.Mark(1, 10);               // dropped: a mark for the old connection's response
                await log.WaitForMessage("session.ready", 10);
                s.SendText("three");
                Assert.IsTrue(await Task.WhenAny(second.Task, Task.Delay(10000)) == second.Task, string.Join(" | ", received.ToArray()));
                CollectionAssert.AreEqual(new[]
                {
                    "1:{\"language\":\"en\",\"type\":\"session.update\"}", "1:bin640", "1:{\"text\":\"one\",\"type\":\"input.text\"}", "1:bin320",
                    "2:{\"language\":\"en\",\"type\":\"session.update\"}", "2:{\"text\":\"two\",\"type\":\"input.text\"}",
                    "2:{\"text\":\"three\",\"type\":\"input.text\"}",
                }, received.ToArray());
                Assert.AreEqual(2, s.DroppedWhileDisconnected);
                Assert.AreEqual(2, s.Connections);
                Assert.AreEqual("s2", s.SessionId);
            }
        }

        [Test]
        public void Invalid_messages_are_refused_before_they_are_queued()
        {
            using (var s = Session(new Uri("ws://127.0.0.1:9/ws")))
            {
                Assert.Throws<ProtocolException>(() => s.SendText(""));
                Assert.Throws<ProtocolException>(() => s.Mark(0, 1));
                Assert.Throws<ArgumentException>(() => s.SendAudio(new byte[3]));
                Assert.Throws<ArgumentException>(() => new AvatarSession(new AvatarSessionOptions { Url = new Uri("http://x/ws") }));
            }
        }

        [Test]
        public async Task Close_ends_the_session_with_a_normal_close()
        {
            var closes = new ConcurrentQueue<int>();
            using (var server = new StandInServer(async c =>
            {
                await c.SendText(StandInServer.ReadyText("s1"));
                while (true)
                {
                    var f = await c.Receive();
                    if (f.Key == 8) { closes.Enqueue((f.Value[0] << 8) | f.Value[1]); await c.SendClose(1000, ""); return; }
                    if (f.Key < 0) return;
                }
            }))
            {
                var s = Session(server.Url);
                var log = new EventLog(s);
                await s.ConnectAsync();
                await s.CloseAsync();
                var closed = await log.WaitFor(e => e.Kind == SessionEventKind.Closed, 5, "closed");
                Assert.AreEqual("CLOSED", closed.ErrorCode);
                Assert.AreEqual(SessionState.Closed, s.State);
                int code;
                Assert.IsTrue(closes.TryDequeue(out code), "the server saw a close frame");
                Assert.AreEqual(1000, code);
                s.SendText("after close is a no-op");
                Assert.AreEqual(0, log.Of(SessionEventKind.Reconnecting).Count());
            }
        }
    }
}
