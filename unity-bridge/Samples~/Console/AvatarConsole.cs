using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using AvatarRealtime.Core;
using AvatarRealtime.Core.Audio;
using AvatarRealtime.Core.Lipsync;
using AvatarRealtime.Core.Net;
using AvatarRealtime.Core.Protocol;

namespace AvatarRealtime.Samples
{
    /// <summary>
    /// One conversation turn from the command line, with the same engine-free core a Unity avatar
    /// uses (AvatarSession, Conversation, PlaybackBuffer, Performance):
    ///
    ///   mono AvatarConsole.exe --url ws://HOST:PORT/ws [--token T] (--text "..." | --wav question.wav)
    ///                          --out reply.wav [--events events.jsonl] [--mouth mouth.csv] [--timeout S]
    ///
    /// A typed message, or a WAV file (any rate, mono or stereo) streamed in real time as 20 ms
    /// microphone frames followed by silence so the server's VAD ends the turn. The answer's audio
    /// plays on a virtual audio device in real time (a thread reading the jitter buffer, as Unity's
    /// audio thread would), sending playback.marks; the mouth weights the core computes on that
    /// clock go to --mouth (one row per 10 ms tick). The received audio is written as a WAV at the
    /// server's output rate, every received event as one JSON object per line (audio frames as
    /// their header fields only). Exit 0 when response.done says completed and playback ended.
    /// </summary>
    public static class AvatarConsole
    {
        private const int ExitUsage = 64, ExitFailed = 2, ExitError = 3, ExitTimeout = 4, ExitRejected = 5;

        private sealed class Args
        {
            public string Url, Token, Text, Wav, Out, Events, Mouth;
            public double TimeoutS = 120;
        }

        public static int Main(string[] argv)
        {
            Args a;
            try { a = Parse(argv); }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                Console.Error.WriteLine("usage: mono AvatarConsole.exe --url ws://HOST:PORT/ws [--token T] (--text \"...\" | --wav question.wav) --out reply.wav [--events events.jsonl] [--mouth mouth.csv] [--timeout S]");
                return ExitUsage;
            }
            try { return Run(a); }
            catch (Exception e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return ExitError;
            }
        }

        private static Args Parse(string[] argv)
        {
            var a = new Args();
            for (int i = 0; i < argv.Length; i++)
            {
                string k = argv[i];
                if (i + 1 >= argv.Length) throw new ArgumentException(k + " needs a value");
                string v = argv[++i];
                switch (k)
                {
                    case "--url": a.Url = v; break;
                    case "--token": a.Token = v; break;
                    case "--text": a.Text = v; break;
                    case "--wav": a.Wav = v; break;
                    case "--out": a.Out = v; break;
                    case "--events": a.Events = v; break;
                    case "--mouth": a.Mouth = v; break;
                    case "--timeout": a.TimeoutS = double.Parse(v, CultureInfo.InvariantCulture); break;
                    default: throw new ArgumentException("unknown option " + k);
                }
            }
            if (a.Url == null) throw new ArgumentException("--url is required");
            if (a.Out == null) throw new ArgumentException("--out is required");
            if ((a.Text == null) == (a.Wav == null)) throw new ArgumentException("give exactly one of --text and --wav");
            if (a.Text != null && a.Text.Length == 0) throw new ArgumentException("--text is empty");
            return a;
        }

        private static int Run(Args a)
        {
            WavData question = a.Wav != null ? Wav.Read(a.Wav) : null;
            var session = new AvatarSession(new AvatarSessionOptions { Url = new Uri(a.Url), Token = a.Token, Reconnect = false });
            var conv = new Conversation(session);
            var events = a.Events != null ? new StreamWriter(a.Events, false, new UTF8Encoding(false)) : null;
            var mouth = a.Mouth != null ? new StreamWriter(a.Mouth, false, new UTF8Encoding(false)) : null;
            if (mouth != null) mouth.WriteLine("clock_ms,position_ms,playback,talking,openness,max_weight,vrm_aa,vrm_ih,vrm_ou,vrm_ee,vrm_oh");
            var clock = Stopwatch.StartNew();
            var reply = new ReplyRecorder();
            var device = new VirtualDevice(conv.Playback, clock);
            Thread mic = null;
            var micStop = new ManualResetEventSlim(false);
            int exit = -1;
            string why = null;
            int? responseId = null;
            ResponseDone done = null;
            AudioDone audioDone = null;
            double doneAtMs = -1;
            bool playedOut = false;
            double restFromMs = -1;
            var vrm = new float[VisemeMap.Vrm.Targets.Length];

            conv.EventHandled += e =>
            {
                if (events != null)
                {
                    if (e.Kind == SessionEventKind.Message) events.WriteLine(e.Text);
                    else if (e.Kind == SessionEventKind.Audio)
                        events.WriteLine("{\"type\":\"audio\",\"response_id\":" + e.Audio.ResponseId + ",\"chunk_index\":" + e.Audio.ChunkIndex +
                                         ",\"sample_offset\":" + e.Audio.SampleOffset + ",\"samples\":" + e.Audio.Samples.Length + "}");
                }
                switch (e.Kind)
                {
                    case SessionEventKind.Audio:
                        if (responseId == null || e.Audio.ResponseId == responseId) reply.Add(e.Audio);
                        return;
                    case SessionEventKind.Error:
                        Console.Error.WriteLine("bridge: " + e.ErrorCode + ": " + e.ErrorMessage);
                        return;
                    case SessionEventKind.Closed:
                        if (exit < 0) { exit = ExitError; why = "session closed: " + e.ErrorCode + ": " + e.ErrorMessage; }
                        return;
                }
                if (e.Kind != SessionEventKind.Message) return;
                var m = e.Message;
                if (m is SessionReady)
                {
                    var ready = (SessionReady)m;
                    Console.WriteLine("session " + ready.SessionId + " ready (output " + ready.OutputSampleRate + " Hz)");
                    device.Start(ready.OutputSampleRate);
                    if (a.Text != null) session.SendText(a.Text);
                    else { mic = new Thread(() => StreamQuestion(session, question, micStop)) { IsBackground = true }; mic.Start(); }
                }
                else if (m is TranscriptFinal) Console.WriteLine("heard: " + ((TranscriptFinal)m).Text);
                else if (m is TranscriptRejected && responseId == null)
                {
                    exit = ExitRejected;
                    why = "the server rejected the utterance: " + ((TranscriptRejected)m).Reason;
                }
                else if (m is ResponseStarted && responseId == null)
                {
                    responseId = ((ResponseStarted)m).ResponseId;
                    micStop.Set();
                }
                else if (m is AudioDone && ((AudioDone)m).ResponseId == responseId) audioDone = (AudioDone)m;
                else if (m is ResponseDone && ((ResponseDone)m).ResponseId == responseId)
                {
                    done = (ResponseDone)m;
                    doneAtMs = clock.Elapsed.TotalMilliseconds;
                    if (done.Status != "completed")
                    {
                        exit = ExitFailed;
                        why = "response " + done.ResponseId + " " + done.Status + (done.Error != null ? ": " + string.Join(", ", done.Error.Values) : "");
                    }
                }
                else if (m is ErrorMsg)
                {
                    var err = (ErrorMsg)m;
                    Console.Error.WriteLine("server error " + err.Code + ": " + err.Message);
                    if (responseId == null || err.ResponseId == responseId) { exit = ExitError; why = err.Code + ": " + err.Message; }
                }
            };

            try
            {
                session.ConnectAsync();
                double last = clock.Elapsed.TotalSeconds;
                while (exit < 0)
                {
                    conv.Pump();
                    double now = clock.Elapsed.TotalSeconds;
                    conv.Tick(device.ClockAt(now), now - last);
                    last = now;
                    if (mouth != null && device.Started) WriteMouthRow(mouth, now, conv, vrm);
                    if (done != null && done.Status == "completed")
                    {
                        bool nothingToPlay = audioDone == null || audioDone.TotalSamples == 0;
                        if (!playedOut && (nothingToPlay || conv.Playback.State == PlaybackState.Ended))
                        {
                            playedOut = true;
                            restFromMs = now * 1000;
                        }
                        // record a second of rest after the audio, to show the mouth closes
                        if (playedOut && now * 1000 - restFromMs >= 1000) exit = 0;
                        if (!playedOut && now * 1000 - doneAtMs > 60000) { exit = ExitTimeout; why = "playback did not end"; }
                    }
                    if (exit < 0 && now > a.TimeoutS) { exit = ExitTimeout; why = "no completed response within " + a.TimeoutS + " s"; }
                    if (exit < 0) session.WaitForEventAsync(TimeSpan.FromMilliseconds(10)).Wait();
                }
            }
            finally
            {
                micStop.Set();
                device.Stop();
                session.CloseAsync().Wait(3000);
                conv.Pump();
                if (events != null) events.Dispose();
                if (mouth != null) mouth.Dispose();
            }

            int rate = session.OutputSampleRate > 0 ? session.OutputSampleRate : 22050;
            short[] pcm = reply.Assemble(audioDone != null ? audioDone.TotalSamples : (int?)null);
            Wav.WritePcm16(a.Out, rate, pcm);
            Console.WriteLine("reply: " + pcm.Length + " samples at " + rate + " Hz (" + (pcm.Length * 1000.0 / rate).ToString("F0", CultureInfo.InvariantCulture) +
                              " ms) -> " + a.Out + "; underruns " + conv.Playback.Underruns + ", marks sent " + conv.MarksSent);
            if (done != null) Console.WriteLine("answer: " + done.Text);
            if (exit != 0) Console.Error.WriteLine("error: " + why);
            return exit;
        }

        private static void WriteMouthRow(StreamWriter w, double nowS, Conversation conv, float[] vrm)
        {
            var perf = conv.Performance;
            var weights = conv.Mouth.Weights;
            float max = 0;
            foreach (var x in weights) max = Math.Max(max, x);
            VisemeMap.Vrm.Apply(weights, vrm);
            var inv = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append((nowS * 1000).ToString("F1", inv)).Append(',');
            sb.Append(perf.PositionMs.HasValue ? perf.PositionMs.Value.ToString("F1", inv) : "").Append(',');
            sb.Append(conv.Playback.State.ToString().ToLowerInvariant()).Append(',');
            sb.Append(perf.Talking ? 1 : 0).Append(',');
            sb.Append(Visemes.JawOpenness(weights).ToString("F4", inv)).Append(',');
            sb.Append(max.ToString("F4", inv));
            foreach (var x in vrm) sb.Append(',').Append(x.ToString("F4", inv));
            w.WriteLine(sb.ToString());
        }

        /// <summary>The WAV as 20 ms microphone frames in real time, then silence until the server
        /// starts answering (its VAD ends the turn after 500 ms of silence), at most 8 s of it.</summary>
        private static void StreamQuestion(AvatarSession session, WavData wav, ManualResetEventSlim stop)
        {
            var framer = new MicrophoneFramer(wav.SampleRate);
            var frames = framer.Push(wav.Mono, 0, wav.Mono.Length);
            var sw = Stopwatch.StartNew();
            int sent = 0;
            int silence = 8000 / MicrophoneFramer.FrameMs;
            for (int i = 0; i < frames.Count + silence && !stop.IsSet; i++)
            {
                double due = i * MicrophoneFramer.FrameMs;
                double wait = due - sw.Elapsed.TotalMilliseconds;
                if (wait > 0 && stop.Wait(TimeSpan.FromMilliseconds(wait))) break;
                session.SendAudio(i < frames.Count ? frames[i] : MicrophoneFramer.SilenceFrame());
                sent++;
            }
            Console.WriteLine("sent " + sent + " microphone frames (" + frames.Count + " of speech)");
        }

        /// <summary>The answer's audio, placed by sample_offset (a gap stays silent).</summary>
        private sealed class ReplyRecorder
        {
            private readonly List<AudioFrame> _frames = new List<AudioFrame>();

            public void Add(AudioFrame f) { _frames.Add(f); }

            public short[] Assemble(int? total)
            {
                int end = 0;
                foreach (var f in _frames) end = Math.Max(end, f.SampleOffset + f.Samples.Length);
                var pcm = new short[total.HasValue ? total.Value : end];
                foreach (var f in _frames)
                {
                    int n = Math.Min(f.Samples.Length, pcm.Length - f.SampleOffset);
                    if (n > 0) Array.Copy(f.Samples, 0, pcm, f.SampleOffset, n);
                }
                return pcm;
            }
        }

        /// <summary>A sound card that is not there: a thread that reads the jitter buffer in 20 ms
        /// blocks, on time, like Unity's audio thread calling OnAudioFilterRead.</summary>
        private sealed class VirtualDevice
        {
            private const double BlockS = 0.02;
            private readonly PlaybackBuffer _buffer;
            private readonly Stopwatch _clock;
            private Thread _thread;
            private volatile bool _stop;
            private double _startS;

            public VirtualDevice(PlaybackBuffer buffer, Stopwatch clock)
            {
                _buffer = buffer;
                _clock = clock;
            }

            public bool Started { get { return _thread != null; } }

            /// <summary>The device clock (s since it started) at stopwatch time <paramref name="nowS"/>.</summary>
            public double ClockAt(double nowS) { return Started ? nowS - _startS : 0; }

            public void Start(int rate)
            {
                if (_thread != null) return;
                _startS = _clock.Elapsed.TotalSeconds;
                _thread = new Thread(() => Loop(rate)) { IsBackground = true, Name = "virtual-audio-device" };
                _thread.Start();
            }

            private void Loop(int rate)
            {
                int n = (int)Math.Round(rate * BlockS);
                var block = new float[n];
                double next = 0;
                while (!_stop)
                {
                    double now = _clock.Elapsed.TotalSeconds - _startS;
                    while (now >= next)
                    {
                        _buffer.Read(block, 0, n, next);
                        next += (double)n / rate;
                    }
                    Thread.Sleep(2);
                }
            }

            public void Stop()
            {
                _stop = true;
                if (_thread != null) _thread.Join(1000);
            }
        }
    }
}
