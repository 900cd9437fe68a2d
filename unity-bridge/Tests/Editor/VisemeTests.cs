using System;
using System.Collections.Generic;
using System.Linq;
using AvatarRealtime.Core.Json;
using AvatarRealtime.Core.Lipsync;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>The viseme timeline against the web client's output for the same events
    /// (Tests/Editor/Vectors/visemes.json, written by Tools~/ts_visemes.mjs from client-web).</summary>
    [TestFixture]
    public class VisemeTests
    {
        private const double Tolerance = 2e-6; // the vectors are rounded to 1e-6

        private static List<JsonValue> Cases { get { return TestFiles.Vectors("visemes.json").Get("cases").Items.ToList(); } }

        private static List<VisemeEvent> Events(JsonValue sentence)
        {
            return sentence.Items.Select(e => VisemeEvent.FromJson(e)).ToList();
        }

        private static VisemeTrack Track(JsonValue c)
        {
            var t = new VisemeTrack();
            foreach (var s in c.Get("sentences").Items) t.Add(Events(s));
            return t;
        }

        [Test]
        public void Viseme_order_is_the_protocol_order_of_both_clients()
        {
            var ts = TestFiles.Vectors("visemes.json").Get("visemes").Items.Select(x => x.AsString).ToArray();
            CollectionAssert.AreEqual(ts, Visemes.Names);
            CollectionAssert.AreEqual(VisemeEvent.VisemeValues, Visemes.Names, "the schema's viseme enum");
        }

        [Test]
        public void Target_weights_match_the_web_client()
        {
            int compared = 0;
            foreach (var c in Cases)
            {
                var track = Track(c);
                Assert.AreEqual(c.Get("end_ms").AsDouble, track.EndMs, 1e-9);
                var w = new float[Visemes.Count];
                var vrm = new float[VisemeMap.Vrm.Targets.Length];
                var vrmOrder = new[] { "aa", "ih", "ou", "ee", "oh" }.Select(n => Array.IndexOf(VisemeMap.Vrm.Targets, n)).ToArray();
                foreach (var s in c.Get("samples").Items)
                {
                    double ms = s.Get("ms").AsDouble;
                    track.TargetsAt(ms, w);
                    var expected = new double[Visemes.Count];
                    foreach (var pair in s.Get("w").Items) expected[pair.Items[0].AsLong] = pair.Items[1].AsDouble;
                    for (int i = 0; i < Visemes.Count; i++)
                        Assert.AreEqual(expected[i], w[i], Tolerance, c.Get("name").AsString + " at " + ms + " ms, " + Visemes.Names[i]);
                    VisemeMap.Vrm.Apply(w, vrm);
                    var ev = s.Get("vrm").Items.Select(x => x.AsDouble).ToArray();
                    for (int k = 0; k < 5; k++) Assert.AreEqual(ev[k], vrm[vrmOrder[k]], Tolerance, "vrm at " + ms);
                    Assert.AreEqual(s.Get("open").AsDouble, Visemes.JawOpenness(w), Tolerance, "openness at " + ms);
                    compared++;
                }
            }
            Assert.Greater(compared, 1000);
        }

        [Test]
        public void The_smoother_follows_like_the_web_client()
        {
            foreach (var c in Cases)
            {
                var track = Track(c);
                var smoother = new MouthSmoother();
                foreach (var step in c.Get("smooth").Items)
                {
                    double ms = step.Get("ms").AsDouble, dt = step.Get("dt").AsDouble;
                    var w = smoother.Step(track.TargetsAt(ms), dt);
                    var expected = step.Get("w").Items.Select(x => x.AsDouble).ToArray();
                    for (int i = 0; i < Visemes.Count; i++) Assert.AreEqual(expected[i], w[i], 1e-5, "smoothed at " + ms);
                }
            }
        }

        [Test]
        public void Talking_and_cues_follow_the_audio_position_like_the_web_client()
        {
            foreach (var c in Cases)
            {
                var p = new Performance();
                p.Begin(1);
                foreach (var s in c.Get("sentences").Items)
                    p.AddVisemes(new VisemesMsg { ResponseId = 1, Visemes = Events(s) });
                foreach (var a in c.Get("anims").Items)
                {
                    var n = a.Get("name");
                    p.AddAnimation(new Animation { ResponseId = 1, TMs = a.Get("t_ms").AsDouble, Action = a.Get("action").AsString, Name = n == null ? null : n.AsString });
                }
                p.AddAnimation(new Animation { ResponseId = 2, TMs = 0, Action = "gesture", Name = "other response" });
                foreach (var f in c.Get("performance").Items)
                {
                    double ms = f.Get("ms").AsDouble;
                    p.Sample(ms);
                    Assert.AreEqual(f.Get("talking").AsBool, p.Talking, c.Get("name").AsString + " talking at " + ms);
                    CollectionAssert.AreEqual(f.Get("cues").Items.Select(x => x.AsString).ToArray(),
                                              p.Cues.Select(q => q.Kind + ":" + q.Name).ToArray(), "cues at " + ms);
                }
                p.Sample(null);
                Assert.IsFalse(p.Talking);
                Assert.IsTrue(p.Targets.All(x => x == 0));
            }
        }

        [Test]
        public void Unknown_visemes_are_an_error()
        {
            var t = new VisemeTrack();
            Assert.Throws<ArgumentException>(() => t.Add(new List<VisemeEvent> { new VisemeEvent { Viseme = "zz", DurationMs = 10, Weight = 1 } }));
        }

        private static float[] One(string viseme, float w = 1)
        {
            var v = new float[Visemes.Count];
            v[Visemes.Index(viseme)] = w;
            return v;
        }

        [Test]
        public void Maps_turn_visemes_into_oculus_arkit_vrm_and_jaw_shapes()
        {
            Assert.AreEqual(1f, VisemeMap.Oculus.Weight(One("ih"), "viseme_I"));
            Assert.AreEqual(0.5f, VisemeMap.Oculus.Weight(One("PP", 0.5f), "viseme_PP"));
            Assert.AreEqual(14, VisemeMap.Oculus.Targets.Length, "sil drives nothing");
            Assert.AreEqual(0.7f, VisemeMap.Arkit.Weight(One("aa"), "jawOpen"), 1e-6);
            Assert.Greater(VisemeMap.Arkit.Weight(One("ou"), "mouthPucker"), 0.5f);
            Assert.Greater(VisemeMap.Arkit.Weight(One("PP"), "mouthPressLeft"), 0f);
            Assert.AreEqual(0f, VisemeMap.Arkit.Weight(One("PP"), "jawOpen"));
            Assert.AreEqual(0.8f, VisemeMap.Vrm.Weight(One("E"), "ee"), 1e-6);
            Assert.AreEqual(0.2f, VisemeMap.Vrm.Weight(One("E"), "aa"), 1e-6);
            CollectionAssert.AreEquivalent(new[] { "aa", "ih", "ou", "ee", "oh" }, VisemeMap.Vrm.Targets);
            var jaw = VisemeMap.JawOnly("MouthOpen");
            Assert.AreEqual(0.7f, jaw.Weight(One("oh"), "MouthOpen"), 1e-6);
            var all = Enumerable.Repeat(1f, Visemes.Count).ToArray();
            Assert.IsTrue(VisemeMap.Arkit.Apply(all).All(x => x <= 1f), "weights are clamped to 1");
        }

        [Test]
        public void Emotions_rise_hold_and_fade_gestures_trigger_once()
        {
            var p = new Performance();
            p.Begin(1);
            p.AddAnimation(new Animation { ResponseId = 1, TMs = 0, Action = "talk_start" });
            p.AddAnimation(new Animation { ResponseId = 1, TMs = 100, Action = "emotion", Name = "happy" });
            p.AddAnimation(new Animation { ResponseId = 1, TMs = 100, Action = "gesture", Name = "wave" });
            var a = new AvatarState { EmotionHoldS = 1 };
            p.Sample(50);
            a.Step(p, 0.05);
            Assert.IsTrue(a.Talking);
            Assert.IsNull(a.Emotion);
            p.Sample(120);
            a.Step(p, 0.05);
            Assert.AreEqual("happy", a.Emotion);
            CollectionAssert.AreEqual(new[] { "wave" }, a.Gestures);
            for (int i = 0; i < 10; i++) { p.Sample(120 + i * 50); a.Step(p, 0.05); }
            Assert.IsEmpty(a.Gestures);
            Assert.Greater(a.Weight("happy"), 0.8f);
            Assert.AreEqual(0f, a.Weight("sad"));
            for (int i = 0; i < 60; i++) { p.Sample(1000); a.Step(p, 0.1); }
            Assert.IsNull(a.Emotion, "an emotion lasts EmotionHoldS");
            Assert.Less(a.Weight("happy"), 0.01f);
        }
    }
}
