using AvatarRealtime.Core.Lipsync;
using UnityEngine;

namespace AvatarRealtime
{
    public enum VisemeShapeSet
    {
        /// <summary>Oculus / Ready Player Me <c>viseme_aa</c> ... (15 visemes, one shape each).</summary>
        Oculus,
        /// <summary>ARKit's 52 face shapes (jawOpen, mouthFunnel, mouthPucker, ...).</summary>
        Arkit,
        /// <summary>Only a jaw/mouth-open shape (named below).</summary>
        JawOnly,
    }

    /// <summary>
    /// Drives a <see cref="SkinnedMeshRenderer"/>'s blend shapes from the conversation's smoothed
    /// viseme weights. Shape names are matched exactly, then ignoring case and any prefix before
    /// the last '.' (exporters write <c>Face.viseme_aa</c>); shapes the mesh lacks are skipped.
    /// </summary>
    [AddComponentMenu("Avatar Realtime/Blend Shape Driver")]
    public sealed class BlendShapeDriver : MonoBehaviour
    {
        public SkinnedMeshRenderer Face;
        public VisemeShapeSet ShapeSet = VisemeShapeSet.Oculus;
        [Tooltip("For JawOnly: the shape that opens the mouth.")]
        public string JawShape = "jawOpen";
        [Range(0f, 2f)] public float Gain = 1f;

        private VisemeMap _map;
        private int[] _index;
        private float[] _weights;
        private Mesh _mesh;

        public VisemeMap Map { get { Resolve(); return _map; } }
        /// <summary>How many of the map's targets this mesh has.</summary>
        public int BoundShapes { get { Resolve(); int n = 0; foreach (var i in _index) if (i >= 0) n++; return n; } }

        private void Resolve()
        {
            var mesh = Face != null ? Face.sharedMesh : null;
            if (_map != null && mesh == _mesh) return;
            _mesh = mesh;
            switch (ShapeSet)
            {
                case VisemeShapeSet.Arkit: _map = VisemeMap.Arkit; break;
                case VisemeShapeSet.JawOnly: _map = VisemeMap.JawOnly(JawShape); break;
                default: _map = VisemeMap.Oculus; break;
            }
            _index = new int[_map.Targets.Length];
            _weights = new float[_map.Targets.Length];
            for (int t = 0; t < _index.Length; t++) _index[t] = mesh == null ? -1 : Find(mesh, _map.Targets[t]);
        }

        private static int Find(Mesh mesh, string name)
        {
            int i = mesh.GetBlendShapeIndex(name);
            if (i >= 0) return i;
            for (int k = 0; k < mesh.blendShapeCount; k++)
            {
                string n = mesh.GetBlendShapeName(k);
                int dot = n.LastIndexOf('.');
                if (dot >= 0) n = n.Substring(dot + 1);
                if (string.Equals(n, name, System.StringComparison.OrdinalIgnoreCase)) return k;
            }
            return -1;
        }

        /// <summary>Apply viseme weights (protocol order, 0..1).</summary>
        public void Apply(float[] visemeWeights)
        {
            if (Face == null) return;
            Resolve();
            _map.Apply(visemeWeights, _weights);
            for (int t = 0; t < _index.Length; t++)
            {
                if (_index[t] < 0) continue;
                Face.SetBlendShapeWeight(_index[t], Mathf.Clamp01(_weights[t] * Gain) * 100f); // Unity's 0..100
            }
        }
    }
}
