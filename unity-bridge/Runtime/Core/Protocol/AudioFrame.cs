using System;

namespace AvatarRealtime.Core.Protocol
{
    /// <summary>
    /// A binary audio frame from the server (docs/protocol.md, "Binary audio frames"):
    /// <code>
    /// 0 u8 kind (1) | 1 u8 version (1) | 2 u16 reserved | 4 u32 response_id | 8 u32 chunk_index
    /// 12 u32 sample_offset | 16.. PCM16LE mono at session.ready.output_sample_rate
    /// </code>
    /// All little-endian, whatever the machine's byte order.
    /// </summary>
    public sealed class AudioFrame
    {
        public const int HeaderBytes = 16;
        public const byte Kind = 1;
        public const byte Version = 1;

        public int ResponseId;
        public int ChunkIndex;
        /// <summary>Position of the first sample on the response's audio timeline.</summary>
        public int SampleOffset;
        public short[] Samples;

        public AudioFrame(int responseId, int chunkIndex, int sampleOffset, short[] samples)
        {
            ResponseId = responseId;
            ChunkIndex = chunkIndex;
            SampleOffset = sampleOffset;
            Samples = samples ?? new short[0];
        }

        /// <summary>Parse <paramref name="count"/> bytes of a binary frame. Throws
        /// <see cref="ProtocolException"/> for a short frame, another kind or version, an odd payload.</summary>
        public static AudioFrame Parse(byte[] data, int count)
        {
            if (data == null) throw new ProtocolException("no audio frame (null)");
            if (count < HeaderBytes)
                throw new ProtocolException("binary frame of " + count + " bytes is shorter than the 16-byte audio header");
            if (data[0] != Kind) throw new ProtocolException("binary frame of unknown kind " + data[0] + " (want 1 = audio)");
            if (data[1] != Version) throw new ProtocolException("audio frame version " + data[1] + " (want 1)");
            int payload = count - HeaderBytes;
            if (payload % 2 != 0) throw new ProtocolException("audio payload of odd length " + payload);
            uint rid = ReadU32(data, 4), idx = ReadU32(data, 8), off = ReadU32(data, 12);
            if (rid > int.MaxValue || idx > int.MaxValue || off > int.MaxValue)
                throw new ProtocolException("audio header field out of range (response " + rid + ", chunk " + idx + ", offset " + off + ")");
            var samples = new short[payload / 2];
            for (int i = 0; i < samples.Length; i++)
            {
                int at = HeaderBytes + 2 * i;
                samples[i] = (short)(data[at] | (data[at + 1] << 8));
            }
            return new AudioFrame((int)rid, (int)idx, (int)off, samples);
        }

        public static AudioFrame Parse(byte[] data) { return Parse(data, data == null ? 0 : data.Length); }

        /// <summary>The frame's bytes (tests, and the stand-in servers of the tests).</summary>
        public byte[] Encode()
        {
            var b = new byte[HeaderBytes + 2 * Samples.Length];
            b[0] = Kind;
            b[1] = Version;
            WriteU32(b, 4, (uint)ResponseId);
            WriteU32(b, 8, (uint)ChunkIndex);
            WriteU32(b, 12, (uint)SampleOffset);
            Pcm16.ToBytes(Samples, 0, Samples.Length, b, HeaderBytes);
            return b;
        }

        internal static uint ReadU32(byte[] b, int at)
        {
            return (uint)(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24));
        }

        internal static void WriteU32(byte[] b, int at, uint v)
        {
            b[at] = (byte)v;
            b[at + 1] = (byte)(v >> 8);
            b[at + 2] = (byte)(v >> 16);
            b[at + 3] = (byte)(v >> 24);
        }
    }

    /// <summary>PCM16LE helpers: microphone frames are raw PCM16LE with no header.</summary>
    public static class Pcm16
    {
        public static void ToBytes(short[] samples, int offset, int count, byte[] dst, int dstOffset)
        {
            for (int i = 0; i < count; i++)
            {
                short s = samples[offset + i];
                dst[dstOffset + 2 * i] = (byte)s;
                dst[dstOffset + 2 * i + 1] = (byte)(s >> 8);
            }
        }

        public static byte[] ToBytes(short[] samples, int offset, int count)
        {
            var b = new byte[2 * count];
            ToBytes(samples, offset, count, b, 0);
            return b;
        }

        public static short[] FromBytes(byte[] data, int offset, int count)
        {
            if (count % 2 != 0) throw new ArgumentException("PCM16 needs an even number of bytes, got " + count);
            var s = new short[count / 2];
            for (int i = 0; i < s.Length; i++) s[i] = (short)(data[offset + 2 * i] | (data[offset + 2 * i + 1] << 8));
            return s;
        }

        /// <summary>float [-1, 1] -> PCM16, clipped (as the web client: -1 -> -32768, 1 -> 32767).</summary>
        public static short FromFloat(float x)
        {
            if (x > 1f) x = 1f;
            else if (x < -1f) x = -1f;
            return (short)(x < 0 ? Math.Round(x * 32768.0, MidpointRounding.AwayFromZero) : Math.Round(x * 32767.0, MidpointRounding.AwayFromZero));
        }

        public static float ToFloat(short s) { return s / 32768f; }
    }
}
