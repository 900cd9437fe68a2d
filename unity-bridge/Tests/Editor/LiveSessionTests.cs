using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using AvatarRealtime.Core;
using AvatarRealtime.Core.Net;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>
    /// The session client against the real server (tests/test_unity_bridge.py starts it with its
    /// embedded engines and sets AVATAR_TEST_WS_URL; AVATAR_TEST_TOKEN_WS_URL and AVATAR_TEST_TOKEN
    /// point at a second instance in token mode). Without them these tests are ignored, which the
    /// pytest run counts as a failure.
    /// </summary>
    [TestFixture]
    public class LiveSessionTests
    {
        private const double TurnS = 90; // a turn on the embedded engines of a loaded 2-core machine

        private static Uri Env(string name)
        {
            var v = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(v)) Assert.Ignore(name + " is not set: no server to test against");
            return new Uri(v);
        }

        private static AvatarSession Session(Uri url, Action<AvatarSessionOptions> configure = null)
        {
            var o = new AvatarSessionOptions
            {
                Url = url,
                Backoff = new Backoff(5) { MinDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(400) },
            };
            if (configure != null) configure(o);
            return new AvatarSession(o);
        }

        /// <summary>Short, text-only turns where audio is not the point.</summary>
        private static SessionUpdate Quick() { return new SessionUpdate { TtsEnabled = false, MaxTokens = 8 }; }

        [Test]
        public async Task A_typed_turn_brings_audio_visemes_and_animation_on_one_timeline()
        {
            using (var s = Session(Env("AVATAR_TEST_WS_URL")))
            {
                var log = new EventLog(s);
                var ready = await s.ConnectAsync();
                Assert.AreEqual(ProtocolInfo.Version, ready.ProtocolVersion);
                Assert.Greater(ready.OutputSampleRate, 0);
                s.SendText("Say hello in one short sentence.");
                var done = (ResponseDone)(await log.WaitFor(e => e.Kind == SessionEventKind.Message && e.Message is ResponseDone, TurnS, "response.done")).Message;
                Assert.AreEqual("completed", done.Status, done.ToString());
                Assert.IsEmpty(log.Of(SessionEventKind.Error).ToList(), "no frame from the real server is refused");
                var msgs = log.Seen.Where(e => e.Kind == SessionEventKind.Message).Select(e => e.Message).ToList();
                var rid = msgs.OfType<ResponseStarted>().Single().ResponseId;
                Assert.AreEqual(rid, done.ResponseId);
                var frames = log.Of(SessionEventKind.Audio).Select(e => e.Audio).ToList();
                Assert.IsNotEmpty(frames);
                int expected = 0;
                for (int i = 0; i < frames.Count; i++)
                {
                    Assert.AreEqual(rid, frames[i].ResponseId);
                    Assert.AreEqual(i, frames[i].ChunkIndex);
                    Assert.AreEqual(expected, frames[i].SampleOffset, "frames are contiguous on the response timeline");
                    Assert.LessOrEqual(frames[i].Samples.Length, ready.OutputSampleRate / 5, "at most 200 ms per frame");
                    expected += frames[i].Samples.Length;
                }
                var audioDone = msgs.OfType<AudioDone>().Single();
                Assert.AreEqual(expected, audioDone.TotalSamples);
                Assert.AreEqual(expected * 1000.0 / ready.OutputSampleRate, audioDone.DurationMs, 0.1);
                var anims = msgs.OfType<Animation>().ToList();
                Assert.AreEqual(0, anims.Single(a => a.Action == "talk_start").TMs);
                Assert.AreEqual(audioDone.DurationMs, anims.Single(a => a.Action == "talk_end").TMs, 0.1);
                var visemes = msgs.OfType<VisemesMsg>().SelectMany(v => v.Visemes).ToList();
                Assert.IsNotEmpty(visemes);
                Assert.IsTrue(visemes.All(v => v.TMs >= 0 && v.TMs + v.DurationMs <= audioDone.DurationMs + 1), "visemes lie inside the audio");
                // every sentence with words has its visemes (Piper may speak one sentence in two
                // takes, each with its own visemes; a sentence of only symbols has none)
                var withVisemes = new HashSet<int>(msgs.OfType<VisemesMsg>().Select(v => v.SentenceIndex));
                var spoken = msgs.OfType<SentenceMsg>().Where(m => m.Text.Any(char.IsLetter)).ToList();
                Assert.IsNotEmpty(spoken);
                foreach (var sentence in spoken)
                    Assert.IsTrue(withVisemes.Contains(sentence.Index), "visemes for sentence " + sentence.Index + ": " + sentence.Text);
            }
        }

        [Test]
        public async Task Cancel_stops_the_response_and_its_audio_at_once()
        {
            using (var s = Session(Env("AVATAR_TEST_WS_URL")))
            {
                var conv = new Conversation(s);
                var seen = new List<SessionEvent>();
                conv.EventHandled += seen.Add;
                await s.ConnectAsync();
                s.SendText("Tell me a long story about a lighthouse keeper and the sea.");
                await Until(conv, seen, () => seen.Any(e => e.Kind == SessionEventKind.Audio), "the first audio");
                Assert.IsTrue(conv.Playback.ResponseId.HasValue);
                conv.Interrupt();
                Assert.IsNull(conv.Playback.ResponseId, "playback stops at once");
                await Until(conv, seen, () => seen.Any(e => e.Kind == SessionEventKind.Message && e.Message is ResponseDone), "response.done");
                var done = seen.Select(e => e.Message).OfType<ResponseDone>().Single();
                Assert.AreEqual("interrupted", done.Status);
                var cut = seen.Select(e => e.Message).OfType<ResponseInterrupted>().Single();
                Assert.AreEqual("cancel", cut.Reason);
                Assert.IsNull(conv.Playback.ResponseId, "audio that was still in flight is not played");
                Assert.AreEqual(0, seen.Count(e => e.Kind == SessionEventKind.Error));
            }
        }

        private static async Task Until(Conversation conv, List<SessionEvent> seen, Func<bool> done, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(TurnS);
            while (!done())
            {
                if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting for " + what + "; saw " + string.Join("; ", seen.Select(e => e.ToString()).Take(40).ToArray()));
                await conv.Session.WaitForEventAsync(TimeSpan.FromMilliseconds(200));
                conv.Pump();
            }
        }

        [Test]
        public async Task A_dropped_connection_is_resumed_with_the_conversation_and_settings()
        {
            var url = Env("AVATAR_TEST_WS_URL");
            using (var proxy = new TcpProxy(url))
            using (var s = Session(proxy.Wrap(url)))
            {
                var log = new EventLog(s);
                var first = await s.ConnectAsync();
                s.UpdateSession(Quick());
                await log.WaitForMessage("session.updated", 10);
                s.SendText("Hi!");
                var done = (ResponseDone)(await log.WaitFor(e => e.Kind == SessionEventKind.Message && e.Message is ResponseDone, TurnS, "response.done")).Message;
                Assert.AreEqual("completed", done.Status);

                proxy.DropAll();
                var lost = await log.WaitFor(e => e.Kind == SessionEventKind.Reconnecting, 20, "reconnecting");
                Assert.IsTrue(lost.Resume, "a conversation with a finished turn is resumed");
                var again = (SessionReady)(await log.WaitForMessage("session.ready", 30)).Message;
                Assert.AreEqual(first.SessionId, again.SessionId);
                Assert.That(again.Resumed, Is.EqualTo("short_term").Or.EqualTo("long_term"));
                Assert.GreaterOrEqual(again.ContextMessages, 2, "the earlier turn is in the context");
                var updated = (SessionUpdated)(await log.WaitForMessage("session.updated", 10)).Message;
                Assert.IsFalse(updated.Session.TtsEnabled, "the session.update was sent again");
                Assert.AreEqual(2, s.Connections);

                s.SendText("And again?");
                var second = (ResponseDone)(await log.WaitFor(e => e.Kind == SessionEventKind.Message && e.Message is ResponseDone, TurnS, "the second response.done")).Message;
                Assert.AreEqual("completed", second.Status);
            }
        }

        [Test]
        public async Task While_the_server_is_unreachable_the_client_backs_off_then_comes_back()
        {
            var url = Env("AVATAR_TEST_WS_URL");
            using (var proxy = new TcpProxy(url))
            using (var s = Session(proxy.Wrap(url)))
            {
                var log = new EventLog(s);
                await s.ConnectAsync();
                proxy.Down = true;
                proxy.DropAll();
                await log.WaitFor(e => e.Kind == SessionEventKind.Reconnecting && e.Attempt == 3, 20, "a third attempt");
                var delays = log.Of(SessionEventKind.Reconnecting).Select(e => e.Delay.TotalMilliseconds).ToList();
                Assert.That(delays[0], Is.InRange(50, 100));
                Assert.That(delays[1], Is.InRange(100, 200));
                Assert.IsFalse(log.Of(SessionEventKind.Reconnecting).Any(e => e.Resume), "no turn finished: nothing to resume");
                proxy.Down = false;
                var ready = (SessionReady)(await log.WaitForMessage("session.ready", 20)).Message;
                Assert.IsNull(ready.Resumed);
                Assert.AreEqual(SessionState.Open, s.State);
            }
        }

        [Test]
        public async Task Resuming_an_unknown_conversation_starts_a_new_one()
        {
            using (var s = Session(Env("AVATAR_TEST_WS_URL"), o => o.SessionId = "no_such_session_42"))
            {
                var log = new EventLog(s);
                var ready = await s.ConnectAsync();
                Assert.AreNotEqual("no_such_session_42", ready.SessionId);
                var e = log.Of(SessionEventKind.Error).Concat(new[] { await log.WaitFor(x => x.Kind == SessionEventKind.Error, 5, "RESUME_FAILED") }).First();
                Assert.AreEqual("RESUME_FAILED", e.ErrorCode);
                StringAssert.Contains("no_such_session_42", e.ErrorMessage);
            }
        }

        [Test]
        public async Task A_token_server_accepts_the_token_as_header_or_query_and_refuses_a_bad_one()
        {
            var url = Env("AVATAR_TEST_TOKEN_WS_URL");
            var token = Environment.GetEnvironmentVariable("AVATAR_TEST_TOKEN");
            Assert.IsNotNull(token, "AVATAR_TEST_TOKEN");
            using (var s = Session(url, o => o.Token = token))
                Assert.IsNotNull((await s.ConnectAsync()).SessionId);
            using (var s = Session(url, o => { o.Token = token; o.TokenInQuery = true; }))
                Assert.IsNotNull((await s.ConnectAsync()).SessionId);
            using (var proxy = new TcpProxy(url))
            using (var s = Session(proxy.Wrap(url), o => o.Token = token + "x"))
            {
                var log = new EventLog(s);
                try
                {
                    await s.ConnectAsync();
                    Assert.Fail("a bad token was accepted");
                }
                catch (System.IO.IOException e)
                {
                    StringAssert.Contains("UNAUTHORIZED", e.Message);
                }
                var closed = await log.WaitFor(x => x.Kind == SessionEventKind.Closed, 5, "closed");
                Assert.AreEqual("UNAUTHORIZED", closed.ErrorCode);
                await Task.Delay(300);
                Assert.AreEqual(1, proxy.Accepted, "a refused token is not retried");
            }
            using (var s = Session(url, o => o.Reconnect = false))
            {
                var log = new EventLog(s);
                try { await s.ConnectAsync(); Assert.Fail("no token was accepted"); }
                catch (System.IO.IOException e) { StringAssert.Contains("UNAUTHORIZED", e.Message); }
                await log.WaitFor(x => x.Kind == SessionEventKind.Closed, 5, "closed");
            }
        }
    }
}
