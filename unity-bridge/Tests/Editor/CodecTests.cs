using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using AvatarRealtime.Core.Json;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>The codec against vectors the Python server code writes (Tools~/make_vectors.py).</summary>
    [TestFixture]
    public class CodecTests
    {
        private static JsonValue V { get { return TestFiles.Vectors("protocol.json"); } }

        private static byte[] Hex(string hex)
        {
            var b = new byte[hex.Length / 2];
            for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return b;
        }

        [Test]
        public void Audio_frames_parse_and_encode_byte_for_byte()
        {
            var v = V;
            Assert.AreEqual(AudioFrame.HeaderBytes, (int)v.Get("audio_header_bytes").AsLong);
            int n = 0;
            foreach (var f in v.Get("audio_frames").Items)
            {
                var bytes = Hex(f.Get("hex").AsString);
                var frame = AudioFrame.Parse(bytes);
                Assert.AreEqual(f.Get("response_id").AsLong, frame.ResponseId);
                Assert.AreEqual(f.Get("chunk_index").AsLong, frame.ChunkIndex);
                Assert.AreEqual(f.Get("sample_offset").AsLong, frame.SampleOffset);
                CollectionAssert.AreEqual(f.Get("samples").Items.Select(x => (short)x.AsLong).ToArray(), frame.Samples);
                CollectionAssert.AreEqual(bytes, frame.Encode());
                n++;
            }
            Assert.GreaterOrEqual(n, 4);
        }

        [TestCase(new byte[] { 1, 1, 0, 0, 1, 0, 0, 0 }, "shorter than the 16-byte audio header")]
        [TestCase(new byte[] { 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, "unknown kind 2")]
        [TestCase(new byte[] { 1, 9, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, "version 9")]
        [TestCase(new byte[] { 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 }, "odd length 1")]
        [TestCase(new byte[] { 1, 1, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0 }, "out of range")]
        public void Bad_audio_frames_are_refused_with_a_reason(byte[] frame, string reason)
        {
            var e = Assert.Throws<ProtocolException>(() => AudioFrame.Parse(frame));
            StringAssert.Contains(reason, e.Message);
        }

        [Test]
        public void Server_messages_decode_from_the_wire_and_reencode_byte_for_byte()
        {
            var seen = new HashSet<string>();
            foreach (var m in V.Get("server_messages").Items)
            {
                string wire = m.Get("wire").AsString, canonical = m.Get("canonical").AsString;
                var fromWire = ServerMessage.Parse(wire);
                var fromCanonical = ServerMessage.Parse(canonical);
                Assert.AreEqual(canonical, fromWire.ToJson(false), "re-encoding " + wire);
                Assert.AreEqual(canonical, fromCanonical.ToJson(false));
                seen.Add(fromWire.Type);
            }
            CollectionAssert.AreEquivalent(ProtocolInfo.ServerTypes, seen, "every server message type has a vector");
        }

        [Test]
        public void Decoded_fields_have_the_values_python_wrote()
        {
            var all = V.Get("server_messages").Items.Select(m => ServerMessage.Parse(m.Get("wire").AsString)).ToList();
            var ready = all.OfType<SessionReady>().First();
            Assert.AreEqual("abc_123", ready.SessionId);
            Assert.AreEqual(22050, ready.OutputSampleRate);
            Assert.AreEqual(1, ready.ProtocolVersion);
            Assert.AreEqual("미나 Mina", ready.Session.CharacterName);
            Assert.IsNull(ready.Session.Voice);
            CollectionAssert.AreEqual(new[] { 16000, 24000, 48000 }, ready.InputSampleRates);
            Assert.IsNull(ready.Resumed);
            var resumed = all.OfType<SessionReady>().Last();
            Assert.AreEqual("short_term", resumed.Resumed);
            Assert.AreEqual(4, resumed.ContextMessages);
            var vis = all.OfType<VisemesMsg>().Single();
            Assert.AreEqual(4, vis.Visemes.Count);
            Assert.AreEqual("aa", vis.Visemes[1].Viseme);
            Assert.AreEqual(34.8, vis.Visemes[1].TMs);
            Assert.AreEqual(0.30000000000000004, vis.Visemes[3].Weight);
            var done = all.OfType<ResponseDone>().ToList();
            Assert.AreEqual(310.75, done[0].Timings.FirstAudioSent);
            Assert.IsNull(done[0].Timings.SpeechStopped);
            Assert.AreEqual(12, done[0].Usage.PromptTokens);
            Assert.AreEqual("TTS_FAILED", done[1].Error["code"]);
            var err = all.OfType<ErrorMsg>().Last();
            Assert.AreEqual(2.5, err.RetryAfter);
            var pongs = all.OfType<Pong>().ToList();
            Assert.AreEqual("p-1", pongs[0].Id.AsString);
            Assert.AreEqual(42, pongs[1].Id.AsLong);
            Assert.IsNull(pongs[2].Id);
            var delta = all.OfType<TextDelta>().Single();
            Assert.AreEqual("He said \"hi\"\\ \n\ttab\u0001 \u007f 안녕 😀 /", delta.Delta);
        }

        [Test]
        public void Client_messages_encode_byte_for_byte_as_python_writes_them()
        {
            var seen = new HashSet<string>();
            foreach (var m in V.Get("client_messages").Items)
            {
                string canonical = m.Get("canonical").AsString;
                var msg = ClientMessages.Decode(JsonValue.Parse(canonical));
                Assert.AreEqual(canonical, msg.Encode());
                seen.Add(msg.Type);
            }
            CollectionAssert.AreEquivalent(ProtocolInfo.ClientTypes, seen, "every client message type has a vector");
        }

        [Test]
        public void Messages_built_in_code_encode_as_python_writes_them()
        {
            var texts = V.Get("client_messages").Items.Select(m => m.Get("canonical").AsString).ToList();
            Assert.Contains(new PlaybackMark { ResponseId = 1, PlayedMs = 120 }.Encode(), texts);
            Assert.Contains(new ResponseCancel().Encode(), texts);
            Assert.Contains(new ResponseCancel { ResponseId = 3 }.Encode(), texts);
            Assert.Contains(new InputText { Text = "안녕하세요! \"quoted\" \\ \n" }.Encode(), texts);
            Assert.Contains(new Ping { Id = JsonValue.Number(7L) }.Encode(), texts);
            Assert.Contains(new InputAudioCommit().Encode(), texts);
        }

        [Test]
        public void Client_messages_the_server_rejects_are_refused_before_sending()
        {
            int n = 0;
            foreach (var m in V.Get("invalid_client_messages").Items)
            {
                var json = JsonValue.Parse(m.Get("json").AsString);
                // refused when decoded (an unknown enum value) or, at the latest, when encoded
                var e = Assert.Throws<ProtocolException>(() => ClientMessages.Decode(json).Encode(), "accepted " + json);
                StringAssert.Contains(json.Get("type").AsString, e.Message);
                n++;
            }
            Assert.GreaterOrEqual(n, 10);
            Assert.Throws<ProtocolException>(() => new InputText().Encode()); // text is required
        }

        [TestCase("not json", "server sent invalid JSON")]
        [TestCase("[1,2]", "expected an object, got an array")]
        [TestCase("{\"text\":\"no type\"}", "has no string 'type'")]
        [TestCase("{\"type\":\"response.dance\"}", "unknown message type 'response.dance'")]
        [TestCase("{\"type\":\"response.sentence\",\"response_id\":1,\"index\":0}", "response.sentence: missing required field 'text'")]
        [TestCase("{\"type\":\"response.sentence\",\"response_id\":\"1\",\"index\":0,\"text\":\"a\"}", "response.sentence.response_id: expected an integer, got a string")]
        [TestCase("{\"type\":\"response.sentence\",\"response_id\":1.5,\"index\":0,\"text\":\"a\"}", "expected a 32-bit integer")]
        [TestCase("{\"type\":\"response.done\",\"response_id\":1,\"status\":\"exploded\",\"text\":\"\",\"timings\":{},\"usage\":{}}", "'exploded' is not one of completed, interrupted, failed")]
        [TestCase("{\"type\":\"response.visemes\",\"response_id\":1,\"sentence_index\":0,\"visemes\":[{\"t_ms\":0,\"viseme\":\"zz\",\"duration_ms\":1,\"weight\":1}]}", "'zz' is not one of")]
        [TestCase("{\"type\":\"response.visemes\",\"response_id\":1,\"sentence_index\":0,\"visemes\":{}}", "visemes: expected an array")]
        [TestCase("{\"type\":\"pong\",\"id\":1.5,\"server_time_ms\":1}", "pong.id: expected one of the allowed kinds")]
        [TestCase("{\"type\":\"session.updated\",\"session\":null}", "session.updated.session: expected an object, got null")]
        public void Bad_server_messages_are_refused_with_a_clear_reason(string text, string reason)
        {
            var e = Assert.Throws<ProtocolException>(() => ServerMessage.Parse(text));
            StringAssert.Contains(reason, e.Message);
        }

        [Test]
        public void Members_a_newer_server_adds_are_ignored()
        {
            var m = (SentenceMsg)ServerMessage.Parse("{\"type\":\"response.sentence\",\"response_id\":1,\"index\":0,\"text\":\"a\",\"mood\":\"new\"}");
            Assert.AreEqual("a", m.Text);
        }

        [Test]
        public void The_generated_types_come_from_the_committed_schema()
        {
            var schema = TestFiles.SchemaPath();
            if (schema == null) Assert.Ignore("docs/protocol.schema.json is not beside this package (installed in a Unity project)");
            string hex;
            using (var sha = SHA256.Create())
                hex = BitConverter.ToString(sha.ComputeHash(File.ReadAllBytes(schema))).Replace("-", "").ToLowerInvariant();
            Assert.AreEqual(hex, ProtocolInfo.SchemaSha256, "Messages.g.cs is stale: run python3 unity-bridge/Tools~/gen_protocol.py");
            var doc = JsonValue.Parse(File.ReadAllText(schema, Encoding.UTF8));
            Assert.AreEqual(doc.Get("version").AsLong, ProtocolInfo.Version);
        }
    }
}
