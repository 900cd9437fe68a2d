using AvatarRealtime.Core.Audio;
using UnityEngine;

namespace AvatarRealtime
{
    /// <summary>
    /// Plays the server's audio through this GameObject's <see cref="AudioSource"/>: Unity's audio
    /// thread pulls samples from the core's jitter buffer in <see cref="OnAudioFilterRead"/>, at the
    /// mixer's rate, and stamps each block with <see cref="AudioSettings.dspTime"/> so the audible
    /// position (visemes, animation, <c>playback.mark</c>) follows the DSP clock, not frame time.
    /// The source plays a silent looping clip so the filter runs; 3D settings of the source apply.
    /// </summary>
    [RequireComponent(typeof(AudioSource))]
    [DisallowMultipleComponent]
    [AddComponentMenu("Avatar Realtime/Streaming Audio Player")]
    public sealed class StreamingAudioPlayer : MonoBehaviour
    {
        private AudioSource _source;
        private volatile PlaybackBuffer _buffer;
        private int _outputRate;

        /// <summary>The buffer to play (the conversation's); null plays silence.</summary>
        public PlaybackBuffer Buffer
        {
            get { return _buffer; }
            set { _buffer = value; }
        }

        /// <summary>The DSP clock, for <see cref="PlaybackBuffer.PositionMsAt"/> on the main thread.</summary>
        public double Clock { get { return AudioSettings.dspTime; } }

        private void Awake()
        {
            _outputRate = AudioSettings.outputSampleRate;
            _source = GetComponent<AudioSource>();
            _source.playOnAwake = false;
            _source.loop = true;
            // a silent carrier clip: the filter below replaces its samples
            _source.clip = AudioClip.Create("avatar-voice", _outputRate, 1, _outputRate, false);
            _source.Play();
        }

        private void OnAudioFilterRead(float[] data, int channels)
        {
            var buffer = _buffer;
            if (buffer == null)
            {
                System.Array.Clear(data, 0, data.Length);
                return;
            }
            buffer.FillInterleaved(data, channels, _outputRate, AudioSettings.dspTime);
        }

        private void OnDestroy()
        {
            _buffer = null;
            if (_source != null) _source.Stop();
        }
    }
}
