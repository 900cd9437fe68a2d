using System;
using System.IO;
using System.Text;

namespace AvatarRealtime.Core.Audio
{
    /// <summary>A decoded WAV file, mixed down to mono floats.</summary>
    public sealed class WavData
    {
        public int SampleRate;
        public int Channels;
        public float[] Mono;

        public double DurationS { get { return SampleRate == 0 ? 0 : (double)Mono.Length / SampleRate; } }
    }

    /// <summary>RIFF WAVE reading (PCM 8/16/24/32-bit and IEEE float 32/64, any channels, any rate;
    /// WAVE_FORMAT_EXTENSIBLE too) and PCM16 mono writing.</summary>
    public static class Wav
    {
        public static WavData Read(string path)
        {
            return Read(File.ReadAllBytes(path), path);
        }

        public static WavData Read(byte[] b, string name = "WAV")
        {
            if (b.Length < 12 || Ascii(b, 0) != "RIFF" || Ascii(b, 8) != "WAVE")
                throw new InvalidDataException(name + " is not a RIFF/WAVE file");
            int format = 0, channels = 0, rate = 0, bits = 0;
            int at = 12;
            while (at + 8 <= b.Length)
            {
                string id = Ascii(b, at);
                int size = BitConverter.ToInt32(b, at + 4);
                int body = at + 8;
                if (size < 0 || body + size > b.Length) size = b.Length - body; // streamed writers leave sizes open
                if (id == "fmt ")
                {
                    format = BitConverter.ToUInt16(b, body);
                    channels = BitConverter.ToUInt16(b, body + 2);
                    rate = BitConverter.ToInt32(b, body + 4);
                    bits = BitConverter.ToUInt16(b, body + 14);
                    if (format == 0xFFFE && size >= 26) format = BitConverter.ToUInt16(b, body + 24); // extensible: sub-format GUID
                }
                else if (id == "data")
                {
                    if (channels <= 0 || rate <= 0) throw new InvalidDataException(name + ": data before fmt");
                    return Decode(b, body, size, format, channels, rate, bits, name);
                }
                at = body + size + (size & 1);
            }
            throw new InvalidDataException(name + " has no data chunk");
        }

        private static WavData Decode(byte[] b, int at, int size, int format, int channels, int rate, int bits, string name)
        {
            int width = bits / 8;
            if (width <= 0 || (format != 1 && format != 3) || (format == 3 && width != 4 && width != 8) || width > 4 && format == 1)
                throw new InvalidDataException(name + ": unsupported WAV encoding (format " + format + ", " + bits + " bits)");
            int frames = size / (width * channels);
            var mono = new float[frames];
            for (int f = 0; f < frames; f++)
            {
                double acc = 0;
                for (int c = 0; c < channels; c++)
                {
                    int p = at + (f * channels + c) * width;
                    double x;
                    if (format == 3) x = width == 4 ? BitConverter.ToSingle(b, p) : BitConverter.ToDouble(b, p);
                    else if (width == 1) x = (b[p] - 128) / 128.0;
                    else if (width == 2) x = BitConverter.ToInt16(b, p) / 32768.0;
                    else if (width == 3) x = ((b[p] << 8 | b[p + 1] << 16 | b[p + 2] << 24) >> 8) / 8388608.0;
                    else x = BitConverter.ToInt32(b, p) / 2147483648.0;
                    acc += x;
                }
                mono[f] = (float)(acc / channels);
            }
            return new WavData { SampleRate = rate, Channels = channels, Mono = mono };
        }

        /// <summary>Write PCM16 mono samples as a WAV file.</summary>
        public static void WritePcm16(string path, int sampleRate, short[] samples)
        {
            using (var f = new FileStream(path, FileMode.Create, FileAccess.Write))
            using (var w = new BinaryWriter(f))
            {
                int data = samples.Length * 2;
                w.Write(Encoding.ASCII.GetBytes("RIFF"));
                w.Write(36 + data);
                w.Write(Encoding.ASCII.GetBytes("WAVEfmt "));
                w.Write(16);
                w.Write((short)1);
                w.Write((short)1);
                w.Write(sampleRate);
                w.Write(sampleRate * 2);
                w.Write((short)2);
                w.Write((short)16);
                w.Write(Encoding.ASCII.GetBytes("data"));
                w.Write(data);
                foreach (var s in samples) w.Write(s);
            }
        }

        private static string Ascii(byte[] b, int at) { return Encoding.ASCII.GetString(b, at, 4); }
    }
}
