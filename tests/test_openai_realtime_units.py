"""/v1/realtime pieces without a server: ``session.update`` in both dialects, the effective
configuration as the SDK's own session models read it, the beta renames, the item registry."""

from __future__ import annotations

import asyncio

import pytest
from openai.types.beta.realtime import Session as BetaSession
from openai.types.realtime import RealtimeSessionCreateRequest

from realtime.errors import ProtocolError
from realtime.oai import config, g711
from realtime.oai.items import MAX_ITEMS, Item, Items
from realtime.oai.wire import Wire

GA_UPDATE = {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"],
             "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                 "transcription": {"model": "gpt-4o-mini-transcribe"},
                                 "turn_detection": {"type": "semantic_vad", "eagerness": "high",
                                                    "create_response": False}},
                       "output": {"voice": {"id": "alloy"}, "speed": 1.2}},
             "tools": [], "tracing": "auto", "character_id": "mina", "avatar_events": True}
BETA_UPDATE = {"modalities": ["audio", "text"], "voice": "ash", "input_audio_format": "pcm16",
               "turn_detection": None, "input_audio_transcription": {"model": "whisper-1"},
               "temperature": 0.8, "max_response_output_tokens": "inf"}


def test_ga_update_is_read_field_by_field():
    p = config.parse(GA_UPDATE)
    assert not p.beta and p.instructions == "Be brief." and p.modalities == ["text"]
    assert p.voice == {"id": "alloy"} and config.voice_name(p.voice) == "alloy"
    assert isinstance(p.turn_detection, config.TurnDetectionIn)
    assert p.turn_detection.type == "semantic_vad" and p.turn_detection.create_response is False
    assert p.transcription == {"model": "gpt-4o-mini-transcribe"} and p.speed == 1.2
    assert p.character_id == "mina" and p.avatar_events is True and p.tracing == "auto"
    assert (p.in_format, p.out_format) == ("pcm16", "") and not p.given("max_tokens")
    # absent and null differ: null turn detection is push-to-talk, absent changes nothing
    off = config.parse({"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert off.given("turn_detection") and off.turn_detection is None
    assert not config.parse({"type": "realtime"}).given("turn_detection")


def test_beta_update_is_recognised_and_read():
    p = config.parse(BETA_UPDATE)
    assert p.beta and p.voice == "ash" and p.modalities == ["audio", "text"]
    assert p.given("turn_detection") and p.turn_detection is None
    assert p.temperature == 0.8 and p.max_tokens == "inf"
    assert (p.in_format, p.out_format) == ("pcm16", "")


@pytest.mark.parametrize("session,what", [
    ("nope", "object"),
    ({"type": "transcription"}, "transcription sessions"),
    ({"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcm", "rate": 8000}}}},
     "24000"),
    ({"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad",
                                                                 "threshold": 1.5}}}},
     "threshold"),
    ({"type": "realtime", "output_modalities": ["video"]}, "output_modalities"),
])
def test_bad_updates_are_refused_with_the_field_named(session, what):
    with pytest.raises(ProtocolError) as exc:
        config.parse(session)
    assert exc.value.code == "VALIDATION_ERROR" and what in str(exc.value)


@pytest.mark.parametrize("dialect,model", [("ga", RealtimeSessionCreateRequest),
                                           ("beta", BetaSession)])
def test_the_effective_configuration_reads_as_the_sdk_session(dialect, model):
    e = config.Effective(
        session_id="s1", model="smollm2", requested_model="gpt-4o-realtime-preview",
        instructions="You are Mina.", voice="alloy", audio_out=True,
        turn_detection={"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                        "silence_duration_ms": 500, "create_response": True,
                        "interrupt_response": True, "idle_timeout_ms": None},
        transcription={"model": "whisper"}, max_tokens=60, temperature=0.7, speed=1.0,
        tracing=None, character_id="mina", avatar_events=False)
    s = model.model_validate(config.render(e, dialect))
    if dialect == "ga":
        assert s.audio.output.format.rate == 24000 and s.output_modalities == ["audio"]
        assert s.audio.input.turn_detection.silence_duration_ms == 500
    else:
        assert s.output_audio_format == "pcm16" and s.turn_detection.prefix_padding_ms == 300
    assert s.model_extra["character_id"] == "mina"  # our extra fields ride along


def test_beta_clients_get_beta_names_and_content_types():
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    wire = Wire(send, "beta")
    item = Item(id="item_1", role="assistant", kind="output_audio", text="hi").as_dict()
    assert wire.event("conversation.item.done", item=item) is None  # no such beta event
    added = wire.event("conversation.item.added", item=item)
    assert added["type"] == "conversation.item.created"
    assert added["item"]["content"] == [{"type": "audio", "transcript": "hi"}]
    assert wire.event("response.output_audio.delta", delta="")["type"] == "response.audio.delta"
    err = wire.error("NOT_FOUND", "no item", client_event_id="e1")
    assert err["error"] == {"type": "invalid_request_error", "code": "NOT_FOUND",
                            "message": "no item", "param": None, "event_id": "e1"}
    asyncio.run(wire.send(added, None, err))
    assert len(sent) == 2 and all(s.startswith("{") for s in sent)
    ids = {wire.event("x")["event_id"] for _ in range(100)}
    assert len(ids) == 100


def test_items_keep_order_and_forget_the_oldest():
    items = Items()
    assert items.add(Item(id="a", role="user", kind="input_text", text="one")) is None
    assert items.add(Item(id="b", role="assistant", kind="output_audio", response_id=1)) == "a"
    assert items.by_response[1] == "b" and [i.id for i in items.pending_input()] == ["a"]
    with pytest.raises(ValueError):
        items.add(Item(id="a", role="user", kind="input_text"))
    items.remove("b")
    assert items.last_id == "a" and 1 not in items.by_response
    for n in range(MAX_ITEMS + 5):
        items.add(Item(id=f"i{n}", role="user", kind="input_text", text="x"))
    assert items.get("a") is None and items.get(f"i{MAX_ITEMS + 4}") is not None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # audioop: the reference coder
@pytest.mark.parametrize("law", ["pcmu", "pcma"])
def test_g711_is_bit_exact_with_the_reference_coder(law):
    import audioop

    import numpy as np

    enc, dec = {"pcmu": (audioop.lin2ulaw, audioop.ulaw2lin),
                "pcma": (audioop.lin2alaw, audioop.alaw2lin)}[law]
    every = np.arange(-32768, 32768, dtype="<i2")
    assert g711.encode(every, law) == enc(every.tobytes(), 2)  # all 65,536 values
    codes = bytes(range(256))
    assert g711.decode(codes, law).tobytes() == dec(codes, 2)  # all 256 codes
