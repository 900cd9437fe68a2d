using AvatarRealtime.Core.Lipsync;
using UnityEngine;
#if AVATAR_REALTIME_VRM10
using UniVRM10;
#endif

namespace AvatarRealtime
{
    /// <summary>
    /// Drives a VRM 1.0 avatar (UniVRM's <c>com.vrmc.vrm</c>; compiled in when that package is
    /// present, through the asmdef's versionDefines): the mouth expressions <c>aa ih ou ee oh</c>
    /// from the viseme weights (docs/visemes.md, "Oculus -> VRM") and the emotion expressions
    /// <c>happy sad angry surprised relaxed</c> from the animation state. Without UniVRM it does
    /// nothing and says so once.
    /// </summary>
    [AddComponentMenu("Avatar Realtime/VRM Expression Driver")]
    public sealed class VrmExpressionDriver : MonoBehaviour
    {
#if AVATAR_REALTIME_VRM10
        public Vrm10Instance Vrm;
        private static readonly ExpressionKey[] Mouth = { ExpressionKey.Aa, ExpressionKey.Ih, ExpressionKey.Ou, ExpressionKey.Ee, ExpressionKey.Oh };
        private static readonly string[] MouthNames = { "aa", "ih", "ou", "ee", "oh" };
        private static readonly ExpressionKey[] Emotions = { ExpressionKey.Happy, ExpressionKey.Sad, ExpressionKey.Angry, ExpressionKey.Surprised, ExpressionKey.Relaxed };
        private readonly float[] _vrm = new float[5];
        private int[] _order;
#else
        private bool _warned;
#endif
        [Range(0f, 1f)] public float EmotionStrength = 0.8f;

        /// <summary>Apply viseme weights (protocol order) and the animation state's emotions.</summary>
        public void Apply(float[] visemeWeights, AvatarState animation)
        {
#if AVATAR_REALTIME_VRM10
            if (Vrm == null || Vrm.Runtime == null) return;
            if (_order == null)
            {
                _order = new int[MouthNames.Length];
                for (int i = 0; i < MouthNames.Length; i++) _order[i] = System.Array.IndexOf(VisemeMap.Vrm.Targets, MouthNames[i]);
            }
            VisemeMap.Vrm.Apply(visemeWeights, _vrm);
            var expression = Vrm.Runtime.Expression;
            for (int i = 0; i < Mouth.Length; i++) expression.SetWeight(Mouth[i], _vrm[_order[i]]);
            if (animation != null)
            {
                // AvatarState.Emotions is happy, sad, angry, surprised, relaxed: the same order
                for (int i = 0; i < Emotions.Length; i++) expression.SetWeight(Emotions[i], animation.EmotionWeights[i] * EmotionStrength);
            }
#else
            if (!_warned)
            {
                _warned = true;
                Debug.LogWarning("VrmExpressionDriver: UniVRM (com.vrmc.vrm) is not installed; use a BlendShapeDriver instead.");
            }
#endif
        }
    }
}
