// A minimal stand-in for the UnityEngine API the bridge's Unity layer uses, so `bash build.sh`
// can type-check that layer with Mono's mcs. Signatures follow Unity's scripting reference;
// nothing here runs (every body throws). It is NOT Unity: it catches errors in our own code
// (names, types, arguments), not behaviour, and it can drift from the real API.
// Also declared: real UnityEngine types whose names could clash with ours (Animation,
// AnimationState, Motion, Random), so an ambiguity Unity would report is reported here too.
using System;

namespace UnityEngine
{
    internal static class Stub
    {
        public static Exception No() { return new NotSupportedException("UnityEngine stub: compile-only"); }
    }

    public class Object
    {
        public string name { get { throw Stub.No(); } set { throw Stub.No(); } }
        public static implicit operator bool(Object o) { return o != null; }
        public static void Destroy(Object obj) { throw Stub.No(); }
    }

    public class Component : Object
    {
        public GameObject gameObject { get { throw Stub.No(); } }
        public T GetComponent<T>() { throw Stub.No(); }
    }

    public class Behaviour : Component
    {
        public bool enabled { get { throw Stub.No(); } set { throw Stub.No(); } }
    }

    public class MonoBehaviour : Behaviour { }

    public sealed class GameObject : Object
    {
        public GameObject(string name) { throw Stub.No(); }
        public T AddComponent<T>() where T : Component { throw Stub.No(); }
        public T GetComponent<T>() { throw Stub.No(); }
    }

    public sealed class AudioClip : Object
    {
        public int samples { get { throw Stub.No(); } }
        public int channels { get { throw Stub.No(); } }
        public int frequency { get { throw Stub.No(); } }
        public static AudioClip Create(string name, int lengthSamples, int channels, int frequency, bool stream) { throw Stub.No(); }
        public bool GetData(float[] data, int offsetSamples) { throw Stub.No(); }
        public bool SetData(float[] data, int offsetSamples) { throw Stub.No(); }
    }

    public sealed class AudioSource : Behaviour
    {
        public AudioClip clip { get { throw Stub.No(); } set { throw Stub.No(); } }
        public bool loop { get { throw Stub.No(); } set { throw Stub.No(); } }
        public bool playOnAwake { get { throw Stub.No(); } set { throw Stub.No(); } }
        public bool isPlaying { get { throw Stub.No(); } }
        public void Play() { throw Stub.No(); }
        public void Stop() { throw Stub.No(); }
    }

    public sealed class AudioSettings
    {
        public static int outputSampleRate { get { throw Stub.No(); } }
        public static double dspTime { get { throw Stub.No(); } }
    }

    public sealed class Microphone
    {
        public static string[] devices { get { throw Stub.No(); } }
        public static AudioClip Start(string deviceName, bool loop, int lengthSec, int frequency) { throw Stub.No(); }
        public static void End(string deviceName) { throw Stub.No(); }
        public static int GetPosition(string deviceName) { throw Stub.No(); }
        public static bool IsRecording(string deviceName) { throw Stub.No(); }
        public static void GetDeviceCaps(string deviceName, out int minFreq, out int maxFreq) { throw Stub.No(); }
    }

    public class Mesh : Object
    {
        public int blendShapeCount { get { throw Stub.No(); } }
        public int GetBlendShapeIndex(string blendShapeName) { throw Stub.No(); }
        public string GetBlendShapeName(int shapeIndex) { throw Stub.No(); }
    }

    public class Renderer : Component { }

    public class SkinnedMeshRenderer : Renderer
    {
        public Mesh sharedMesh { get { throw Stub.No(); } set { throw Stub.No(); } }
        public float GetBlendShapeWeight(int index) { throw Stub.No(); }
        public void SetBlendShapeWeight(int index, float value) { throw Stub.No(); }
    }

    public enum AnimatorControllerParameterType { Float = 1, Int = 3, Bool = 4, Trigger = 9 }

    public class AnimatorControllerParameter
    {
        public string name { get { throw Stub.No(); } }
        public int nameHash { get { throw Stub.No(); } }
        public AnimatorControllerParameterType type { get { throw Stub.No(); } }
    }

    public class Animator : Behaviour
    {
        public AnimatorControllerParameter[] parameters { get { throw Stub.No(); } }
        public static int StringToHash(string name) { throw Stub.No(); }
        public void SetBool(int id, bool value) { throw Stub.No(); }
        public void SetFloat(int id, float value) { throw Stub.No(); }
        public void SetInteger(int id, int value) { throw Stub.No(); }
        public void SetTrigger(int id) { throw Stub.No(); }
    }

    // names that exist in UnityEngine and must not clash with the bridge's
    public sealed class Animation : Behaviour { }
    public sealed class AnimationState { }
    public class Motion : Object { }
    public static class Random { public static float value { get { throw Stub.No(); } } }

    public struct Mathf
    {
        public static int Clamp(int value, int min, int max) { throw Stub.No(); }
        public static float Clamp(float value, float min, float max) { throw Stub.No(); }
        public static float Clamp01(float value) { throw Stub.No(); }
    }

    public class Time
    {
        public static float deltaTime { get { throw Stub.No(); } }
        public static float unscaledDeltaTime { get { throw Stub.No(); } }
        public static float realtimeSinceStartup { get { throw Stub.No(); } }
    }

    public class Debug
    {
        public static void Log(object message) { throw Stub.No(); }
        public static void LogWarning(object message) { throw Stub.No(); }
        public static void LogError(object message) { throw Stub.No(); }
    }

    public struct Rect
    {
        public Rect(float x, float y, float width, float height) { throw Stub.No(); }
    }

    public sealed class GUILayoutOption { }

    public class GUILayout
    {
        public static void BeginArea(Rect screenRect) { throw Stub.No(); }
        public static void EndArea() { throw Stub.No(); }
        public static void Label(string text, params GUILayoutOption[] options) { throw Stub.No(); }
        public static string TextField(string text, params GUILayoutOption[] options) { throw Stub.No(); }
        public static bool Button(string text, params GUILayoutOption[] options) { throw Stub.No(); }
        public static GUILayoutOption Width(float width) { throw Stub.No(); }
    }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public class PropertyAttribute : Attribute { }
    public sealed class HeaderAttribute : PropertyAttribute { public HeaderAttribute(string header) { } }
    public sealed class TooltipAttribute : PropertyAttribute { public TooltipAttribute(string tooltip) { } }
    public sealed class RangeAttribute : PropertyAttribute { public RangeAttribute(float min, float max) { } }
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public sealed class RequireComponent : Attribute { public RequireComponent(Type requiredComponent) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }
}

namespace UnityEngine.Events
{
    public abstract class UnityEventBase { }

    public class UnityEvent<T0> : UnityEventBase
    {
        public void AddListener(Action<T0> call) { throw UnityEngine.Stub.No(); }
        public void Invoke(T0 arg0) { throw UnityEngine.Stub.No(); }
    }
}

namespace UnityEngine.TestTools
{
    [AttributeUsage(AttributeTargets.Method)] public sealed class UnityTestAttribute : Attribute { }
}
