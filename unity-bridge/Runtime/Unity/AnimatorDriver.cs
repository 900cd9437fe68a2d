using System.Collections.Generic;
using AvatarRealtime.Core.Lipsync;
using UnityEngine;

namespace AvatarRealtime
{
    /// <summary>
    /// Drives an <see cref="Animator"/> from the conversation: a bool while the avatar talks (on
    /// the audio clock, talk_start..talk_end), a float per emotion (0..1, smoothed), and a trigger
    /// per gesture (<c>wave</c>, <c>nod</c>, ...: a trigger parameter of that name, after the
    /// prefix). Parameters the controller does not have are skipped.
    /// </summary>
    [AddComponentMenu("Avatar Realtime/Animator Driver")]
    public sealed class AnimatorDriver : MonoBehaviour
    {
        public Animator Animator;
        public string TalkingBool = "Talking";
        [Tooltip("Emotion floats are named prefix + emotion: Emotion_happy, Emotion_sad, ...")]
        public string EmotionFloatPrefix = "Emotion_";
        [Tooltip("Gesture triggers are named prefix + gesture: Gesture_wave, Gesture_nod, ...")]
        public string GestureTriggerPrefix = "Gesture_";

        private HashSet<int> _params;
        private int _talking;
        private int[] _emotions;

        private bool Has(int hash) { return _params.Contains(hash); }

        private void Resolve()
        {
            if (_params != null) return;
            _params = new HashSet<int>();
            foreach (var p in Animator.parameters) _params.Add(p.nameHash);
            _talking = Animator.StringToHash(TalkingBool);
            _emotions = new int[AvatarState.Emotions.Length];
            for (int i = 0; i < _emotions.Length; i++) _emotions[i] = Animator.StringToHash(EmotionFloatPrefix + AvatarState.Emotions[i]);
        }

        public void Apply(AvatarState state)
        {
            if (Animator == null || state == null) return;
            Resolve();
            if (Has(_talking)) Animator.SetBool(_talking, state.Talking);
            for (int i = 0; i < _emotions.Length; i++)
                if (Has(_emotions[i])) Animator.SetFloat(_emotions[i], state.EmotionWeights[i]);
            foreach (var g in state.Gestures)
            {
                int h = Animator.StringToHash(GestureTriggerPrefix + g);
                if (Has(h)) Animator.SetTrigger(h);
            }
        }
    }
}
