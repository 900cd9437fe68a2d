"""One ``/v1/realtime`` client: its client events dispatched onto the session.

The connection is the microphone's :class:`~realtime.listen.mic.Listener` (so a spoken turn
honours ``create_response``) and owns what OpenAI's protocol has and ours does not: items the
client creates before asking for a response, ids, and ``event_id`` echoes. Everything else is
the session's: turns start and are cut by its ``Floor`` (``response.cancel`` ->
``Session.cancel``, ``conversation.item.truncate`` -> ``Floor.truncate``), speech goes through
its ``MicInput``, the history is its ``Conversation``. Bad input is an ``error`` event, never a
close.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import soxr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from realtime.errors import ProtocolError
from realtime.listen.mic import MicInput, SpeechTurn
from realtime.oai import config, g711
from realtime.oai.items import Item
from realtime.oai.state import SessionState
from realtime.oai.sink import OaiSink
from realtime.oai.wire import new_id
from realtime.pipeline.response import Response
from realtime.protocol.frames import parse_event
from realtime.session import Session

G711_MIC_RATE = 16000  # G.711 input (8 kHz) goes to the microphone at 16 kHz


class _Ev(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event_id: str | None = Field(None, max_length=512)


class Append(_Ev):
    audio: str


class ItemRef(_Ev):
    item_id: str = Field(..., min_length=1, max_length=64)


class Truncate(ItemRef):
    content_index: int = Field(0, ge=0)
    audio_end_ms: int = Field(..., ge=0)


class ItemCreate(_Ev):
    item: dict
    previous_item_id: str | None = None


class ResponseOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    instructions: str | None = None
    metadata: dict[str, str] | None = Field(None, max_length=16)
    output_modalities: list[str] | None = None
    modalities: list[str] | None = None  # beta
    conversation: str | None = None
    input: list | None = None


class ResponseCreate(_Ev):
    response: ResponseOptions | None = None


class ResponseCancelEv(_Ev):
    response_id: str | None = None


class OaiConnection:
    def __init__(self, session: Session, sink: OaiSink, settings) -> None:
        self.session = session
        self.sink = sink  # the session's sink, too
        self.wire, self.items, self.flags = sink.wire, sink.items, sink.flags
        self.max_bytes = settings.openai_max_message_bytes
        self.config = SessionState(session, self.flags, settings)
        self._carry = b""  # appended audio (PCM16 at the mic's rate) not yet a whole frame
        self._appended = 0  # bytes appended since the last commit/clear (push-to-talk)
        self._in_format = "pcm16"
        self._up: soxr.ResampleStream | None = None  # G.711 input: 8 -> 16 kHz
        if session.mic is not None:
            session.mic.session = self  # the microphone's turns come to us (create_response)
            session.mic.set_rate(config.RATE)

    @property
    def mic(self) -> MicInput | None:
        return self.session.mic

    # ------------------------------------------------------------------ Listener (microphone)
    @property
    def language(self) -> str:  # which speech-to-text model hears the conversation
        return self.session.language

    def live_signal(self, reason: str) -> None:  # gpu_host: speech began
        self.session.live_signal(reason)

    def spawn(self, coro, name: str | None = None):
        return self.session.spawn(coro, name=name)

    async def barge_in(self, t_speech: float) -> bool:
        return await self.session.barge_in(t_speech)

    async def input_text(self, text: str, speech: SpeechTurn | None = None) -> Response | None:
        """A final transcript: answered now (``create_response``), or kept for a later
        ``response.create``."""
        if speech is not None and not self.config.create_response:
            return None
        return await self._respond(fallback=text, speech=speech)

    # ------------------------------------------------------------------ inbound
    async def handle_text_frame(self, raw: str) -> None:
        event_id = None
        try:
            data = parse_event(raw, self.max_bytes)
            if isinstance(data.get("event_id"), str):
                event_id = data["event_id"][:512]
            handler = _HANDLERS.get(data["type"])
            if handler is None:
                raise ProtocolError("UNKNOWN_TYPE", f"unknown or unsupported event type "
                                                    f"{data['type']!r}")
            model, method = handler
            try:
                ev = model.model_validate(data) if model is not None else data
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(x) for x in err["loc"])
                raise ProtocolError("VALIDATION_ERROR", f"{loc}: {err['msg']}") from None
            await method(self, ev)
        except ProtocolError as exc:
            await self.wire.send(self.wire.error(
                exc.code, str(exc), client_event_id=event_id, retry_after=exc.retry_after,
                param=getattr(exc, "param", None)))

    async def handle_binary_frame(self, data: bytes) -> None:
        await self.wire.send(self.wire.error(
            "INVALID_FRAME", "binary frames are not part of this protocol: send audio as "
                             "input_audio_buffer.append {audio: base64 PCM16 24 kHz}"))

    # ------------------------------------------------------------------ session
    async def start(self, character_id: str | None, model: str | None = None) -> None:
        """``session.created``, after the URL's ``?character_id=`` (if any) is applied."""
        self.config.requested_model = model
        if character_id:
            try:
                await self.config.apply(config.Patch(character_id=character_id))
            except ProtocolError as exc:
                await self.wire.send(self.wire.error(exc.code, str(exc), param="character_id"))
        await self.wire.send(self.wire.event("session.created",
                                             session=self.config.render(self.wire.dialect)))

    async def _session_update(self, data: dict) -> None:
        patch = config.parse(data.get("session"))
        if patch.beta and self.wire.dialect == "ga":
            self.wire.dialect = "beta"  # answer in the dialect the client speaks
        await self.config.apply(patch)
        if self.mic is not None and self.config.in_format != self._in_format:
            self._in_format, self._carry = self.config.in_format, b""
            g = self._in_format != "pcm16"
            self._up = soxr.ResampleStream(8000, G711_MIC_RATE, 1, dtype="int16") if g else None
            self.mic.set_rate(G711_MIC_RATE if g else config.RATE)
        await self.wire.send(self.wire.event("session.updated",
                                             session=self.config.render(self.wire.dialect)))

    # ------------------------------------------------------------------ input audio
    def _need_mic(self) -> MicInput:
        if self.mic is None:
            raise ProtocolError("VOICE_DISABLED", "this server does not accept audio input "
                                                  "(voice input is off or its models failed)")
        return self.mic

    async def _append(self, ev: Append) -> None:
        mic = self._need_mic()
        try:
            pcm = base64.b64decode(ev.audio, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("INVALID_AUDIO", "audio is not valid base64") from None
        if self._up is not None:  # G.711 at 8 kHz
            pcm = self._up.resample_chunk(g711.decode(pcm, self._in_format)).astype("<i2")
            pcm = pcm.tobytes()
        elif len(pcm) % 2:
            raise ProtocolError("INVALID_AUDIO", "PCM16 audio has an even number of bytes")
        frame, smallest = mic.rate * 2 // 10, mic.rate * 2 // 100  # 100 ms, 10 ms
        data, now, first_error = self._carry + pcm, time.perf_counter(), None
        self._appended += len(pcm)
        end = len(data) - len(data) % frame
        if len(data) - end >= smallest:
            end = len(data)
        for a in range(0, end, frame):
            try:
                mic.accept(data[a:a + frame], now)
            except ProtocolError as exc:  # an overrun: report it once, the rest is dropped
                first_error = first_error or exc
        self._carry = data[end:]
        if first_error is not None:
            raise first_error

    async def _commit(self, ev: _Ev) -> None:
        mic = self._need_mic()
        if mic.turn_detection == "manual" and not self._appended:
            raise ProtocolError("AUDIO_BUFFER_EMPTY", "no audio appended since the last "
                                                      "commit or clear")
        if self._carry:  # the tail, padded to the microphone's smallest frame
            mic.accept(self._carry.ljust(mic.rate * 2 // 100, b"\0"), time.perf_counter())
        self._carry, self._appended = b"", 0
        mic.commit(time.perf_counter())

    async def _clear(self, ev: _Ev) -> None:
        mic = self._need_mic()
        self._carry, self._appended = b"", 0
        mic.clear(time.perf_counter())

    # ------------------------------------------------------------------ items
    def _item(self, item_id: str) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise ProtocolError("NOT_FOUND", f"no item {item_id!r} in this conversation")
        return item

    async def _item_create(self, ev: ItemCreate) -> None:
        raw = ev.item
        if raw.get("type", "message") != "message":
            raise ProtocolError("UNSUPPORTED", f"{raw.get('type')!r} items are not supported "
                                               "(no tools or function calls)")
        if raw.get("role") != "user":
            raise ProtocolError("UNSUPPORTED", "only user messages can be added (the "
                                               "server's history keeps its own answers)")
        content = raw.get("content")
        if not isinstance(content, list) or not content:
            raise ProtocolError("VALIDATION_ERROR", "item.content must be a non-empty list")
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("input_text", "text") or not isinstance(part.get("text"), str):
                raise ProtocolError("UNSUPPORTED", f"content of type {kind!r} is not supported: "
                                                   "send text, or audio with input_audio_buffer")
            texts.append(part["text"])
        text = "\n".join(t for t in texts if t.strip())
        if not text.strip():
            raise ProtocolError("VALIDATION_ERROR", "the message has no text")
        item_id = raw.get("id") or new_id("item")
        if not isinstance(item_id, str) or len(item_id) > 64 or self.items.get(item_id):
            raise ProtocolError("VALIDATION_ERROR", f"item id {item_id!r} is not new (or not a "
                                                    "string of at most 64 characters)")
        item = Item(id=item_id, role="user", kind="input_text", text=text)
        previous = self.items.add(item)
        await self.wire.send(
            self.wire.event("conversation.item.added", previous_item_id=previous,
                            item=item.as_dict()),
            self.wire.event("conversation.item.done", previous_item_id=previous,
                            item=item.as_dict()))

    async def _item_retrieve(self, ev: ItemRef) -> None:
        item = self._item(ev.item_id)
        await self.wire.send(self.wire.event("conversation.item.retrieved", item=item.as_dict()))

    async def _item_delete(self, ev: ItemRef) -> None:
        item = self._item(ev.item_id)
        if item.role != "user" or item.answered:
            raise ProtocolError("UNSUPPORTED", "only user input not yet answered can be "
                                               "deleted; the history keeps the turns taken")
        self.items.remove(item.id)
        await self.wire.send(self.wire.event("conversation.item.deleted", item_id=item.id))

    async def _item_truncate(self, ev: Truncate) -> None:
        item = self._item(ev.item_id)
        resp = self.session.floor.responses.get(item.response_id) if item.response_id else None
        if item.kind != "output_audio" or resp is None:
            raise ProtocolError("VALIDATION_ERROR", f"item {item.id!r} is not an assistant "
                                                    "audio message of this session's recent turns")
        if ev.content_index != 0:
            raise ProtocolError("VALIDATION_ERROR", "content_index must be 0")
        if ev.audio_end_ms > resp.audio_ms + 1.0:
            raise ProtocolError("VALIDATION_ERROR",
                                f"audio_end_ms {ev.audio_end_ms} is after the end of the audio "
                                f"sent ({resp.audio_ms:.0f} ms)")
        await self.session.floor.truncate(resp, ev.audio_end_ms)
        item.text, item.status = resp.heard_text(), "incomplete"
        await self.wire.send(self.wire.event("conversation.item.truncated", item_id=item.id,
                                             content_index=0, audio_end_ms=ev.audio_end_ms))

    # ------------------------------------------------------------------ responses
    async def _response_create(self, ev: ResponseCreate) -> None:
        opts = ev.response or ResponseOptions()
        if opts.input is not None or opts.conversation not in (None, "auto"):
            raise ProtocolError("UNSUPPORTED", "out-of-band responses (response.input, "
                                               "conversation \"none\") are not supported")
        modalities = opts.output_modalities or opts.modalities
        if modalities is not None and not set(modalities) <= {"audio", "text"}:
            raise ProtocolError("VALIDATION_ERROR", "output_modalities are 'audio' or 'text'")
        if opts.metadata and any(len(k) > 64 or len(v) > 512 for k, v in opts.metadata.items()):
            raise ProtocolError("VALIDATION_ERROR", "metadata keys are at most 64 characters, "
                                                    "values at most 512")
        await self._respond(fallback=opts.instructions, metadata=opts.metadata,
                            audio=None if modalities is None else "audio" in modalities)

    async def _respond(self, fallback: str | None, *, speech: SpeechTurn | None = None,
                       metadata: dict | None = None, audio: bool | None = None) -> Response:
        """Answer the user input not yet answered (typed items, transcripts) in one turn; with
        none, ``fallback`` (a bare ``response.create``'s instructions) is the turn."""
        pending = self.items.pending_input()
        text = "\n".join(i.text for i in pending if i.text)
        if not text.strip():
            if not fallback or not fallback.strip():
                raise ProtocolError("NO_INPUT", "nothing to answer: add a user message "
                                                "(conversation.item.create) or audio first")
            text = fallback
        resp = await self.session.input_text(text, speech=speech)
        for item in pending:
            item.answered = True
        # the response's own options, before its task first runs (no await since it started)
        if audio is not None:
            resp.spec.tts_enabled = audio
        resp.spec.speed = self.config.speed
        self.flags.meta[resp.id] = {"metadata": metadata}
        return resp

    async def _response_cancel(self, ev: ResponseCancelEv) -> None:
        rid = None
        if ev.response_id:
            rid = self.sink.oai_ids.get(ev.response_id)
            if rid is None:
                raise ProtocolError("NOT_FOUND", f"no response {ev.response_id!r}")
        await self.session.cancel(rid)

    async def _ignore(self, ev: Any) -> None:
        """``output_audio_buffer.clear`` (WebRTC): over a WebSocket the client holds the audio."""


_HANDLERS: dict[str, tuple[type[BaseModel] | None, Any]] = {
    "session.update": (None, OaiConnection._session_update),
    "input_audio_buffer.append": (Append, OaiConnection._append),
    "input_audio_buffer.commit": (_Ev, OaiConnection._commit),
    "input_audio_buffer.clear": (_Ev, OaiConnection._clear),
    "conversation.item.create": (ItemCreate, OaiConnection._item_create),
    "conversation.item.retrieve": (ItemRef, OaiConnection._item_retrieve),
    "conversation.item.delete": (ItemRef, OaiConnection._item_delete),
    "conversation.item.truncate": (Truncate, OaiConnection._item_truncate),
    "response.create": (ResponseCreate, OaiConnection._response_create),
    "response.cancel": (ResponseCancelEv, OaiConnection._response_cancel),
    "output_audio_buffer.clear": (_Ev, OaiConnection._ignore),
}
