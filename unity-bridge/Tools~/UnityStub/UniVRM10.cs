// Stand-in for the part of UniVRM's VRM 1.0 runtime (com.vrmc.vrm, namespace UniVRM10) the
// bridge's VrmExpressionDriver uses, so its AVATAR_REALTIME_VRM10 branch is type-checked too.
// Compile-only, like UnityEngine.cs; names and signatures from UniVRM's Vrm10Instance,
// Vrm10Runtime, Vrm10RuntimeExpression and ExpressionKey.
using System;

namespace UniVRM10
{
    public enum ExpressionPreset { custom, happy, angry, sad, relaxed, surprised, aa, ih, ou, ee, oh, blink, blinkLeft, blinkRight }

    public readonly struct ExpressionKey
    {
        public static ExpressionKey CreateFromPreset(ExpressionPreset preset) { throw new NotSupportedException(); }
        public static ExpressionKey Happy { get { throw new NotSupportedException(); } }
        public static ExpressionKey Angry { get { throw new NotSupportedException(); } }
        public static ExpressionKey Sad { get { throw new NotSupportedException(); } }
        public static ExpressionKey Relaxed { get { throw new NotSupportedException(); } }
        public static ExpressionKey Surprised { get { throw new NotSupportedException(); } }
        public static ExpressionKey Aa { get { throw new NotSupportedException(); } }
        public static ExpressionKey Ih { get { throw new NotSupportedException(); } }
        public static ExpressionKey Ou { get { throw new NotSupportedException(); } }
        public static ExpressionKey Ee { get { throw new NotSupportedException(); } }
        public static ExpressionKey Oh { get { throw new NotSupportedException(); } }
    }

    public sealed class Vrm10RuntimeExpression
    {
        public void SetWeight(ExpressionKey expressionKey, float weight) { throw new NotSupportedException(); }
    }

    public sealed class Vrm10Runtime
    {
        public Vrm10RuntimeExpression Expression { get { throw new NotSupportedException(); } }
    }

    public sealed class Vrm10Instance : UnityEngine.MonoBehaviour
    {
        public Vrm10Runtime Runtime { get { throw new NotSupportedException(); } }
    }
}
