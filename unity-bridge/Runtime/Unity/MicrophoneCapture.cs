using System;
using System.Collections.Generic;
using AvatarRealtime.Core.Audio;
using UnityEngine;

namespace AvatarRealtime
{
    /// <summary>
    /// The microphone as the server wants it: <see cref="Microphone.Start"/> into a looping clip,
    /// polled each frame, downsampled to 16 kHz and cut into 20 ms PCM16 frames (640 bytes) by the
    /// core's <see cref="MicrophoneFramer"/>. Unity's microphone has no echo cancellation: use
    /// headphones or the platform's voice-processing input, or the avatar hears itself and
    /// interrupts (docs/protocol.md, "Echo").
    /// </summary>
    [DisallowMultipleComponent]
    [AddComponentMenu("Avatar Realtime/Microphone Capture")]
    public sealed class MicrophoneCapture : MonoBehaviour
    {
        [Tooltip("Device name; empty for the default microphone.")]
        [SerializeField] private string deviceName = "";
        [Tooltip("Capture rate asked of the device (clamped to what it supports).")]
        [SerializeField] private int captureRate = 48000;
        [Tooltip("Frames are produced only while this is on (push-to-talk: toggle it).")]
        public bool Muted;

        private AudioClip _clip;
        private MicrophoneFramer _framer;
        private int _readPos;
        private string _device;

        public bool Recording { get { return _clip != null && Microphone.IsRecording(_device); } }

        /// <summary>Start capturing. Returns false when there is no microphone.</summary>
        public bool StartCapture()
        {
            if (Recording) return true;
            if (Microphone.devices.Length == 0) return false;
            _device = string.IsNullOrEmpty(deviceName) ? null : deviceName;
            int min, max;
            Microphone.GetDeviceCaps(_device, out min, out max);
            int rate = captureRate;
            if (max > 0) rate = Mathf.Clamp(rate, Math.Max(min, MicrophoneFramer.Rate / 2), max);
            _clip = Microphone.Start(_device, true, 1, rate);
            if (_clip == null) return false;
            _framer = new MicrophoneFramer(_clip.frequency);
            _readPos = 0;
            return true;
        }

        public void StopCapture()
        {
            if (_clip != null) Microphone.End(_device);
            _clip = null;
        }

        /// <summary>The 20 ms frames captured since the last call (call once per frame).</summary>
        public List<byte[]> ReadFrames()
        {
            var frames = new List<byte[]>();
            if (!Recording) return frames;
            int pos = Microphone.GetPosition(_device);
            int available = (pos - _readPos + _clip.samples) % _clip.samples;
            if (available == 0) return frames;
            var data = new float[available * _clip.channels];
            _clip.GetData(data, _readPos); // wraps around the looping clip
            _readPos = pos;
            if (Muted) return frames;
            var mono = data;
            if (_clip.channels > 1)
            {
                mono = new float[available];
                for (int i = 0; i < available; i++)
                {
                    float acc = 0;
                    for (int c = 0; c < _clip.channels; c++) acc += data[i * _clip.channels + c];
                    mono[i] = acc / _clip.channels;
                }
            }
            frames.AddRange(_framer.Push(mono, 0, available));
            return frames;
        }

        private void OnDisable() { StopCapture(); }
    }
}
