using System.Collections;
using AvatarRealtime.Core.Audio;
using AvatarRealtime.Core.Lipsync;
using AvatarRealtime.Core.Protocol;
using NUnit.Framework;
using UnityEngine;
using UnityEngine.TestTools;

namespace AvatarRealtime.PlayModeTests
{
    /// <summary>
    /// PlayMode checks of the Unity layer. They need Unity (Test Runner, PlayMode): the repository's
    /// CI only type-checks them against a stub of UnityEngine, it does not run them.
    /// </summary>
    public class PlayModeTests
    {
        [UnityTest]
        public IEnumerator The_player_pulls_audio_from_the_core_buffer_on_the_audio_thread()
        {
            var go = new GameObject("avatar-voice");
            go.AddComponent<AudioSource>();
            var player = go.AddComponent<StreamingAudioPlayer>();
            var buffer = new PlaybackBuffer(22050, new JitterOptions { LeadMs = 0 });
            var tone = new short[11025];
            for (int i = 0; i < tone.Length; i++) tone[i] = (short)(8000 * System.Math.Sin(i * 0.1));
            buffer.Push(new AudioFrame(1, 0, 0, tone));
            buffer.Finish(1, tone.Length);
            player.Buffer = buffer;
            float until = Time.realtimeSinceStartup + 2f;
            while (buffer.PositionSamples == 0 && Time.realtimeSinceStartup < until) yield return null;
            Assert.Greater(buffer.PositionSamples, 0, "OnAudioFilterRead read the buffer");
            Assert.IsTrue(buffer.PositionMsAt(player.Clock).HasValue);
            Object.Destroy(go);
        }

        [Test]
        public void A_blend_shape_driver_without_a_face_does_nothing()
        {
            var go = new GameObject("face");
            var driver = go.AddComponent<BlendShapeDriver>();
            driver.Apply(new float[Visemes.Count]);
            Assert.AreEqual(0, driver.BoundShapes);
            Object.Destroy(go);
        }
    }
}
