using System;
using System.Collections.Generic;

namespace AvatarRealtime.Core.Lipsync
{
    /// <summary>The 15 Oculus visemes of the protocol, in protocol order (docs/visemes.md).</summary>
    public static class Visemes
    {
        public static readonly string[] Names = { "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou" };
        public const int Count = 15;

        /// <summary>How far each viseme opens the jaw (0 closed .. 1 wide open): talk motion, and
        /// avatars that only have a jaw/mouth-open shape. Same values as the web client.</summary>
        public static readonly float[] Openness = { 0f, 0f, 0.1f, 0.25f, 0.3f, 0.38f, 0.25f, 0.1f, 0.22f, 0.25f, 1f, 0.5f, 0.3f, 0.7f, 0.3f };

        private static readonly Dictionary<string, int> IndexOf = BuildIndex();

        private static Dictionary<string, int> BuildIndex()
        {
            var d = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < Names.Length; i++) d[Names[i]] = i;
            return d;
        }

        /// <summary>Protocol index of a viseme name, or -1.</summary>
        public static int Index(string name)
        {
            int i;
            return name != null && IndexOf.TryGetValue(name, out i) ? i : -1;
        }

        /// <summary>Jaw openness (0..1) of a weight vector in protocol order.</summary>
        public static float JawOpenness(float[] weights)
        {
            float o = 0;
            for (int i = 0; i < Count; i++) o += weights[i] * Openness[i];
            return Math.Min(1f, o);
        }
    }

    /// <summary>
    /// How viseme weights become an avatar's shapes: for each viseme, the targets it drives and by
    /// how much. <see cref="Apply"/> sums them (clamped to 0..1) into one weight per target.
    /// </summary>
    public sealed class VisemeMap
    {
        public readonly string Name;
        /// <summary>Target names (blend shapes or expressions), in a fixed order.</summary>
        public readonly string[] Targets;
        private readonly int[][] _target;   // per viseme: indices into Targets
        private readonly float[][] _factor; // per viseme: factors

        public VisemeMap(string name, IDictionary<string, KeyValuePair<string, float>[]> table)
        {
            Name = name;
            var targets = new List<string>();
            _target = new int[Visemes.Count][];
            _factor = new float[Visemes.Count][];
            for (int v = 0; v < Visemes.Count; v++)
            {
                KeyValuePair<string, float>[] row;
                if (!table.TryGetValue(Visemes.Names[v], out row)) row = new KeyValuePair<string, float>[0];
                _target[v] = new int[row.Length];
                _factor[v] = new float[row.Length];
                for (int k = 0; k < row.Length; k++)
                {
                    int t = targets.IndexOf(row[k].Key);
                    if (t < 0) { t = targets.Count; targets.Add(row[k].Key); }
                    _target[v][k] = t;
                    _factor[v][k] = row[k].Value;
                }
            }
            foreach (var key in table.Keys)
                if (Visemes.Index(key) < 0) throw new ArgumentException("unknown viseme '" + key + "' in map " + name);
            Targets = targets.ToArray();
        }

        /// <summary>Target weights (0..1, same order as <see cref="Targets"/>) for viseme weights
        /// in protocol order.</summary>
        public float[] Apply(float[] visemeWeights, float[] output = null)
        {
            if (output == null || output.Length != Targets.Length) output = new float[Targets.Length];
            Array.Clear(output, 0, output.Length);
            for (int v = 0; v < Visemes.Count; v++)
            {
                float w = visemeWeights[v];
                if (w <= 0) continue;
                for (int k = 0; k < _target[v].Length; k++) output[_target[v][k]] += w * _factor[v][k];
            }
            for (int i = 0; i < output.Length; i++) output[i] = Math.Min(1f, output[i]);
            return output;
        }

        public float Weight(float[] visemeWeights, string target)
        {
            int i = Array.IndexOf(Targets, target);
            return i < 0 ? 0f : Apply(visemeWeights)[i];
        }

        private static KeyValuePair<string, float> P(string name, float f) { return new KeyValuePair<string, float>(name, f); }

        private static KeyValuePair<string, float>[] Row(params object[] pairs)
        {
            var row = new KeyValuePair<string, float>[pairs.Length / 2];
            for (int i = 0; i < row.Length; i++) row[i] = P((string)pairs[2 * i], Convert.ToSingle(pairs[2 * i + 1]));
            return row;
        }

        /// <summary>Oculus / Ready Player Me morph targets (<c>viseme_sil</c> .. <c>viseme_U</c>; the
        /// protocol's <c>ih oh ou</c> are <c>viseme_I viseme_O viseme_U</c>), one to one. <c>sil</c>
        /// drives nothing: silence is the rest pose.</summary>
        public static readonly VisemeMap Oculus = new VisemeMap("oculus", new Dictionary<string, KeyValuePair<string, float>[]>
        {
            { "PP", Row("viseme_PP", 1) }, { "FF", Row("viseme_FF", 1) }, { "TH", Row("viseme_TH", 1) },
            { "DD", Row("viseme_DD", 1) }, { "kk", Row("viseme_kk", 1) }, { "CH", Row("viseme_CH", 1) },
            { "SS", Row("viseme_SS", 1) }, { "nn", Row("viseme_nn", 1) }, { "RR", Row("viseme_RR", 1) },
            { "aa", Row("viseme_aa", 1) }, { "E", Row("viseme_E", 1) }, { "ih", Row("viseme_I", 1) },
            { "oh", Row("viseme_O", 1) }, { "ou", Row("viseme_U", 1) },
        });

        /// <summary>VRM 1.0 mouth expressions <c>aa ih ou ee oh</c> (docs/visemes.md, "Oculus -> VRM";
        /// VRM 0.x presets A I U E O take the same weights).</summary>
        public static readonly VisemeMap Vrm = new VisemeMap("vrm", new Dictionary<string, KeyValuePair<string, float>[]>
        {
            { "FF", Row("ih", 0.2, "ou", 0.1) }, { "TH", Row("ee", 0.2, "aa", 0.15) }, { "DD", Row("ih", 0.3, "aa", 0.1) },
            { "kk", Row("aa", 0.3, "ih", 0.2) }, { "CH", Row("ih", 0.3, "ou", 0.4) }, { "SS", Row("ih", 0.5) },
            { "nn", Row("ih", 0.3, "aa", 0.1) }, { "RR", Row("ou", 0.4, "oh", 0.1) }, { "aa", Row("aa", 1) },
            { "E", Row("ee", 0.8, "aa", 0.2) }, { "ih", Row("ih", 1) }, { "oh", Row("oh", 1) }, { "ou", Row("ou", 1) },
        });

        /// <summary>ARKit face blend shapes (Apple's 52; also used by many VRoid/ReadyPlayerMe/MetaHuman
        /// exports). A hand-made approximation: jaw opening about 0.7 x <see cref="Visemes.Openness"/>,
        /// lips closed/pressed for PP, lower lip tucked for FF, tongue for TH, funnel/pucker for the
        /// rounded vowels, stretch/smile for the spread ones.</summary>
        public static readonly VisemeMap Arkit = new VisemeMap("arkit", new Dictionary<string, KeyValuePair<string, float>[]>
        {
            { "PP", Row("mouthClose", 0.3, "mouthPressLeft", 0.5, "mouthPressRight", 0.5, "mouthRollLower", 0.3, "mouthRollUpper", 0.2) },
            { "FF", Row("jawOpen", 0.07, "mouthRollLower", 0.6, "mouthUpperUpLeft", 0.2, "mouthUpperUpRight", 0.2) },
            { "TH", Row("jawOpen", 0.18, "tongueOut", 0.4) },
            { "DD", Row("jawOpen", 0.21, "mouthStretchLeft", 0.2, "mouthStretchRight", 0.2) },
            { "kk", Row("jawOpen", 0.27, "mouthStretchLeft", 0.25, "mouthStretchRight", 0.25) },
            { "CH", Row("jawOpen", 0.18, "mouthFunnel", 0.5, "mouthShrugUpper", 0.2) },
            { "SS", Row("jawOpen", 0.07, "mouthStretchLeft", 0.4, "mouthStretchRight", 0.4, "mouthSmileLeft", 0.2, "mouthSmileRight", 0.2) },
            { "nn", Row("jawOpen", 0.15, "mouthStretchLeft", 0.2, "mouthStretchRight", 0.2) },
            { "RR", Row("jawOpen", 0.18, "mouthFunnel", 0.3, "mouthPucker", 0.3) },
            { "aa", Row("jawOpen", 0.7, "mouthLowerDownLeft", 0.3, "mouthLowerDownRight", 0.3) },
            { "E", Row("jawOpen", 0.35, "mouthStretchLeft", 0.4, "mouthStretchRight", 0.4, "mouthSmileLeft", 0.2, "mouthSmileRight", 0.2) },
            { "ih", Row("jawOpen", 0.21, "mouthStretchLeft", 0.4, "mouthStretchRight", 0.4, "mouthSmileLeft", 0.3, "mouthSmileRight", 0.3) },
            { "oh", Row("jawOpen", 0.49, "mouthFunnel", 0.6) },
            { "ou", Row("jawOpen", 0.21, "mouthPucker", 0.8, "mouthFunnel", 0.3) },
        });

        /// <summary>Only a jaw/mouth-open shape: <see cref="Visemes.Openness"/>.</summary>
        public static VisemeMap JawOnly(string shapeName)
        {
            var table = new Dictionary<string, KeyValuePair<string, float>[]>();
            for (int v = 1; v < Visemes.Count; v++)
                if (Visemes.Openness[v] > 0) table[Visemes.Names[v]] = new[] { P(shapeName, Visemes.Openness[v]) };
            return new VisemeMap("jaw", table);
        }
    }
}
