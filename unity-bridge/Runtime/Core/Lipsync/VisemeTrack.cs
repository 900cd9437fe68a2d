using System;
using System.Collections.Generic;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Lipsync
{
    /// <summary>
    /// Viseme timeline -> target mouth weights, the same function as the web client's
    /// (client-web/src/lipsync/visemes.ts; a test compares them on shared vectors).
    ///
    /// The server sends <c>response.visemes</c> per sentence: contiguous events on the response's
    /// audio timeline. <see cref="TargetsAt"/> gives the target weight of each of the 15 visemes at a
    /// timeline position, with co-articulation: around each boundary the two neighbours cross-fade
    /// (up to 45 ms each side, at most 40 % of either event), so the mouth starts forming the next
    /// shape before the current one ends. <c>sil</c> always weighs 0 (the rest pose).
    /// </summary>
    public sealed class VisemeTrack
    {
        private const double BlendMaxMs = 45;
        private const double BlendShare = 0.4;

        private struct Ev
        {
            public double T, Dur, Weight;
            public int Viseme;
            public long Seq;
        }

        private readonly List<Ev> _events = new List<Ev>();
        private long _seq;

        public int Count { get { return _events.Count; } }

        /// <summary>End of the last event (ms), 0 when empty.</summary>
        public double EndMs
        {
            get { return _events.Count == 0 ? 0 : _events[_events.Count - 1].T + _events[_events.Count - 1].Dur; }
        }

        /// <summary>Add one sentence's events (sentences may arrive in any order). Unknown viseme
        /// names are an error.</summary>
        public void Add(IList<VisemeEvent> events)
        {
            if (events == null || events.Count == 0) return;
            foreach (var e in events)
            {
                int v = Visemes.Index(e.Viseme);
                if (v < 0) throw new ArgumentException("unknown viseme '" + e.Viseme + "'");
                _events.Add(new Ev { T = e.TMs, Dur = e.DurationMs, Weight = e.Weight, Viseme = v, Seq = _seq++ });
            }
            // stable sort by time (as JavaScript's Array.prototype.sort)
            _events.Sort((a, b) => a.T != b.T ? a.T.CompareTo(b.T) : a.Seq.CompareTo(b.Seq));
        }

        public void Clear() { _events.Clear(); }

        private int Find(double ms)
        {
            int lo = 0, hi = _events.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >> 1;
                if (_events[mid].T <= ms) { found = mid; lo = mid + 1; }
                else hi = mid - 1;
            }
            if (found < 0) return -1;
            var e = _events[found];
            return ms < e.T + e.Dur ? found : -1;
        }

        private static double Smoothstep(double x)
        {
            double t = Math.Min(1, Math.Max(0, x));
            return t * t * (3 - 2 * t);
        }

        private static void AddW(float[] output, Ev e, double w)
        {
            if (e.Viseme != 0) output[e.Viseme] = (float)(output[e.Viseme] + w * e.Weight);
        }

        /// <summary>Target weight of every viseme (protocol order) at timeline position
        /// <paramref name="ms"/>, written into <paramref name="output"/> (length 15).</summary>
        public float[] TargetsAt(double ms, float[] output = null)
        {
            if (output == null) output = new float[Visemes.Count];
            Array.Clear(output, 0, output.Length);
            int i = Find(ms);
            if (i < 0) return output;
            var cur = _events[i];
            double end = cur.T + cur.Dur;
            double wCur = 1;
            if (i + 1 < _events.Count && Math.Abs(_events[i + 1].T - end) < 1)
            {
                var next = _events[i + 1];
                double h = Math.Min(BlendMaxMs, Math.Min(cur.Dur * BlendShare, next.Dur * BlendShare));
                if (h > 0 && ms > end - h)
                {
                    double a = 0.5 * Smoothstep((ms - (end - h)) / h);
                    AddW(output, next, a);
                    wCur -= a;
                }
            }
            if (i > 0 && Math.Abs(_events[i - 1].T + _events[i - 1].Dur - cur.T) < 1)
            {
                var prev = _events[i - 1];
                double h = Math.Min(BlendMaxMs, Math.Min(cur.Dur * BlendShare, prev.Dur * BlendShare));
                if (h > 0 && ms < cur.T + h)
                {
                    double a = 0.5 * (1 - Smoothstep((ms - cur.T) / h));
                    AddW(output, prev, a);
                    wCur -= a;
                }
            }
            AddW(output, cur, wCur);
            return output;
        }
    }

    /// <summary>
    /// First-order follower with separate time constants: a weight rises towards its target with
    /// <see cref="AttackS"/> and falls with <see cref="ReleaseS"/> (frame-rate independent:
    /// exp(-dt / tau)), so nothing snaps even at a low frame rate.
    /// </summary>
    public sealed class MouthSmoother
    {
        public readonly float[] Weights;
        public readonly double AttackS, ReleaseS;

        public MouthSmoother(int size = Visemes.Count, double attackS = 0.035, double releaseS = 0.07)
        {
            Weights = new float[size];
            AttackS = attackS;
            ReleaseS = releaseS;
        }

        public float[] Step(float[] targets, double dtS)
        {
            double dt = Math.Max(0, Math.Min(dtS, 0.25));
            for (int i = 0; i < Weights.Length; i++)
            {
                float w = Weights[i];
                float t = i < targets.Length ? targets[i] : 0f;
                double tau = t > w ? AttackS : ReleaseS;
                // float32 steps, as the web client's Float32Array
                float next = (float)(w + (t - w) * (1 - Math.Exp(-dt / tau)));
                Weights[i] = Math.Abs(next) < 1e-4 && t == 0 ? 0f : next;
            }
            return Weights;
        }

        public void Reset() { Array.Clear(Weights, 0, Weights.Length); }
    }
}
