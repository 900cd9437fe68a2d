using System;
using System.Linq;
using AvatarRealtime.Core.Audio;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>The jitter buffer: frames placed by sample_offset, gaps, late and reordered frames,
    /// underruns and the adaptive lead, flushes.</summary>
    [TestFixture]
    public class PlaybackBufferTests
    {
        private const int Rate = 1000; // 1 sample per ms keeps the arithmetic readable

        /// <summary>A frame whose samples are their own timeline positions (+1, so 0 means silence).</summary>
        private static AudioFrame Frame(int responseId, int offset, int count, int chunk = 0)
        {
            var s = new short[count];
            for (int i = 0; i < count; i++) s[i] = (short)(offset + i + 1);
            return new AudioFrame(responseId, chunk, offset, s);
        }

        private static int[] Read(PlaybackBuffer b, int count, double clock = 0)
        {
            var dst = new float[count];
            b.Read(dst, 0, count, clock);
            return dst.Select(x => (int)Math.Round(x * 32768)).ToArray();
        }

        private static PlaybackBuffer Buffer(double leadMs = 100, double maxLeadMs = 400)
        {
            return new PlaybackBuffer(Rate, new JitterOptions { LeadMs = leadMs, MaxLeadMs = maxLeadMs });
        }

        [Test]
        public void Waits_for_the_lead_then_plays_frames_in_timeline_order()
        {
            var b = Buffer();
            b.Push(Frame(1, 0, 60));
            Assert.AreEqual(PlaybackState.Buffering, b.State);
            CollectionAssert.AreEqual(new int[10], Read(b, 10), "nothing plays before the lead is buffered");
            Assert.AreEqual(0, b.PositionSamples);
            b.Push(Frame(1, 60, 60));
            var got = Read(b, 120);
            CollectionAssert.AreEqual(Enumerable.Range(1, 120).ToArray(), got);
            Assert.AreEqual(120, b.PositionSamples);
        }

        [Test]
        public void Reordered_frames_land_at_their_offsets()
        {
            var b = Buffer(leadMs: 50);
            b.Push(Frame(1, 100, 50, 2));
            b.Push(Frame(1, 0, 50, 0));
            b.Push(Frame(1, 50, 50, 1));
            CollectionAssert.AreEqual(Enumerable.Range(1, 150).ToArray(), Read(b, 150));
            Assert.AreEqual(0, b.LateSamples);
        }

        [Test]
        public void A_gap_in_sample_offsets_plays_as_silence_and_keeps_the_timeline()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(1, 0, 20));
            b.Push(Frame(1, 50, 20));
            var got = Read(b, 70);
            CollectionAssert.AreEqual(Enumerable.Range(1, 20).ToArray(), got.Take(20).ToArray());
            CollectionAssert.AreEqual(new int[30], got.Skip(20).Take(30).ToArray());
            CollectionAssert.AreEqual(Enumerable.Range(51, 20).ToArray(), got.Skip(50).ToArray());
            Assert.AreEqual(70, b.PositionSamples);
        }

        [Test]
        public void A_late_frame_loses_only_its_past_part()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(1, 0, 20));
            b.Push(Frame(1, 40, 40));
            Read(b, 30); // plays 0..19, then silence 20..29 (the hole: data exists beyond it)
            b.Push(Frame(1, 20, 20)); // samples 20..39 arrive when 30 is due: 20..29 are late
            Assert.AreEqual(10, b.LateSamples);
            var got = Read(b, 50);
            CollectionAssert.AreEqual(Enumerable.Range(31, 50).ToArray(), got);
            Assert.IsFalse(b.Push(Frame(1, 0, 10)), "a frame wholly in the past is dropped");
            Assert.AreEqual(20, b.LateSamples);
        }

        [Test]
        public void Duplicates_and_overlaps_keep_the_first_copy()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(1, 0, 40));
            Assert.IsFalse(b.Push(Frame(1, 0, 40)));
            var overlap = new AudioFrame(1, 1, 30, Enumerable.Repeat((short)-7, 20).ToArray());
            Assert.IsTrue(b.Push(overlap));
            var got = Read(b, 50);
            CollectionAssert.AreEqual(Enumerable.Range(1, 40).ToArray(), got.Take(40).ToArray());
            CollectionAssert.AreEqual(Enumerable.Repeat(-7, 10).ToArray(), got.Skip(40).ToArray());
            Assert.AreEqual(1, b.DuplicateFrames);
        }

        [Test]
        public void An_underrun_stalls_the_timeline_grows_the_lead_and_rebuffers()
        {
            var b = Buffer(leadMs: 100, maxLeadMs: 400);
            b.Push(Frame(1, 0, 100));
            Read(b, 100);
            Read(b, 30); // ran dry, nothing beyond: silence, the position stays
            Assert.AreEqual(100, b.PositionSamples);
            Assert.AreEqual(PlaybackState.Buffering, b.State);
            Assert.AreEqual(0, b.Underruns, "running dry only counts once more audio comes");
            b.Push(Frame(1, 100, 100));
            Assert.AreEqual(1, b.Underruns);
            Assert.AreEqual(170, b.LeadMs, 1e-9); // 100 * 1.5 + 20
            CollectionAssert.AreEqual(new int[10], Read(b, 10), "waits for the grown lead (170 ms)");
            b.Push(Frame(1, 200, 100));
            CollectionAssert.AreEqual(Enumerable.Range(101, 200).ToArray(), Read(b, 200));
            for (int i = 0; i < 10; i++)
            {
                Read(b, 400);
                b.Push(Frame(1, 300 + 100 * i, 100));
            }
            Assert.AreEqual(400, b.LeadMs, 1e-9, "the lead never grows beyond the maximum");
        }

        [Test]
        public void Running_dry_before_audio_done_is_the_end_not_an_underrun_and_the_lead_relaxes()
        {
            var b = Buffer(leadMs: 100, maxLeadMs: 400);
            b.Push(Frame(1, 0, 100));
            Read(b, 120);
            b.Push(Frame(1, 100, 200)); // an underrun: the lead grows to 170
            Assert.AreEqual(170, b.LeadMs, 1e-9);
            Read(b, 300);
            b.Finish(1, 300);
            Assert.AreEqual(PlaybackState.Ended, b.State);
            Assert.AreEqual(1, b.Underruns);
            b.Push(Frame(2, 0, 300));
            b.Finish(2, 300);
            Read(b, 400);
            Assert.AreEqual(PlaybackState.Ended, b.State);
            Assert.AreEqual(153, b.LeadMs, 1e-9, "a clean response relaxes the lead by 10 %");
            Assert.AreEqual(1, b.Underruns);
        }

        [Test]
        public void A_short_response_plays_at_once_when_its_audio_is_complete()
        {
            var b = Buffer(leadMs: 300);
            b.Push(Frame(1, 0, 40));
            b.Finish(1, 40);
            CollectionAssert.AreEqual(Enumerable.Range(1, 40).ToArray(), Read(b, 40));
            Read(b, 10);
            Assert.AreEqual(PlaybackState.Ended, b.State);
            Assert.AreEqual(40, b.PositionSamples);
        }

        [Test]
        public void Flush_stops_at_once_and_ignores_the_rest_of_that_response()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(1, 0, 100));
            Read(b, 30);
            b.Flush();
            Assert.AreEqual(PlaybackState.Idle, b.State);
            Assert.IsNull(b.ResponseId);
            CollectionAssert.AreEqual(new int[20], Read(b, 20));
            Assert.IsFalse(b.Push(Frame(1, 100, 50)), "frames of a flushed response are ignored");
            Assert.IsTrue(b.Push(Frame(2, 0, 50)));
            Assert.AreEqual(2, b.ResponseId);
            CollectionAssert.AreEqual(Enumerable.Range(1, 50).ToArray(), Read(b, 50));
            b.Reset();
            Assert.IsTrue(b.Push(Frame(1, 0, 50)), "a new connection numbers responses from 1 again");
        }

        [Test]
        public void A_newer_response_replaces_the_one_playing_and_an_older_one_is_ignored()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(2, 0, 100));
            Read(b, 30);
            Assert.IsFalse(b.Push(Frame(1, 0, 100)));
            Assert.IsTrue(b.Push(Frame(3, 0, 100)));
            Assert.AreEqual(3, b.ResponseId);
            Assert.AreEqual(0, b.PositionSamples);
        }

        [Test]
        public void The_position_moves_smoothly_between_audio_callbacks()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(1, 0, 500));
            Assert.IsNull(b.PositionMsAt(0), "not playing before the first read");
            b.Read(new float[100], 0, 100, 1.0); // block 0..99 plays from clock 1.0 s
            Assert.AreEqual(0, b.PositionMsAt(1.0).Value, 1e-9);
            Assert.AreEqual(40, b.PositionMsAt(1.04).Value, 1e-9);
            Assert.AreEqual(100, b.PositionMsAt(1.5).Value, 1e-9, "never beyond what was read");
        }

        [Test]
        public void After_the_last_sample_the_position_follows_the_clock()
        {
            var b = Buffer(leadMs: 10);
            b.Push(Frame(1, 0, 150));
            b.Finish(1, 150);
            b.Read(new float[100], 0, 100, 2.0);
            b.Read(new float[100], 0, 100, 2.1); // the last 50 samples, then silence: ends at 2.15 s
            Assert.AreEqual(PlaybackState.Ended, b.State);
            Assert.AreEqual(150, b.PositionMsAt(2.15).Value, 1e-6);
            Assert.AreEqual(250, b.PositionMsAt(2.25).Value, 1e-6);
            b.Read(new float[100], 0, 100, 2.2);
            Assert.AreEqual(250, b.PositionMsAt(2.25).Value, 1e-6, "later reads do not move it back");
        }

        [Test]
        public void Fills_interleaved_output_at_another_rate()
        {
            var b = new PlaybackBuffer(22050, new JitterOptions { LeadMs = 0 });
            var s = new short[2205];
            for (int i = 0; i < s.Length; i++) s[i] = (short)(16000 * Math.Sin(2 * Math.PI * 441 * i / 22050.0));
            b.Push(new AudioFrame(1, 0, 0, s));
            b.Finish(1, s.Length);
            var data = new float[4800 * 2]; // 100 ms of stereo at 48 kHz
            b.FillInterleaved(data, 2, 48000, 0);
            for (int i = 0; i < 4800; i++) Assert.AreEqual(data[2 * i], data[2 * i + 1]);
            // a 441 Hz sine at the new rate: compare with the ideal, one sample of delay allowed
            double err = 0;
            for (int i = 100; i < 4700; i++)
            {
                double t = (i - 48000.0 / 22050) / 48000.0;
                err = Math.Max(err, Math.Abs(data[2 * i] - 16000 / 32768.0 * Math.Sin(2 * Math.PI * 441 * t)));
            }
            Assert.Less(err, 0.01);
            Assert.AreEqual(2205, b.PositionSamples, 2);
        }
    }
}
