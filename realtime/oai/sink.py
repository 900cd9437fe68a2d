"""Our events, as an OpenAI Realtime client expects them: the session's responses and the
microphone send protocol-v1 messages and audio to this sink, which sends the OpenAI events.

One response (``response.started`` … ``response.done``) becomes::

    response.created → response.output_item.added → conversation.item.added →
    response.content_part.added → (response.output_audio.delta, …_transcript.delta)* →
    response.output_audio.done → …_transcript.done → response.content_part.done →
    response.output_item.done → conversation.item.done → response.done

(text only: ``response.output_text.delta``/``.done``). A cut response ends ``cancelled``
(``status_details.reason``: ``turn_detected`` for barge-in or a new turn, ``client_cancelled``
for ``response.cancel``/``truncate``). A spoken turn: ``speech_started`` → ``speech_stopped`` →
``input_audio_buffer.committed`` → ``conversation.item.added`` (user, ``input_audio``) →
``…input_audio_transcription.completed`` → ``conversation.item.done``. Visemes and animation go
out as ``avatar.visemes`` / ``avatar.animation`` only when the client opted in.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np
import soxr
from pydantic import BaseModel

from realtime.oai import g711
from realtime.oai.config import beta_format, ga_format
from realtime.oai.items import Item, Items
from realtime.oai.wire import Wire, new_id

G711_RATE = 8000

_REASONS = {"barge_in": "turn_detected", "new_input": "turn_detected", "cancel": "client_cancelled",
            "closed": "client_cancelled"}


@dataclass
class Flags:
    """What the sink needs to know of the connection's configuration."""

    audio_out: bool = True  # output modality of responses without their own
    avatar_events: bool = False
    manual: bool = False  # turn_detection null: no speech_started/stopped events
    voice: str = "default"
    out_format: str = "pcm16"  # pcm16 (24 kHz) | pcmu | pcma (G.711 at 8 kHz)
    meta: dict[int, dict] = field(default_factory=dict)  # response id -> response.create options
    rate_limit: int = 0  # requests a minute (rate_limits.updated), 0: none


@dataclass
class _Out:
    id: str
    item: Item
    metadata: dict | None
    audio: bool
    text: list[str] = field(default_factory=list)
    samples: int = 0
    reason: str | None = None
    fmt: str = "pcm16"  # the output format when it started
    down: soxr.ResampleStream | None = None  # 24 -> 8 kHz for G.711


class OaiSink:
    def __init__(self, wire: Wire, items: Items, flags: Flags, rate: int) -> None:
        self.wire = wire
        self.items = items
        self.flags = flags
        self.rate = rate
        self.out: dict[int, _Out] = {}
        self.oai_ids: dict[str, int] = {}  # resp_… -> our response id

    # ------------------------------------------------------------------ the Sink protocol
    async def json(self, msg: BaseModel) -> None:
        handler = getattr(self, "_" + getattr(msg, "type", "").replace(".", "_"), None)
        if handler is not None:
            await handler(msg)

    async def audio(self, response_id: int, chunk_index: int, sample_offset: int,
                    pcm: np.ndarray) -> None:
        o = self.out.get(response_id)
        if o is None:
            return
        o.samples += len(pcm)
        await self._delta(o, self._encode(o, np.asarray(pcm, dtype=np.int16)))

    def _encode(self, o: _Out, pcm: np.ndarray, last: bool = False) -> bytes:
        if o.fmt == "pcm16":
            return pcm.astype("<i2").tobytes()
        if o.down is None:
            o.down = soxr.ResampleStream(self.rate, G711_RATE, 1, dtype="int16")
        return g711.encode(o.down.resample_chunk(pcm, last=last), o.fmt)

    async def _delta(self, o: _Out, data: bytes) -> None:
        if data:
            await self.wire.send(self.wire.event(
                "response.output_audio.delta", response_id=o.id, item_id=o.item.id,
                output_index=0, content_index=0, delta=base64.b64encode(data).decode("ascii")))

    # ------------------------------------------------------------------ responses
    def _response(self, o: _Out, status: str, details: dict | None = None,
                  usage: dict | None = None, timings: dict | None = None) -> dict:
        modalities = ["audio"] if o.audio else ["text"]
        resp = {"id": o.id, "object": "realtime.response", "status": status,
                "status_details": details,
                "output": [] if status == "in_progress" else [self.wire.item(o.item.as_dict())],
                "conversation_id": "conv_default", "usage": usage, "metadata": o.metadata,
                "max_output_tokens": "inf"}
        if timings is not None:  # an extension: the server's stage times (docs/protocol.md)
            resp["timings"] = timings
        if self.wire.dialect == "beta":
            return {**resp, "modalities": modalities + (["text"] if o.audio else []),
                    "voice": self.flags.voice, "output_audio_format": beta_format(o.fmt)}
        return {**resp, "output_modalities": modalities,
                "audio": {"output": {"format": ga_format(o.fmt), "voice": self.flags.voice}}}

    async def _response_started(self, msg) -> None:
        meta = self.flags.meta.pop(msg.response_id, {})
        audio = msg.tts_enabled and msg.tts_mode != "on_click"
        item = Item(id=new_id("item"), role="assistant",
                    kind="output_audio" if audio else "output_text", text="",
                    status="in_progress", response_id=msg.response_id)
        o = self.out[msg.response_id] = _Out(new_id("resp"), item, meta.get("metadata"), audio,
                                             fmt=self.flags.out_format)
        self.oai_ids[o.id] = msg.response_id
        while len(self.out) > 64:
            old = self.out.pop(next(iter(self.out)))
            self.oai_ids.pop(old.id, None)
        previous = self.items.add(item)
        w = self.wire
        await w.send(
            w.event("response.created", response=self._response(o, "in_progress")),
            w.event("response.output_item.added", response_id=o.id, output_index=0,
                    item=item.as_dict()),
            w.event("conversation.item.added", previous_item_id=previous, item=item.as_dict()),
            w.event("response.content_part.added", response_id=o.id, item_id=item.id,
                    output_index=0, content_index=0, part=self._part(o, "")))

    def _part(self, o: _Out, text: str) -> dict:
        return {"type": "audio", "transcript": text} if o.audio else {"type": "text", "text": text}

    async def _response_text_delta(self, msg) -> None:
        o = self.out.get(msg.response_id)
        if o is None:
            return
        o.text.append(msg.delta)
        kind = "response.output_audio_transcript.delta" if o.audio else "response.output_text.delta"
        await self.wire.send(self.wire.event(kind, response_id=o.id, item_id=o.item.id,
                                             output_index=0, content_index=0, delta=msg.delta))

    async def _response_interrupted(self, msg) -> None:
        o = self.out.get(msg.response_id)
        if o is not None:
            o.reason = msg.reason
            o.item.text = msg.heard_text  # the history keeps what was heard

    async def _response_done(self, msg) -> None:
        o = self.out.get(msg.response_id)
        if o is None:
            return
        text = "".join(o.text)
        item = o.item
        if msg.status == "completed":
            status, details, item.status = "completed", None, "completed"
            item.text = text
        elif msg.status == "interrupted":
            status, item.status = "cancelled", "incomplete"
            reason = _REASONS.get(o.reason or "", "client_cancelled")
            details = {"type": "cancelled", "reason": reason}
        else:
            status, item.status = "failed", "incomplete"
            item.text = text
            err = msg.error or {}
            details = {"type": "failed", "error": {"type": "server_error", "code": err.get("code"),
                                                   "message": err.get("message")}}
        usage = {"input_tokens": msg.usage.prompt_tokens or 0,
                 "output_tokens": msg.usage.completion_tokens,
                 "total_tokens": (msg.usage.prompt_tokens or 0) + msg.usage.completion_tokens}
        w, ids = self.wire, {"response_id": o.id, "item_id": item.id, "output_index": 0,
                             "content_index": 0}
        if o.down is not None:
            if msg.status != "interrupted":  # the resampler's tail (a cut one stops here)
                await self._delta(o, self._encode(o, np.zeros(0, np.int16), last=True))
            o.down = None
        events: list[dict | None] = []
        if o.audio:
            events += [w.event("response.output_audio.done", **ids),
                       w.event("response.output_audio_transcript.done", **ids, transcript=text)]
        else:
            events.append(w.event("response.output_text.done", **ids, text=text))
        events += [w.event("response.content_part.done", **ids, part=self._part(o, text)),
                   w.event("response.output_item.done", response_id=o.id, output_index=0,
                           item=item.as_dict()),
                   w.event("conversation.item.done", item=item.as_dict()),
                   w.event("response.done", response=self._response(
                       o, status, details, usage, msg.timings.model_dump(exclude_none=True)))]
        if self.flags.rate_limit > 0:
            events.append(w.event("rate_limits.updated", rate_limits=[
                {"name": "requests", "limit": self.flags.rate_limit, "reset_seconds": 60.0}]))
        await w.send(*events)

    async def _error(self, msg) -> None:
        if msg.response_id is not None and msg.response_id in self.out:
            return  # the response's own failure: response.done says it (status failed)
        await self.wire.send(self.wire.error(msg.code, msg.message, retry_after=msg.retry_after))

    # ------------------------------------------------------------------ avatar (opt-in)
    async def _response_visemes(self, msg) -> None:
        o = self.out.get(msg.response_id)
        if o is not None and self.flags.avatar_events:
            await self.wire.send(self.wire.event(
                "avatar.visemes", response_id=o.id, item_id=o.item.id,
                visemes=[v.model_dump() for v in msg.visemes]))

    async def _avatar_animation(self, msg) -> None:
        o = self.out.get(msg.response_id)
        if o is not None and self.flags.avatar_events:
            await self.wire.send(self.wire.event(
                "avatar.animation", response_id=o.id, item_id=o.item.id, t_ms=msg.t_ms,
                action=msg.action, name=msg.name))

    # ------------------------------------------------------------------ the microphone
    async def _vad_speech_started(self, msg) -> None:
        if not self.flags.manual:
            await self.wire.send(self.wire.event(
                "input_audio_buffer.speech_started", item_id=self.items.utterance_item(
                    msg.utterance_id), audio_start_ms=round(msg.t_ms)))

    async def _vad_speech_stopped(self, msg) -> None:
        if self.flags.manual:
            return
        item_id = self.items.utterance_item(msg.utterance_id)
        await self.wire.send(self.wire.event("input_audio_buffer.speech_stopped", item_id=item_id,
                                             audio_end_ms=round(msg.t_ms)),
                             *self._committed(item_id))

    async def _input_audio_committed(self, msg) -> None:
        await self.wire.send(*self._committed(self.items.utterance_item(msg.utterance_id)))

    def _committed(self, item_id: str) -> list[dict | None]:
        if self.items.get(item_id) is not None:
            return []  # (server VAD ended it, then a commit arrived for the same utterance)
        item = Item(id=item_id, role="user", kind="input_audio", status="in_progress")
        previous = self.items.add(item)
        return [self.wire.event("input_audio_buffer.committed", item_id=item_id,
                                previous_item_id=previous),
                self.wire.event("conversation.item.added", previous_item_id=previous,
                                item=item.as_dict())]

    async def _input_audio_cleared(self, msg) -> None:
        await self.wire.send(self.wire.event("input_audio_buffer.cleared"))

    async def _transcript_final(self, msg) -> None:
        item = self.items.get(self.items.utterance_item(msg.utterance_id))
        if item is None:
            return
        item.text, item.status = msg.text, "completed"
        seconds = round(max(0.0, msg.end_ms - msg.start_ms) / 1000.0, 3)
        await self.wire.send(
            self.wire.event("conversation.item.input_audio_transcription.completed",
                            item_id=item.id, content_index=0, transcript=msg.text,
                            usage={"type": "duration", "seconds": seconds}),
            self.wire.event("conversation.item.done", item=item.as_dict()))

    async def _transcript_rejected(self, msg) -> None:
        item = self.items.get(self.items.utterance_item(msg.utterance_id))
        if item is None:
            return
        item.status = "completed"
        await self.wire.send(
            self.wire.event("conversation.item.input_audio_transcription.failed",
                            item_id=item.id, content_index=0, error={
                                "type": "transcription_rejected", "code": msg.reason,
                                "message": f"no speech recognised ({msg.reason})"}),
            self.wire.event("conversation.item.done", item=item.as_dict()))
