"""Write the protocol test vectors the C# codec is checked against, from the Python side.

    .venv/bin/python unity-bridge/Tools~/make_vectors.py          # writes Tests/Editor/Vectors/protocol.json
    .venv/bin/python unity-bridge/Tools~/make_vectors.py --check  # exit 1 when the committed file is stale

Everything comes from the server's own definitions (realtime/protocol/messages.py):
- audio frames packed by ``pack_audio_frame`` (hex), with their header fields and samples;
- one or more messages of every client and server type, validated by the pydantic models, as
  ``wire`` (what the server sends: ``model_dump_json()``) and ``canonical`` (compact JSON, keys
  sorted as in docs/protocol.schema.json, numbers as Python's json module writes them; client
  messages without null members, server messages with them). The C# codec must decode ``wire``
  and ``canonical`` and re-encode ``canonical`` byte for byte;
- client messages the server rejects (the C# side must refuse to send them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUTPUT = HERE.parent / "Tests" / "Editor" / "Vectors" / "protocol.json"
sys.path.insert(0, str(ROOT))

from pydantic import ValidationError  # noqa: E402

from realtime.protocol import messages as P  # noqa: E402

TIMINGS = {"received": 0.0, "llm_first_token": 101.25, "first_sentence": 250.5,
           "tts_first_audio": 300.0, "first_audio_sent": 310.75, "done": 1234.5,
           "llm_wait_ms": 250.5, "tts_first_ms": 49.5, "context_ms": 1e-05, "overhead_ms": 10.75}
CONFIG = {"character_id": "mina", "character_name": "미나 Mina", "language": "ko", "voice": None,
          "tts_enabled": True, "tts_mode": "realtime", "tts_delay_ms": 0, "model": "smollm2",
          "temperature": 0.7, "max_tokens": 200, "voice_input": True, "input_languages": ["en"],
          "input_sample_rate": 16000, "turn_detection": "server_vad", "barge_in": True}

SERVER = [
    P.SessionReady(session_id="abc_123", output_sample_rate=22050, session=P.SessionConfig(**CONFIG)),
    P.SessionReady(session_id="s-2", output_sample_rate=24000, resumed="short_term",
                   context_messages=4, session=P.SessionConfig(**{**CONFIG, "voice": "joe",
                                                                   "input_languages": ["*"]})),
    P.SessionUpdated(session=P.SessionConfig(**{**CONFIG, "turn_detection": "manual"})),
    P.ResponseStarted(response_id=1, tts_enabled=True, tts_mode="realtime"),
    P.ResponseStarted(response_id=2, source="voice", utterance_id=3, tts_enabled=False,
                      tts_mode="on_click"),
    P.TextDelta(response_id=1, delta='He said "hi"\\ \n\ttab\u0001 \u007f 안녕 😀 /'),
    P.SentenceMsg(response_id=1, index=0, text="Hello there."),
    P.VisemesMsg(response_id=1, sentence_index=0, visemes=[
        P.VisemeEvent(t_ms=0.0, viseme="sil", duration_ms=34.8, weight=0.0),
        P.VisemeEvent(t_ms=34.8, viseme="aa", duration_ms=58.1, weight=1.0),
        P.VisemeEvent(t_ms=92.9, viseme="PP", duration_ms=0.1, weight=0.8),
        P.VisemeEvent(t_ms=93.0, viseme="ih", duration_ms=1e-05, weight=0.30000000000000004)]),
    P.AudioDone(response_id=1, total_samples=247153, duration_ms=10298.0),
    P.AudioDone(response_id=2, total_samples=0, duration_ms=0.0, truncated=True),
    P.Animation(response_id=1, t_ms=0.0, action="talk_start"),
    P.Animation(response_id=1, t_ms=1500.25, action="emotion", name="happy"),
    P.ResponseInterrupted(response_id=1, reason="barge_in", played_ms=812.5, heard_text="Hello"),
    P.ResponseDone(response_id=1, status="completed", text="Hello there.",
                   timings=P.Timings(**TIMINGS), usage=P.Usage(prompt_tokens=12, completion_tokens=3),
                   message_id="m1", user_message_id="u1", context_tokens=120),
    P.ResponseDone(response_id=2, status="failed", text="", timings=P.Timings(),
                   usage=P.Usage(), error={"code": "TTS_FAILED", "message": "boom"},
                   context_summarized=True),
    P.SpeechStarted(utterance_id=1, t_ms=1020.0),
    P.SpeechStopped(utterance_id=1, t_ms=2980.5, forced=True),
    P.AudioCommitted(utterance_id=2, start_ms=0.0, end_ms=1500.0),
    P.AudioCleared(t_ms=123.456),
    P.TranscriptPartial(utterance_id=1, text="what is"),
    P.TranscriptFinal(utterance_id=1, text="What is the weather like?", language="en",
                      start_ms=1020.0, end_ms=2980.5, stt_ms=412.3),
    P.TranscriptRejected(utterance_id=4, reason="no_speech"),
    P.ErrorMsg(code="VALIDATION_ERROR", message="text: too short"),
    P.ErrorMsg(code="SERVICE_UNAVAILABLE", message="busy", response_id=3, retry_after=2.5),
    P.Pong(id="p-1", server_time_ms=1e16),
    P.Pong(id=42, server_time_ms=1764400000123.5),
    P.Pong(server_time_ms=-0.5),
    P.AudioPayload(response_id=1, chunk_index=0, sample_offset=0, sample_rate=22050, pcm="AAECAw=="),
    P.JobProgress(job_id="j_1", kind="generate", status="processing", progress=40,
                  current_step="rig"),
    P.JobProgress(job_id="j_2", kind="style", status="queued", progress=0),
    P.JobDone(job_id="j_1", kind="generate", status="completed", progress=100, current_step="done",
              result_url="/api/models/j_1.glb"),
    P.JobDone(job_id="j_3", kind="generate", status="failed", progress=30, current_step="detect",
              error=P.JobError(code="NO_FACE_DETECTED", message="no face in the photo")),
]

CLIENT = [
    {"type": "session.update", "character_id": "mina", "language": "ko", "tts_mode": "on_click",
     "persona": {"name": "Bo", "persona": "calm", "language": "en"},
     "scenario": {"opponent": "Kim", "situation": "cafe"}, "temperature": 0.7, "max_tokens": 64,
     "input_sample_rate": 48000, "turn_detection": "manual", "barge_in": False, "tts_delay_ms": 0,
     "tts_enabled": True, "voice": "joe", "model": "smollm2"},
    {"type": "session.update"},
    {"type": "input.text", "text": "안녕하세요! \"quoted\" \\ \n"},
    {"type": "response.cancel"},
    {"type": "response.cancel", "response_id": 3},
    {"type": "playback.mark", "response_id": 1, "played_ms": 120.0},
    {"type": "playback.mark", "response_id": 2, "played_ms": 0.1},
    {"type": "response.speak", "response_id": 5},
    {"type": "input.audio.commit"},
    {"type": "input.audio.clear"},
    {"type": "ping", "id": "x"},
    {"type": "ping", "id": 7},
    {"type": "ping"},
]

INVALID_CLIENT = [
    {"type": "input.text", "text": ""},
    {"type": "session.update", "language": "korean"},
    {"type": "session.update", "max_tokens": 100000},
    {"type": "session.update", "temperature": 2.5},
    {"type": "session.update", "tts_mode": "loud"},
    {"type": "session.update", "turn_detection": "auto"},
    {"type": "session.update", "character_id": "x" * 101},
    {"type": "session.update", "persona": {"name": ""}},
    {"type": "session.update", "scenario": {"opponent": "y" * 201}},
    {"type": "playback.mark", "response_id": 0, "played_ms": 1},
    {"type": "playback.mark", "response_id": 1, "played_ms": -1},
    {"type": "response.cancel", "response_id": 0},
]

FRAMES = [
    (1, 0, 0, [0, 1, -1, 32767, -32768, 256, -256]),
    (7, 3, 48000, [12345, -12345]),
    (2147483647, 4294967295 // 2, 2147483647, []),
    (258, 65537, 16909060, [1, 2, 3]),
]


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build() -> str:
    server = []
    for m in SERVER:
        assert P.TypeAdapter(P.ServerMessage).validate_json(m.model_dump_json()) == m
        server.append({"wire": m.model_dump_json(),
                       "canonical": canonical(m.model_dump(mode="json", exclude_none=False))})
    client = []
    for d in CLIENT:
        m = P.client_message_adapter.validate_python(d)
        client.append({"canonical": canonical(m.model_dump(mode="json", exclude_none=True))})
    invalid = []
    for d in INVALID_CLIENT:
        try:
            P.client_message_adapter.validate_python(d)
        except ValidationError as exc:
            invalid.append({"json": canonical(d), "python_error": exc.errors()[0]["type"]})
        else:
            raise SystemExit(f"the server accepts {d}: not an invalid vector")
    frames = []
    for rid, idx, off, samples in FRAMES:
        pcm = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
        frame = P.pack_audio_frame(rid, idx, off, pcm)
        assert P.unpack_audio_header(frame) == (1, 1, rid, idx, off)
        frames.append({"response_id": rid, "chunk_index": idx, "sample_offset": off,
                       "samples": samples, "hex": frame.hex()})
    doc = {"generated_by": "unity-bridge/Tools~/make_vectors.py", "protocol_version": P.PROTOCOL_VERSION,
           "audio_header_bytes": P.AUDIO_HEADER_BYTES, "audio_frames": frames,
           "server_messages": server, "client_messages": client, "invalid_client_messages": invalid}
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run .venv/bin/python unity-bridge/Tools~/make_vectors.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
