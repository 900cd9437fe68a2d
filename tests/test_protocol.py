"""The protocol has one definition: the committed schema must match the code."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from pydantic import ValidationError

from realtime.protocol.messages import (
    AUDIO_HEADER_BYTES, client_message_adapter, json_schema, pack_audio_frame,
    unpack_audio_header,
)

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_is_current():
    committed = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), \
        "run: .venv/bin/python -m realtime.protocol docs/protocol.schema.json"


def test_protocol_doc_names_every_message():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    schema = json_schema()
    for union in ("ClientMessage", "ServerMessage"):
        for ref in schema["$defs"][union]["oneOf"]:
            name = ref["$ref"].rsplit("/", 1)[-1]
            type_ = schema["$defs"][name]["properties"]["type"]["const"]
            assert f"`{type_}`" in doc, f"{type_} is not documented in docs/protocol.md"


def test_audio_header_layout():
    frame = pack_audio_frame(7, 3, 48000, b"\x01\x00\x02\x00")
    assert AUDIO_HEADER_BYTES == 16 and len(frame) == 20
    assert struct.unpack("<BBHIII", frame[:16]) == (1, 1, 0, 7, 3, 48000)
    assert unpack_audio_header(frame) == (1, 1, 7, 3, 48000)


@pytest.mark.parametrize("msg", [
    {"type": "input.text", "text": "hi"},
    {"type": "session.update", "tts_mode": "on_click", "language": "ko",
     "scenario": {"opponent": "Kim", "situation": "cafe"}},
    {"type": "playback.mark", "response_id": 1, "played_ms": 120.5},
    {"type": "response.cancel"},
    {"type": "ping"},
])
def test_client_messages_validate(msg):
    assert client_message_adapter.validate_python(msg).type == msg["type"]


@pytest.mark.parametrize("msg", [
    {"type": "input.text", "text": ""},
    {"type": "session.update", "language": "korean"},
    {"type": "playback.mark", "response_id": 0, "played_ms": 1},
    {"type": "session.update", "max_tokens": 100000},
])
def test_client_messages_reject(msg):
    with pytest.raises(ValidationError):
        client_message_adapter.validate_python(msg)
