using System;
using System.Collections.Generic;

namespace AvatarRealtime.Core.Audio
{
    /// <summary>
    /// Streaming resampler to a lower rate (48 or 44.1 kHz microphones -> 16 kHz): a windowed-sinc
    /// low-pass (Blackman, cutoff at 45 % of the output rate, ~10 output periods each side) evaluated
    /// at each output position, tabulated for 128 sub-sample phases. State carries across calls, so
    /// block boundaries leave no seams. The same filter as the web client's (client-web/src/audio/pcm.ts).
    /// </summary>
    public sealed class Downsampler
    {
        private const int Phases = 128;
        private readonly double _step;
        private readonly int _half;
        private readonly float[][] _table;
        private double _pos;
        private float[] _history;

        public Downsampler(int inRate, int outRate)
        {
            if (inRate < outRate) throw new ArgumentException("cannot downsample " + inRate + " Hz to " + outRate + " Hz");
            InRate = inRate;
            OutRate = outRate;
            _step = (double)inRate / outRate;
            _half = (int)Math.Ceiling(10 * _step);
            double cutoff = 0.45 * outRate / inRate;
            _table = new float[Phases][];
            for (int ph = 0; ph < Phases; ph++)
            {
                double frac = (double)ph / Phases;
                var taps = new double[2 * _half + 1];
                double sum = 0;
                for (int k = -_half; k <= _half; k++)
                {
                    double t = k - frac;
                    double x = 2 * cutoff * t;
                    double sinc = x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
                    double w = Math.Abs(t) >= _half + 1 ? 0
                        : 0.42 + 0.5 * Math.Cos(Math.PI * t / (_half + 1)) + 0.08 * Math.Cos(2 * Math.PI * t / (_half + 1));
                    taps[k + _half] = sinc * w;
                    sum += sinc * w;
                }
                _table[ph] = new float[taps.Length];
                for (int i = 0; i < taps.Length; i++) _table[ph][i] = (float)(taps[i] / sum);
            }
            _history = new float[_half];
            _pos = _half;
        }

        public int InRate { get; private set; }
        public int OutRate { get; private set; }

        public float[] Process(float[] input, int offset, int count)
        {
            var buf = new float[_history.Length + count];
            Array.Copy(_history, buf, _history.Length);
            Array.Copy(input, offset, buf, _history.Length, count);
            var output = new List<float>((int)(count / _step) + 2);
            while (_pos + _half + 1 < buf.Length)
            {
                int b = (int)Math.Floor(_pos);
                var taps = _table[Math.Min(Phases - 1, (int)Math.Round((_pos - b) * Phases))];
                double acc = 0;
                int start = b - _half;
                for (int k = 0; k < taps.Length; k++) acc += buf[start + k] * taps[k];
                output.Add((float)acc);
                _pos += _step;
            }
            int keepFrom = Math.Max(0, (int)Math.Floor(_pos) - _half - 1);
            _history = new float[buf.Length - keepFrom];
            Array.Copy(buf, keepFrom, _history, 0, _history.Length);
            _pos -= keepFrom;
            return output.ToArray();
        }
    }

    /// <summary>
    /// Microphone signal path: float samples at the capture rate -> 16 kHz -> PCM16 frames of
    /// exactly 20 ms (320 samples, 640 bytes), as the server expects (docs/protocol.md,
    /// "Microphone frames"). Unity's <c>Microphone</c> and the console's WAV input both feed it.
    /// </summary>
    public sealed class MicrophoneFramer
    {
        public const int Rate = 16000;
        public const int FrameMs = 20;
        public const int FrameSamples = Rate * FrameMs / 1000;

        private readonly Downsampler _down;
        private readonly LinearResampler _up;
        private readonly short[] _pending = new short[FrameSamples];
        private int _pendingCount;

        public MicrophoneFramer(int captureRate)
        {
            if (captureRate <= 0) throw new ArgumentOutOfRangeException("captureRate");
            CaptureRate = captureRate;
            if (captureRate > Rate) _down = new Downsampler(captureRate, Rate);
            else if (captureRate < Rate) _up = new LinearResampler(captureRate, Rate);
        }

        public int CaptureRate { get; private set; }

        /// <summary>Feed captured samples; returns the complete 20 ms frames (PCM16LE bytes).</summary>
        public List<byte[]> Push(float[] samples, int offset, int count)
        {
            float[] at16 = _down != null ? _down.Process(samples, offset, count)
                : _up != null ? _up.Process(samples, offset, count)
                : Copy(samples, offset, count);
            var frames = new List<byte[]>();
            foreach (var x in at16)
            {
                _pending[_pendingCount++] = Protocol.Pcm16.FromFloat(x);
                if (_pendingCount == FrameSamples)
                {
                    frames.Add(Protocol.Pcm16.ToBytes(_pending, 0, FrameSamples));
                    _pendingCount = 0;
                }
            }
            return frames;
        }

        /// <summary>A frame of digital silence (to end a turn by the server's VAD).</summary>
        public static byte[] SilenceFrame() { return new byte[2 * FrameSamples]; }

        public void Reset() { _pendingCount = 0; }

        private static float[] Copy(float[] s, int offset, int count)
        {
            var r = new float[count];
            Array.Copy(s, offset, r, 0, count);
            return r;
        }
    }

    /// <summary>Streaming linear-interpolation resampler (upsampling low-rate input).</summary>
    public sealed class LinearResampler
    {
        private readonly double _step;
        private double _pos; // position of the next output in input samples, relative to _prev
        private float _prev;
        private bool _started;

        public LinearResampler(int inRate, int outRate)
        {
            if (inRate <= 0 || outRate <= 0) throw new ArgumentOutOfRangeException("inRate");
            _step = (double)inRate / outRate;
        }

        public float[] Process(float[] input, int offset, int count)
        {
            var output = new List<float>((int)(count / _step) + 2);
            for (int i = 0; i < count; i++)
            {
                float x = input[offset + i];
                if (!_started) { _prev = x; _started = true; continue; }
                // outputs between _prev (at 0) and x (at 1)
                while (_pos < 1.0)
                {
                    output.Add((float)(_prev + (x - _prev) * _pos));
                    _pos += _step;
                }
                _pos -= 1.0;
                _prev = x;
            }
            return output.ToArray();
        }
    }
}
