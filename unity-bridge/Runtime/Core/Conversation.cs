using System;
using System.Collections.Generic;
using AvatarRealtime.Core.Audio;
using AvatarRealtime.Core.Lipsync;
using AvatarRealtime.Core.Net;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core
{
    /// <summary>
    /// One conversation with the avatar, engine-free: routes the session's events to the jitter
    /// buffer, the viseme timeline and the animation state, and turns the audio clock into mouth
    /// weights, talk/emotion state and <c>playback.mark</c>s. Unity's <c>AvatarConversation</c> and
    /// the console sample both drive it: call <see cref="Pump"/> and <see cref="Tick"/> from one
    /// thread (Unity: <c>Update</c>), and let the audio thread call
    /// <see cref="PlaybackBuffer.FillInterleaved"/> or <see cref="PlaybackBuffer.Read"/>.
    /// </summary>
    public sealed class Conversation
    {
        private readonly HashSet<int> _ignored = new HashSet<int>();
        private double _sinceMark;
        private int _lastMarkResponse = -1;
        private double _lastMarkMs = -1;
        private bool _endMarked;

        public Conversation(AvatarSession session, JitterOptions jitter = null, MouthSmoother mouth = null)
        {
            if (session == null) throw new ArgumentNullException("session");
            Session = session;
            Playback = new PlaybackBuffer(24000, jitter);
            Mouth = mouth ?? new MouthSmoother();
        }

        public AvatarSession Session { get; private set; }
        public PlaybackBuffer Playback { get; private set; }
        public Performance Performance { get; } = new Performance();
        /// <summary>The smoothed mouth: viseme weights (protocol order) after each <see cref="Tick"/>.</summary>
        public MouthSmoother Mouth { get; private set; }
        public AvatarState Avatar { get; } = new AvatarState();
        /// <summary>Send a <c>playback.mark</c> this often while audio plays (s).</summary>
        public double MarkIntervalS = 0.25;
        /// <summary>Stop playback as soon as the server hears the user start speaking over the
        /// avatar (it confirms with <c>response.interrupted</c> when barge-in is on).</summary>
        public bool SilenceOnUserSpeech = true;
        public int MarksSent { get; private set; }
        public int? ActiveResponseId { get; private set; }
        /// <summary>The session's settings (from session.ready, then each session.updated).</summary>
        public SessionConfig Config { get; private set; }
        /// <summary>Called for every event after it was routed (on the thread that calls <see cref="Pump"/>).</summary>
        public event Action<SessionEvent> EventHandled;

        /// <summary>Audio of a response is audible now or queued to be.</summary>
        public bool Speaking { get { return Playback.Active; } }

        /// <summary>Route up to <paramref name="max"/> queued session events.</summary>
        public int Pump(int max = 256)
        {
            return Session.Drain(Handle, max);
        }

        public void Handle(SessionEvent e)
        {
            switch (e.Kind)
            {
                case SessionEventKind.Audio:
                    OnAudio(e.Audio);
                    break;
                case SessionEventKind.Message:
                    OnMessage(e.Message);
                    break;
                case SessionEventKind.Reconnecting:
                case SessionEventKind.Closed:
                    Silence();
                    ActiveResponseId = null;
                    break;
            }
            var handler = EventHandled;
            if (handler != null) handler(e);
        }

        /// <summary>Stop what the avatar is saying, here and at the server (<c>response.cancel</c>).</summary>
        public void Interrupt()
        {
            var id = Playback.ResponseId ?? ActiveResponseId;
            if (id.HasValue)
            {
                var pos = Playback.PositionSamples;
                if (Playback.ResponseId == id) SendMark(id.Value, pos * 1000.0 / Playback.SampleRate);
                Session.Cancel(id.Value);
            }
            Silence();
        }

        /// <summary>
        /// Advance to audio-clock time <paramref name="audioClockS"/> (the clock the audio thread
        /// passes to the playback buffer), <paramref name="dtS"/> after the last tick: samples the
        /// performance at the audible position, smooths the mouth, steps the animation state and
        /// sends marks.
        /// </summary>
        public void Tick(double audioClockS, double dtS)
        {
            double? pos = null;
            var playing = Playback.ResponseId;
            if (playing.HasValue && playing == Performance.ResponseId) pos = Playback.PositionMsAt(audioClockS);
            Performance.Sample(pos);
            // an underrun: the audio is silent until more comes, so the mouth rests (talk state stays)
            if (pos.HasValue && Playback.State == PlaybackState.Buffering) Array.Clear(Performance.Targets, 0, Performance.Targets.Length);
            Mouth.Step(Performance.Targets, dtS);
            Avatar.Step(Performance, dtS);

            _sinceMark += dtS;
            if (playing.HasValue && pos.HasValue && !_ignored.Contains(playing.Value))
            {
                if (Playback.State == PlaybackState.Ended)
                {
                    // once, at the last sample (the timeline position goes on past it)
                    if (!_endMarked) SendMark(playing.Value, Playback.PositionSamples * 1000.0 / Playback.SampleRate);
                    _endMarked = true;
                }
                else if (_sinceMark >= MarkIntervalS)
                {
                    SendMark(playing.Value, pos.Value);
                    _sinceMark = 0;
                }
            }
        }

        private void SendMark(int responseId, double ms)
        {
            double played = Math.Round(ms);
            if (responseId == _lastMarkResponse && played == _lastMarkMs) return;
            if (Session.State != SessionState.Open) return;
            Session.Mark(responseId, played);
            _lastMarkResponse = responseId;
            _lastMarkMs = played;
            MarksSent++;
        }

        private void Silence()
        {
            var playing = Playback.ResponseId;
            if (playing.HasValue) _ignored.Add(playing.Value);
            Playback.Flush();
            Performance.Flush();
        }

        private void OnAudio(AudioFrame frame)
        {
            if (_ignored.Contains(frame.ResponseId)) return;
            // audio of a response whose response.started was missed still drives the avatar
            if (Performance.ResponseId != frame.ResponseId) Performance.Begin(frame.ResponseId);
            if (Playback.ResponseId != frame.ResponseId) _endMarked = false;
            Playback.Push(frame);
        }

        private void OnMessage(ServerMessage m)
        {
            var ready = m as SessionReady;
            if (ready != null)
            {
                // a new connection numbers responses from 1 again
                _ignored.Clear();
                Silence();
                _ignored.Clear();
                Playback.SetRate(ready.OutputSampleRate);
                Playback.Reset();
                ActiveResponseId = null;
                Config = ready.Session;
                return;
            }
            var updated = m as SessionUpdated;
            if (updated != null) { Config = updated.Session; return; }
            var started = m as ResponseStarted;
            if (started != null)
            {
                var playing = Playback.ResponseId;
                if (playing.HasValue && playing.Value != started.ResponseId) Silence();
                Performance.Begin(started.ResponseId);
                ActiveResponseId = started.ResponseId;
                _endMarked = false;
                return;
            }
            var visemes = m as VisemesMsg;
            if (visemes != null) { Performance.AddVisemes(visemes); return; }
            var anim = m as Animation;
            if (anim != null) { Performance.AddAnimation(anim); return; }
            var audioDone = m as AudioDone;
            if (audioDone != null) { Playback.Finish(audioDone.ResponseId, audioDone.TotalSamples); return; }
            var interrupted = m as ResponseInterrupted;
            if (interrupted != null)
            {
                _ignored.Add(interrupted.ResponseId);
                if (Playback.ResponseId == interrupted.ResponseId) Playback.Flush();
                if (Performance.ResponseId == interrupted.ResponseId) Performance.Flush();
                return;
            }
            var done = m as ResponseDone;
            if (done != null)
            {
                if (ActiveResponseId == done.ResponseId) ActiveResponseId = null;
                if (done.Status != "completed" && Playback.ResponseId != done.ResponseId) _ignored.Add(done.ResponseId);
                return;
            }
            var speech = m as SpeechStarted;
            if (speech != null)
            {
                if (SilenceOnUserSpeech && Config != null && Config.BargeIn && Playback.Active) Silence();
            }
        }
    }
}
