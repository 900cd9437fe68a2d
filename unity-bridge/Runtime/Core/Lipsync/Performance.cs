using System;
using System.Collections.Generic;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Core.Lipsync
{
    public struct Cue
    {
        /// <summary><c>emotion</c> or <c>gesture</c>.</summary>
        public string Kind;
        public string Name;
        public double TMs;
    }

    /// <summary>
    /// What the avatar performs for the response being heard: its visemes and animation events,
    /// all on the response's audio timeline, sampled at the position the audio clock says is
    /// audible (the web client's Performance, client-web/src/lipsync/performance.ts). Pure: the
    /// position is passed in, so drivers only read <see cref="Sample"/> each frame.
    /// </summary>
    public sealed class Performance
    {
        private readonly VisemeTrack _track = new VisemeTrack();
        private readonly List<Cue> _anims = new List<Cue>();
        private int _nextAnim;
        private double? _talkStart, _talkEnd;

        /// <summary>Target viseme weights (protocol order) of the last <see cref="Sample"/>.</summary>
        public readonly float[] Targets = new float[Visemes.Count];
        /// <summary>Emotion/gesture events whose time came during the last <see cref="Sample"/>.</summary>
        public readonly List<Cue> Cues = new List<Cue>();

        public int? ResponseId { get; private set; }
        /// <summary>Between talk_start and talk_end at the last sampled position.</summary>
        public bool Talking { get; private set; }
        public double? PositionMs { get; private set; }
        public int VisemeCount { get { return _track.Count; } }
        public double VisemeEndMs { get { return _track.EndMs; } }

        /// <summary>Start following a new response (drops what the previous one still had queued).</summary>
        public void Begin(int responseId)
        {
            Flush();
            ResponseId = responseId;
        }

        /// <summary>Stop now: no more visemes or talk motion (barge-in, cancel).</summary>
        public void Flush()
        {
            ResponseId = null;
            _track.Clear();
            _anims.Clear();
            _nextAnim = 0;
            _talkStart = _talkEnd = null;
            Talking = false;
            Array.Clear(Targets, 0, Targets.Length);
        }

        public void AddVisemes(VisemesMsg msg)
        {
            if (msg.ResponseId == ResponseId) _track.Add(msg.Visemes);
        }

        public void AddAnimation(Animation msg)
        {
            if (msg.ResponseId != ResponseId) return;
            if (msg.Action == "talk_start") _talkStart = msg.TMs;
            else if (msg.Action == "talk_end") _talkEnd = msg.TMs;
            else
            {
                var cue = new Cue { Kind = msg.Action, Name = msg.Name, TMs = msg.TMs };
                int at = _anims.Count;
                for (int i = _nextAnim; i < _anims.Count; i++)
                {
                    if (_anims[i].TMs > msg.TMs) { at = i; break; }
                }
                _anims.Insert(at, cue);
            }
        }

        /// <summary>Sample at <paramref name="positionMs"/> (null: the response's audio is not playing).</summary>
        public void Sample(double? positionMs)
        {
            Cues.Clear();
            PositionMs = positionMs;
            if (!positionMs.HasValue || !ResponseId.HasValue)
            {
                Array.Clear(Targets, 0, Targets.Length);
                Talking = false;
                return;
            }
            double p = positionMs.Value;
            _track.TargetsAt(p, Targets);
            while (_nextAnim < _anims.Count && _anims[_nextAnim].TMs <= p)
            {
                var a = _anims[_nextAnim++];
                if ((a.Kind == "emotion" || a.Kind == "gesture") && !string.IsNullOrEmpty(a.Name)) Cues.Add(a);
            }
            Talking = _talkStart.HasValue && p >= _talkStart.Value && (!_talkEnd.HasValue || p < _talkEnd.Value);
        }
    }

    /// <summary>
    /// Talk, emotion and gesture state for an animation controller: <see cref="Talking"/> follows
    /// talk_start/talk_end on the audio clock; an emotion cue raises its weight (0.25 s) and lowers
    /// the others (0.6 s), and lasts <see cref="EmotionHoldS"/> unless another comes (<c>neutral</c>
    /// clears it); gestures are one-shot triggers (the web client's motion.ts does the same).
    /// </summary>
    public sealed class AvatarState
    {
        public static readonly string[] Emotions = { "happy", "sad", "angry", "surprised", "relaxed" };
        public double EmotionHoldS = 6;
        public readonly float[] EmotionWeights = new float[Emotions.Length];
        /// <summary>Gestures triggered since the last <see cref="Step"/> (e.g. <c>wave</c>, <c>nod</c>).</summary>
        public readonly List<string> Gestures = new List<string>();
        public bool Talking { get; private set; }
        public string Emotion { get; private set; }
        private double _t, _emotionUntil;

        public void Step(Performance performance, double dtS)
        {
            _t += Math.Max(0, dtS);
            Gestures.Clear();
            Talking = performance.Talking;
            foreach (var cue in performance.Cues)
            {
                if (cue.Kind == "gesture") Gestures.Add(cue.Name);
                else if (cue.Name == "neutral") Emotion = null;
                else if (Array.IndexOf(Emotions, cue.Name) >= 0) { Emotion = cue.Name; _emotionUntil = _t + EmotionHoldS; }
            }
            if (Emotion != null && _t > _emotionUntil) Emotion = null;
            for (int i = 0; i < Emotions.Length; i++)
            {
                float target = Emotions[i] == Emotion ? 1f : 0f;
                double tau = target > EmotionWeights[i] ? 0.25 : 0.6;
                EmotionWeights[i] += (float)((target - EmotionWeights[i]) * (1 - Math.Exp(-Math.Min(dtS, 0.25) / tau)));
            }
        }

        public float Weight(string emotion)
        {
            int i = Array.IndexOf(Emotions, emotion);
            return i < 0 ? 0f : EmotionWeights[i];
        }
    }
}
