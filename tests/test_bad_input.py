"""Bad input on /ws: every case gets an ``error`` with a code and the session survives."""

from __future__ import annotations

import pytest

from tests.wsclient import Client

pytestmark = pytest.mark.slow

CASES = [
    ("{not json", "INVALID_JSON"),
    ("[1, 2, 3]", "VALIDATION_ERROR"),
    ('{"no_type": 1}', "VALIDATION_ERROR"),
    ('{"type": "launch.rockets"}', "UNKNOWN_TYPE"),
    ('{"type": "input.text", "text": 42}', "VALIDATION_ERROR"),
    ('{"type": "input.text"}', "VALIDATION_ERROR"),
    ('{"type": "input.text", "text": "hi", "extra": true}', "VALIDATION_ERROR"),
    ('{"type": "input.text", "text": "   "}', "VALIDATION_ERROR"),
    ('{"type": "session.update", "tts_mode": "loud"}', "VALIDATION_ERROR"),
    ('{"type": "session.update", "temperature": "hot"}', "VALIDATION_ERROR"),
    ('{"type": "session.update", "character_id": "nobody"}', "NOT_FOUND"),
    ('{"type": "session.update", "model": "gpt-9"}', "NOT_FOUND"),
    ('{"type": "session.update", "voice": "piper:nope"}', "VALIDATION_ERROR"),
    ('{"type": "playback.mark", "response_id": 99, "played_ms": 10}', "NOT_FOUND"),
    ('{"type": "playback.mark", "response_id": 1, "played_ms": -5}', "VALIDATION_ERROR"),
    ('{"type": "response.cancel", "response_id": 12345}', "NOT_FOUND"),
    ('{"type": "response.speak", "response_id": 3}', "NOT_FOUND"),
]


async def test_bad_frames_get_coded_errors_and_session_survives(live):
    c = await Client.connect(live.ws)
    for raw, code in CASES:
        await c.ws.send(raw)
        err = await c.expect("error", timeout=10)
        assert err["code"] == code, (raw, err)
        assert err["message"]
    # oversized message, over-long text, malformed microphone frames
    limit = live.services.settings.ws_max_message_bytes
    await c.ws.send('{"type": "input.text", "text": "' + "a" * (limit + 10) + '"}')
    assert (await c.expect("error"))["code"] == "MESSAGE_TOO_LARGE"
    too_long = live.services.settings.max_text_chars + 1
    await c.send({"type": "input.text", "text": "b" * too_long})
    assert (await c.expect("error"))["code"] == "TEXT_TOO_LONG"
    await c.ws.send(b"\x00\x01" * 100)  # 6 ms of 16 kHz PCM: under the 10 ms minimum
    assert (await c.expect("error"))["code"] == "INVALID_AUDIO_FRAME"
    await c.ws.send(b"\x01")
    assert (await c.expect("error"))["code"] == "INVALID_AUDIO_FRAME"
    # Nothing above started a response, and the session still works.
    await c.send({"type": "session.update", "tts_enabled": False, "max_tokens": 8})
    assert (await c.expect("session.updated"))["session"]["tts_enabled"] is False
    turn = await c.turn("Hello!")
    assert turn.response_id == 1 and turn.done["status"] == "completed"
    await c.send({"type": "ping", "id": "x"})
    assert (await c.expect("pong"))["id"] == "x"
    await c.close()


async def test_session_update_is_validated_atomically(live):
    """A rejected update changes nothing."""
    c = await Client.connect(live.ws)
    await c.send({"type": "session.update", "tts_mode": "delayed", "character_id": "nobody"})
    assert (await c.expect("error"))["code"] == "NOT_FOUND"
    await c.send({"type": "session.update"})
    cfg = (await c.expect("session.updated"))["session"]
    assert cfg["tts_mode"] == "realtime" and cfg["character_id"] == "mina"
    await c.close()
