using System;
using System.IO;
using System.Linq;
using AvatarRealtime.Core.Audio;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    [TestFixture]
    public class MicrophoneTests
    {
        private static float[] Tone(int rate, double hz, double seconds, double amp = 0.5)
        {
            var x = new float[(int)(rate * seconds)];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(amp * Math.Sin(2 * Math.PI * hz * i / rate));
            return x;
        }

        private static double Rms(short[] s, int from)
        {
            double acc = 0;
            for (int i = from; i < s.Length; i++) acc += (double)s[i] * s[i];
            return Math.Sqrt(acc / (s.Length - from)) / 32768;
        }

        private static short[] Frames16k(int rate, float[] x, int blocks)
        {
            var framer = new MicrophoneFramer(rate);
            var all = new System.Collections.Generic.List<byte[]>();
            int per = x.Length / blocks;
            for (int b = 0; b < blocks; b++) all.AddRange(framer.Push(x, b * per, per));
            Assert.IsTrue(all.All(f => f.Length == 640), "every frame is 20 ms at 16 kHz: 640 bytes");
            return all.SelectMany(f => Pcm16.FromBytes(f, 0, f.Length)).ToArray();
        }

        [TestCase(48000)]
        [TestCase(44100)]
        [TestCase(16000)]
        [TestCase(8000)]
        public void Any_capture_rate_becomes_20_ms_frames_at_16_kHz_keeping_speech(int rate)
        {
            var s = Frames16k(rate, Tone(rate, 1000, 1.0), 37); // odd block sizes, as a microphone gives them
            Assert.AreEqual(16000, s.Length, 320, "one second in, one second out");
            Assert.AreEqual(0.5 / Math.Sqrt(2), Rms(s, 1000), 0.02, "a 1 kHz tone keeps its level");
        }

        [Test]
        public void Downsampling_removes_what_would_fold_back()
        {
            var s = Frames16k(48000, Tone(48000, 9000, 1.0), 10); // above 8 kHz: would alias to 7 kHz
            Assert.Less(Rms(s, 1000), 0.01);
        }

        [Test]
        public void Wav_files_of_any_rate_and_channels_read_back_as_mono()
        {
            var path = Path.GetTempFileName();
            try
            {
                var pcm = new short[] { 0, 1000, -1000, 32767, -32768 };
                Wav.WritePcm16(path, 22050, pcm);
                var w = Wav.Read(path);
                Assert.AreEqual(22050, w.SampleRate);
                Assert.AreEqual(1, w.Channels);
                CollectionAssert.AreEqual(pcm, w.Mono.Select(x => (short)Math.Round(x * 32768)).ToArray());
                // stereo float32: mixed down
                var b = new MemoryStream();
                var bw = new BinaryWriter(b);
                bw.Write("RIFF".ToCharArray()); bw.Write(36 + 16); bw.Write("WAVEfmt ".ToCharArray());
                bw.Write(16); bw.Write((short)3); bw.Write((short)2); bw.Write(48000); bw.Write(48000 * 8); bw.Write((short)8); bw.Write((short)32);
                bw.Write("data".ToCharArray()); bw.Write(16);
                bw.Write(0.5f); bw.Write(0.25f); bw.Write(-1f); bw.Write(1f);
                var st = Wav.Read(b.ToArray());
                Assert.AreEqual(2, st.Channels);
                CollectionAssert.AreEqual(new[] { 0.375f, 0f }, st.Mono);
                Assert.Throws<InvalidDataException>(() => Wav.Read(new byte[] { 1, 2, 3 }));
            }
            finally { File.Delete(path); }
        }
    }
}
