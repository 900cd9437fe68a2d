using System;
using AvatarRealtime.Core;
using AvatarRealtime.Core.Audio;
using AvatarRealtime.Core.Lipsync;
using AvatarRealtime.Core.Net;
using AvatarRealtime.Core.Protocol;
using UnityEngine;
using UnityEngine.Events;

namespace AvatarRealtime
{
    /// <summary>
    /// One live conversation with the avatar server, wired to this avatar: connects on start,
    /// streams the microphone (optional), plays the answer through a <see cref="StreamingAudioPlayer"/>,
    /// and each frame turns the audible position into blend-shape / VRM mouth weights and Animator
    /// parameters. Everything network-side happens in the engine-free core
    /// (<see cref="AvatarSession"/>, <see cref="Conversation"/>); this component only drains its
    /// event queue in <see cref="Update"/>, on the main thread.
    /// </summary>
    [DisallowMultipleComponent]
    [AddComponentMenu("Avatar Realtime/Avatar Conversation")]
    public sealed class AvatarConversation : MonoBehaviour
    {
        [Header("Server")]
        [Tooltip("The server's WebSocket, e.g. ws://127.0.0.1:8000/ws")]
        public string ServerUrl = "ws://127.0.0.1:8000/ws";
        [Tooltip("Session token (servers with AVATAR_AUTH_MODE=token); empty for none.")]
        public string Token = "";
        [Tooltip("Resume this conversation (a session id from an earlier session.ready); empty for a new one.")]
        public string ResumeSessionId = "";
        public bool ConnectOnStart = true;

        [Header("Session")]
        [Tooltip("A character id from GET /api/characters; empty for the server's default.")]
        public string CharacterId = "";
        [Tooltip("en, ko, ja, ...; empty for the character's language.")]
        public string Language = "";
        [Tooltip("A voice id from GET /api/tts/voices; empty for the character's voice.")]
        public string Voice = "";

        [Header("Parts (optional)")]
        public StreamingAudioPlayer Player;
        public MicrophoneCapture Microphone;
        public BlendShapeDriver[] BlendShapes = new BlendShapeDriver[0];
        public VrmExpressionDriver Vrm;
        public AnimatorDriver AnimatorDriver;

        [Header("Timing")]
        [Tooltip("Audio buffered before an answer starts playing (ms); grows after underruns.")]
        [Range(20, 500)] public float JitterLeadMs = 120;
        [Range(0.01f, 0.2f)] public float MouthAttackS = 0.035f;
        [Range(0.01f, 0.3f)] public float MouthReleaseS = 0.07f;

        [Header("Events")]
        public StringEvent OnUserTranscript = new StringEvent();
        public StringEvent OnAnswer = new StringEvent();
        public StringEvent OnError = new StringEvent();

        [Serializable] public sealed class StringEvent : UnityEvent<string> { }

        /// <summary>Every session event, after it was routed (main thread).</summary>
        public event Action<SessionEvent> EventReceived;

        public AvatarSession Session { get; private set; }
        public Conversation Conversation { get; private set; }
        public bool Connected { get { return Session != null && Session.State == SessionState.Open; } }

        private void Start()
        {
            if (ConnectOnStart) Connect();
        }

        /// <summary>Open the session (again: the previous one is closed).</summary>
        public void Connect()
        {
            Disconnect();
            var options = new AvatarSessionOptions
            {
                Url = new Uri(ServerUrl),
                Token = string.IsNullOrEmpty(Token) ? null : Token,
                SessionId = string.IsNullOrEmpty(ResumeSessionId) ? null : ResumeSessionId,
            };
            Session = new AvatarSession(options);
            Conversation = new Conversation(Session, new JitterOptions { LeadMs = JitterLeadMs, MaxLeadMs = Math.Max(500, JitterLeadMs) },
                                            new MouthSmoother(Visemes.Count, MouthAttackS, MouthReleaseS));
            Conversation.EventHandled += Route;
            if (Player != null) Player.Buffer = Conversation.Playback;
            var update = SessionSettings();
            if (update != null) Session.UpdateSession(update);
            Session.ConnectAsync();
        }

        private SessionUpdate SessionSettings()
        {
            if (string.IsNullOrEmpty(CharacterId) && string.IsNullOrEmpty(Language) && string.IsNullOrEmpty(Voice)) return null;
            return new SessionUpdate
            {
                CharacterId = string.IsNullOrEmpty(CharacterId) ? null : CharacterId,
                Language = string.IsNullOrEmpty(Language) ? null : Language,
                Voice = string.IsNullOrEmpty(Voice) ? null : Voice,
            };
        }

        public void Disconnect()
        {
            if (Session == null) return;
            if (Player != null) Player.Buffer = null;
            if (Microphone != null) Microphone.StopCapture();
            var s = Session;
            Session = null;
            Conversation = null;
            s.CloseAsync(); // completes on the pool; nothing waits for it here
        }

        /// <summary>Say something to the avatar (a typed turn).</summary>
        public void Say(string text)
        {
            if (Session != null) Session.SendText(text);
        }

        /// <summary>Stop the avatar now (here and at the server).</summary>
        public void Interrupt()
        {
            if (Conversation != null) Conversation.Interrupt();
        }

        private void Update()
        {
            if (Conversation == null) return;
            Conversation.Pump();
            if (Microphone != null && Connected)
            {
                if (!Microphone.Recording) Microphone.StartCapture();
                foreach (var frame in Microphone.ReadFrames()) Session.SendAudio(frame);
            }
            double clock = Player != null ? Player.Clock : AudioSettings.dspTime;
            Conversation.Tick(clock, Time.unscaledDeltaTime);
            var weights = Conversation.Mouth.Weights;
            foreach (var d in BlendShapes) if (d != null) d.Apply(weights);
            if (Vrm != null) Vrm.Apply(weights, Conversation.Avatar);
            if (AnimatorDriver != null) AnimatorDriver.Apply(Conversation.Avatar);
        }

        private void Route(SessionEvent e)
        {
            if (e.Kind == SessionEventKind.Message)
            {
                var transcript = e.Message as TranscriptFinal;
                if (transcript != null) OnUserTranscript.Invoke(transcript.Text);
                var done = e.Message as ResponseDone;
                if (done != null && done.Status == "completed") OnAnswer.Invoke(done.Text);
                var error = e.Message as ErrorMsg;
                if (error != null) OnError.Invoke(error.Code + ": " + error.Message);
            }
            else if (e.Kind == SessionEventKind.Error || e.Kind == SessionEventKind.Closed)
            {
                OnError.Invoke(e.ErrorCode + ": " + e.ErrorMessage);
            }
            var handler = EventReceived;
            if (handler != null) handler(e);
        }

        private void OnDestroy() { Disconnect(); }
    }
}
