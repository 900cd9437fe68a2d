using System;
using System.Collections.Generic;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Audio
{
    public sealed class JitterOptions
    {
        /// <summary>Audio buffered before a response starts playing (ms); the lead never shrinks below it.</summary>
        public double LeadMs = 120;
        /// <summary>The lead never grows beyond this (ms).</summary>
        public double MaxLeadMs = 500;
    }

    public enum PlaybackState
    {
        /// <summary>No response (nothing received since the last flush).</summary>
        Idle,
        /// <summary>Waiting until the lead is buffered (at the start, or after an underrun).</summary>
        Buffering,
        Playing,
        /// <summary>Every sample up to <c>response.audio.done.total_samples</c> was played.</summary>
        Ended,
    }

    /// <summary>
    /// The jitter buffer, pull model: the audio callback (Unity's <c>OnAudioFilterRead</c>, or the
    /// console's virtual device) reads samples; the network thread pushes frames.
    ///
    /// Each response has its own timeline: sample 0 is its first sample, and a frame's
    /// <c>sample_offset</c> says where it lies, so frames land where they belong whatever order they
    /// come in. Playback starts once <see cref="LeadMs"/> of audio is buffered (or the response's
    /// audio is complete). When the read position reaches samples that have not arrived and nothing
    /// beyond them has either, that is an underrun: playback stalls (silence, the timeline position
    /// stays) until the lead is buffered again, and the lead grows by half plus 20 ms, up to
    /// <see cref="JitterOptions.MaxLeadMs"/>; it relaxes by 10 % after a response that played without
    /// one (the web client's policy, client-web/src/audio/jitter.ts). A hole with audio beyond it is
    /// a gap in the timeline and plays as silence; a frame that arrives after its time is late: its
    /// past part is dropped (<see cref="LateSamples"/>), the rest plays.
    ///
    /// <see cref="PositionSamples"/> is the response-timeline position that drives visemes,
    /// animation and <c>playback.mark</c>; after the last sample, <see cref="PositionMsAt"/> keeps
    /// moving with the clock (the timeline goes on in silence), so talk_end and late cues are
    /// reached. Thread-safe: one lock, held briefly.
    /// </summary>
    public sealed class PlaybackBuffer
    {
        private sealed class Chunk
        {
            public int Offset;
            public short[] Samples;
            public int End { get { return Offset + Samples.Length; } }
        }

        private readonly object _lock = new object();
        private readonly JitterOptions _options;
        private readonly List<Chunk> _chunks = new List<Chunk>(); // sorted by Offset, non-overlapping
        private readonly HashSet<int> _flushed = new HashSet<int>();
        private int _responseId = -1;
        private int _lastResponseId = -1;
        private long _position;
        private long _total = -1;
        private double _leadMs;
        private PlaybackState _state = PlaybackState.Idle;
        private bool _underrunThisResponse;
        private bool _starved;
        // the last Read: position before and after, at which clock time
        private long _readFrom, _readTo;
        private double _readClock = double.NaN;
        private double _endClock = double.NaN; // audio clock at the response's last sample
        private float[] _mono = new float[0];
        private double _resamplePos; // fractional position in source samples between calls (resampling)
        private float _prevSample, _nextSample;
        private bool _haveNext;

        public PlaybackBuffer(int sampleRate, JitterOptions options = null)
        {
            if (sampleRate <= 0) throw new ArgumentOutOfRangeException("sampleRate");
            SampleRate = sampleRate;
            _options = options ?? new JitterOptions();
            _leadMs = _options.LeadMs;
        }

        public int SampleRate { get; private set; }
        public int Underruns { get; private set; }
        public long LateSamples { get; private set; }
        public int DuplicateFrames { get; private set; }
        public long SamplesPlayed { get; private set; }

        /// <summary>Change the rate (a new session.ready); drops what is buffered.</summary>
        public void SetRate(int sampleRate)
        {
            lock (_lock)
            {
                if (sampleRate == SampleRate) return;
                if (sampleRate <= 0) throw new ArgumentOutOfRangeException("sampleRate");
                SampleRate = sampleRate;
                FlushLocked(false);
            }
        }

        public double LeadMs { get { lock (_lock) return _leadMs; } }
        public PlaybackState State { get { lock (_lock) return _state; } }
        /// <summary>The response being played or buffered, or null.</summary>
        public int? ResponseId { get { lock (_lock) return _responseId < 0 ? (int?)null : _responseId; } }
        /// <summary>Position on the current response's timeline (samples played).</summary>
        public long PositionSamples { get { lock (_lock) return _position; } }
        /// <summary>Samples of the current response received so far (the timeline's extent).</summary>
        public long ReceivedEnd { get { lock (_lock) return _chunks.Count == 0 ? 0 : _chunks[_chunks.Count - 1].End; } }
        /// <summary>Audio is audible now or queued to be.</summary>
        public bool Active { get { lock (_lock) return _state == PlaybackState.Playing || _state == PlaybackState.Buffering; } }

        /// <summary>Forget flushed response ids (a new connection numbers responses from 1 again).</summary>
        public void Reset()
        {
            lock (_lock)
            {
                FlushLocked(false);
                _flushed.Clear();
                _lastResponseId = -1;
            }
        }

        /// <summary>
        /// Queue a frame. A frame of a newer response starts it (dropping what the previous one
        /// still had queued); frames of a flushed or older response are ignored. Returns whether
        /// any of its samples were kept.
        /// </summary>
        public bool Push(AudioFrame frame)
        {
            if (frame == null || frame.Samples.Length == 0) return false;
            lock (_lock)
            {
                if (_flushed.Contains(frame.ResponseId) || frame.ResponseId < _lastResponseId) return false;
                if (frame.ResponseId != _responseId) Begin(frame.ResponseId);
                int offset = frame.SampleOffset;
                short[] samples = frame.Samples;
                if (offset + samples.Length <= _position)
                {
                    LateSamples += samples.Length;
                    return false;
                }
                if (offset < _position)
                {
                    int skip = (int)(_position - offset);
                    LateSamples += skip;
                    samples = Slice(samples, skip, samples.Length - skip);
                    offset += skip;
                }
                return Insert(offset, samples);
            }
        }

        /// <summary><c>response.audio.done</c>: the response has <paramref name="totalSamples"/> samples.</summary>
        public void Finish(int responseId, long totalSamples)
        {
            lock (_lock)
            {
                if (responseId != _responseId) return;
                _total = totalSamples;
                _starved = false; // running dry at the end was not an underrun
                if (_position >= _total)
                {
                    EndLocked();
                    // the last sample played during the last read
                    if (!double.IsNaN(_readClock)) _endClock = _readClock + (_readTo - _readFrom) / (double)SampleRate;
                }
            }
        }

        /// <summary>Stop now and drop everything queued (barge-in, cancel); later frames of this
        /// response are ignored.</summary>
        public void Flush()
        {
            lock (_lock) FlushLocked(true);
        }

        /// <summary>
        /// Fill <paramref name="count"/> mono samples at the source rate (silence where nothing plays)
        /// and advance the timeline. <paramref name="clockS"/> is the audio clock when they start
        /// playing (Unity: <c>AudioSettings.dspTime</c>); it lets <see cref="PositionMsAt"/> move
        /// smoothly between callbacks. Returns the response samples played.
        /// </summary>
        public int Read(float[] dst, int offset, int count, double clockS)
        {
            lock (_lock)
            {
                long from = _position;
                int played = ReadLocked(dst, offset, count);
                MarkRead(from, clockS);
                return played;
            }
        }

        /// <summary>
        /// Fill an interleaved buffer of <paramref name="channels"/> channels at
        /// <paramref name="outRate"/> (Unity's <c>OnAudioFilterRead(data, channels)</c> at
        /// <c>AudioSettings.outputSampleRate</c>): the response audio, linearly resampled, on every
        /// channel.
        /// </summary>
        public void FillInterleaved(float[] data, int channels, int outRate, double clockS)
        {
            if (channels <= 0) throw new ArgumentOutOfRangeException("channels");
            int frames = data.Length / channels;
            lock (_lock)
            {
                long from = _position;
                if (outRate == SampleRate)
                {
                    EnsureMono(frames);
                    ReadLocked(_mono, 0, frames);
                    for (int i = 0; i < frames; i++)
                        for (int c = 0; c < channels; c++) data[i * channels + c] = _mono[i];
                }
                else
                {
                    double step = (double)SampleRate / outRate;
                    for (int i = 0; i < frames; i++)
                    {
                        while (_resamplePos >= 1.0 || !_haveNext)
                        {
                            _prevSample = _haveNext ? _nextSample : 0f;
                            EnsureMono(1);
                            ReadLocked(_mono, 0, 1);
                            _nextSample = _mono[0];
                            if (_haveNext) _resamplePos -= 1.0;
                            _haveNext = true;
                        }
                        float s = (float)(_prevSample + (_nextSample - _prevSample) * _resamplePos);
                        for (int c = 0; c < channels; c++) data[i * channels + c] = s;
                        _resamplePos += step;
                    }
                }
                MarkRead(from, clockS);
            }
        }

        private void MarkRead(long from, double clockS)
        {
            _readFrom = from;
            _readTo = _position;
            _readClock = clockS;
            if (_state == PlaybackState.Ended && double.IsNaN(_endClock))
                _endClock = clockS + (_position - from) / (double)SampleRate;
        }

        /// <summary>
        /// The timeline position (ms) audible at audio-clock time <paramref name="clockS"/>: the last
        /// read block advanced over its duration. Null when no response is playing.
        /// </summary>
        public double? PositionMsAt(double clockS)
        {
            lock (_lock)
            {
                if (_responseId < 0) return null;
                if (_state == PlaybackState.Idle) return null;
                if (_state == PlaybackState.Ended)
                {
                    // the response's timeline goes on in silence after its last sample
                    double since = double.IsNaN(_endClock) ? 0 : Math.Max(0, clockS - _endClock);
                    return (_position + since * SampleRate) * 1000.0 / SampleRate;
                }
                long pos = _position;
                if (!double.IsNaN(_readClock) && _readTo >= _readFrom && _readTo == _position)
                {
                    double t = Math.Max(0, clockS - _readClock);
                    pos = Math.Min(_readTo, _readFrom + (long)Math.Round(t * SampleRate));
                }
                if (_state == PlaybackState.Buffering && pos == 0) return null;
                return pos * 1000.0 / SampleRate;
            }
        }

        // ------------------------------------------------------------------ internals
        private void Begin(int responseId)
        {
            FlushLocked(false);
            _responseId = responseId;
            _lastResponseId = responseId;
            _state = PlaybackState.Buffering;
        }

        private void FlushLocked(bool remember)
        {
            if (_responseId >= 0 && remember) _flushed.Add(_responseId);
            _chunks.Clear();
            _responseId = -1;
            _position = 0;
            _total = -1;
            _state = PlaybackState.Idle;
            _underrunThisResponse = false;
            _starved = false;
            _readFrom = _readTo = 0;
            _readClock = double.NaN;
            _endClock = double.NaN;
            _haveNext = false;
            _resamplePos = 0;
        }

        private void EndLocked()
        {
            if (_state == PlaybackState.Ended) return;
            _state = PlaybackState.Ended;
            if (!_underrunThisResponse) _leadMs = Math.Max(_options.LeadMs, _leadMs * 0.9);
        }

        private bool Insert(int offset, short[] samples)
        {
            // clip against chunks already present (duplicates and overlaps keep the first copy)
            int end = offset + samples.Length;
            int i = 0;
            while (i < _chunks.Count && _chunks[i].End <= offset) i++;
            bool kept = false;
            int cursor = offset;
            while (cursor < end)
            {
                int nextStart = i < _chunks.Count ? _chunks[i].Offset : int.MaxValue;
                if (cursor < nextStart)
                {
                    int stop = Math.Min(end, nextStart);
                    _chunks.Insert(i, new Chunk { Offset = cursor, Samples = Slice(samples, cursor - offset, stop - cursor) });
                    i++;
                    kept = true;
                    cursor = stop;
                }
                else
                {
                    cursor = Math.Max(cursor, _chunks[i].End);
                    i++;
                }
            }
            if (!kept) DuplicateFrames++;
            else if (_starved)
            {
                // the reader ran dry and more audio of this response came: that was an underrun
                _starved = false;
                Underruns++;
                _underrunThisResponse = true;
                _leadMs = Math.Min(_options.MaxLeadMs, _leadMs * 1.5 + 20);
            }
            return kept;
        }

        private static short[] Slice(short[] s, int from, int count)
        {
            if (from == 0 && count == s.Length) return s;
            var r = new short[count];
            Array.Copy(s, from, r, 0, count);
            return r;
        }

        private void EnsureMono(int n)
        {
            if (_mono.Length < n) _mono = new float[Math.Max(n, 1024)];
        }

        private long BufferedAhead()
        {
            long end = _chunks.Count == 0 ? 0 : _chunks[_chunks.Count - 1].End;
            return Math.Max(0, end - _position);
        }

        private bool ReadyToPlay()
        {
            if (_total >= 0) return true; // the whole response is here
            return BufferedAhead() * 1000.0 / SampleRate >= _leadMs;
        }

        private int ReadLocked(float[] dst, int offset, int count)
        {
            int played = 0;
            int n = 0;
            while (n < count)
            {
                if (_state == PlaybackState.Buffering && ReadyToPlay()) _state = PlaybackState.Playing;
                if (_state != PlaybackState.Playing) break;
                if (_total >= 0 && _position >= _total) { EndLocked(); break; }
                // drop chunks entirely behind the position
                while (_chunks.Count > 0 && _chunks[0].End <= _position) _chunks.RemoveAt(0);
                if (_chunks.Count == 0)
                {
                    if (_total >= 0) { EndLocked(); break; } // audio.done said more, but nothing came: end
                    _starved = true; // an underrun if more audio comes, the end if audio.done does
                    _state = PlaybackState.Buffering;
                    break;
                }
                var c = _chunks[0];
                long limit = _total >= 0 ? _total : long.MaxValue;
                if (c.Offset > _position)
                {
                    // a gap in the timeline: silence up to the next chunk
                    int gap = (int)Math.Min(Math.Min(c.Offset - _position, count - n), limit - _position);
                    Array.Clear(dst, offset + n, gap);
                    n += gap;
                    _position += gap;
                    played += gap;
                    continue;
                }
                int from = (int)(_position - c.Offset);
                int take = (int)Math.Min(Math.Min(c.Samples.Length - from, count - n), limit - _position);
                for (int k = 0; k < take; k++) dst[offset + n + k] = c.Samples[from + k] / 32768f;
                n += take;
                _position += take;
                played += take;
            }
            if (n < count) Array.Clear(dst, offset + n, count - n);
            SamplesPlayed += played;
            return played;
        }
    }
}
