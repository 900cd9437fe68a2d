"""``/api/chat`` (one JSON answer, seeds' envelope), ``/api/chat/stream`` (SSE), models list."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from realtime.characters.store import find_character, voice_owner
from realtime.api.deps import ServicesDep, UserDep
from realtime.errors import ApiError
from realtime.memory.conversation import session_fields, turn_meta, turn_ops
from realtime.memory.stateless import prepare_stateless
from realtime.pipeline.audio import write_wav
from realtime.pipeline.floor import Floor
from realtime.pipeline.persona import Character, build_system_prompt, default_character
from realtime.pipeline.response import Response, TurnSpec
from realtime.protocol.messages import Scenario, TtsMode
from realtime.services import Services
from realtime.sinks import CollectSink, QueueSink
from realtime.store.base import StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/chat", tags=["chat"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"]
    content: str = Field(..., max_length=8000)


class ChatBody(BaseModel):
    """The seeds' ``POST /api/chat`` request."""

    model_config = ConfigDict(extra="forbid")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    persona: str | None = Field(None, max_length=4000)
    character_id: str | None = Field(None, max_length=100)
    scenario: Scenario | None = None
    session_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                   description="Keep this conversation's history (and summary) "
                                               "under this id; a new one is made if absent")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    model: str | None = Field(None, max_length=200)
    language: str | None = Field(None, pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")
    voice: str | None = Field(None, max_length=200)
    tts_enabled: bool = True
    tts_mode: TtsMode = "realtime"
    tts_delay_ms: int = Field(0, ge=0, le=10000)
    tts_streaming_mode: int = Field(0, ge=0, le=3)


def rest_floor(services: Services, sink) -> Floor:
    """A REST call's one response is started and cut like a session's (one Floor each)."""
    return Floor(services.engine, sink, rate=services.settings.output_sample_rate,
                 metrics=services.metrics)


async def _end_of(resp: Response, sink: QueueSink) -> None:
    await resp.finished.wait()
    await sink.queue.put(None)


class _RestKeeper:
    """Keeps an SSE turn (REST turns have no server-side context to edit)."""

    def __init__(self, turn: _Turn, services: Services, user_id: str) -> None:
        self.turn, self.services, self.user_id = turn, services, user_id

    async def keep(self, resp: Response) -> None:
        await self.turn.record(self.services, self.user_id, resp)

    async def amend(self, resp: Response) -> None:
        heard = resp.answer_as_heard()
        if resp.text and heard != resp.kept:
            resp.kept = heard
            await self.services.memory.outbox.put([{"op": "patch", "id": resp.message_id, "set": {
                "content": heard, "heard_text": heard, "interrupted": True,
                "status": "interrupted"}}])


class _Turn:
    """One REST turn: its spec, the stored ids and how to record it."""

    def __init__(self, spec: TurnSpec, session_id: str, user: dict, character_id: str,
                 system: str, summarized: bool, tokens: int) -> None:
        self.spec, self.session_id, self.user = spec, session_id, user
        self.character_id, self.system = character_id, system
        self.summarized, self.tokens = summarized, tokens

    t0: float | None = None

    def response(self) -> Response:
        resp = Response(self.spec)
        if self.t0 is not None:  # the prompt (history, summary) is server time too
            resp.t0 = self.t0
            resp.timings.context_ms = round((time.perf_counter() - self.t0) * 1000.0, 2)
        resp.message_id, resp.user_message_id = uuid.uuid4().hex, self.user["id"]
        resp.context_summarized, resp.context_tokens = self.summarized, self.tokens
        return resp

    async def record(self, services: Services, user_id: str, resp: Response,
                     audio_url: str | None = None) -> None:
        assistant = None
        said = resp.answer_as_heard()
        resp.kept = said
        if resp.text:
            assistant = {"id": resp.message_id, "role": "assistant", "content": said}
        meta = turn_meta(resp, character_id=self.character_id, source="rest",
                         audio_url=audio_url, heard=said)
        ops = turn_ops(self.session_id, user_id, self.user, assistant, meta,
                       session_fields(self.character_id, self.user, self.system))
        try:
            await services.memory.outbox.put(ops)
        except Exception:  # noqa: BLE001 - the answer is still returned
            log.exception("could not keep a REST turn")


async def _turn(services: Services, body: ChatBody, user_id: str) -> _Turn:
    t0 = time.perf_counter()
    s = services.settings
    if body.character_id is not None:
        character = await find_character(services.memory.long, body.character_id, user_id)
    else:
        character = default_character()
    if body.persona:
        character = Character(id="custom", description=body.persona, language=character.language,
                              name=character.name if body.character_id else "the character")
    model = body.model or s.llm_default_model
    if model not in {m.id for m in s.llm_models}:
        raise ApiError("NOT_FOUND", f"unknown model {model!r}")
    voice_character = None  # the user's own character whose voice body.voice names
    if body.voice is not None and body.voice not in services.tts.voice_ids():
        owner = voice_owner(body.voice)
        if owner is None:
            raise ApiError("VALIDATION_ERROR", f"unknown voice {body.voice!r}")
        voice_character = await find_character(services.memory.long, owner, user_id)
    if body.messages[-1].role != "user":
        raise ApiError("VALIDATION_ERROR", "the last message must be the user's")
    if len(body.messages[-1].content) > s.max_text_chars:
        raise ApiError("TEXT_TOO_LONG", f"text over {s.max_text_chars} characters")
    session_id = body.session_id or uuid.uuid4().hex
    if body.session_id is not None:
        try:
            doc = await services.memory.long.get_session(body.session_id)
        except StoreUnavailable:
            doc = None  # history waits in the outbox; the listing only shows the owner's rows
        if doc is not None and doc.get("user_id") != user_id:
            raise ApiError("NOT_FOUND", f"unknown session {body.session_id!r}")
    language = body.language or character.language
    system = build_system_prompt(character, body.scenario, language)
    extra = [m.content for m in body.messages if m.role == "system"]
    if extra:
        system += "\n\n" + "\n".join(extra)
    history = [m.model_dump() for m in body.messages[:-1] if m.role != "system"]
    max_tokens = body.max_tokens or s.llm_max_tokens
    prepared, user = await prepare_stateless(
        services.memory, user_id, session_id, system, history, body.messages[-1].content,
        max_tokens, language, model)
    if voice_character is not None or body.voice is None:  # released when the turn ends
        voice = services.tts.bind_character_voice(voice_character or character)
    else:
        voice = body.voice
    spec = TurnSpec(
        response_id=1, messages=prepared.messages, model=model,
        temperature=body.temperature if body.temperature is not None else s.llm_temperature,
        max_tokens=max_tokens, language=language, voice=voice,
        tts_enabled=body.tts_enabled, tts_mode=body.tts_mode, tts_delay_ms=body.tts_delay_ms)
    turn = _Turn(spec, session_id, user, character.id, system, prepared.summarized,
                 prepared.prompt_tokens)
    turn.t0 = t0
    return turn


@router.post("", summary="One chat turn (text, optional audio file)")
async def chat(body: ChatBody, services: ServicesDep, user_id: UserDep) -> dict:
    async with services.limits.slot(f"rest:{uuid.uuid4().hex}"):
        turn = await _turn(services, body, user_id)
        spec = turn.spec
        if spec.tts_mode == "delayed":
            spec.tts_delay_ms = 0  # one JSON answer: nothing to delay against
        sink = CollectSink()
        try:
            resp = await rest_floor(services, sink).run_to_end(turn.response())
        finally:
            services.tts.release_voice(spec.voice)
    if resp.status != "completed":
        await turn.record(services, user_id, resp)
        err = resp.error or {"code": "GENERATION_FAILED", "message": "generation failed"}
        code = "SERVICE_UNAVAILABLE" if err["code"] == "SERVICE_UNAVAILABLE" else \
            "GENERATION_FAILED"
        raise ApiError(code, err["message"])
    audio_url = None
    pcm = sink.audio_array()
    rate = services.settings.output_sample_rate
    if len(pcm):
        file_id = uuid.uuid4().hex
        await asyncio.to_thread(write_wav, services.settings.audio_dir / f"{file_id}.wav", pcm,
                                rate)
        audio_url = f"/media/audio/{file_id}.wav"
    await turn.record(services, user_id, resp, audio_url)
    visemes = [v for e in sink.of_type("response.visemes") for v in e.visemes]  # type: ignore
    return {"success": True, "data": {
        "content": resp.text,
        "usage": resp.usage.model_dump(),
        "session_id": turn.session_id,
        "message_id": resp.message_id,
        "model": spec.model,
        "audio_url": audio_url,
        "audio_duration_ms": round(len(pcm) * 1000.0 / rate, 1) if len(pcm) else None,
        "sample_rate": rate,
        "visemes": [v.model_dump() for v in visemes],
        "animations": [e.model_dump() for e in sink.of_type("avatar.animation")],
        "timings": resp.timings.model_dump(),
        "context_summarized": resp.context_summarized,
        "context_tokens": resp.context_tokens,
    }}


@router.post("/stream", summary="One chat turn as Server-Sent Events (same events as /ws)")
async def chat_stream(body: ChatBody, services: ServicesDep, user_id: UserDep,
                      request: Request) -> StreamingResponse:
    holder = f"rest:{uuid.uuid4().hex}"
    await services.limits.acquire(holder)
    try:
        turn = await _turn(services, body, user_id)
    except BaseException:
        await services.limits.release(holder)
        raise
    sink = QueueSink(services.settings.output_sample_rate)
    resp = turn.response()
    resp.keeper = _RestKeeper(turn, services, user_id)
    floor = rest_floor(services, sink)

    async def events() -> AsyncIterator[bytes]:
        floor.start(resp)
        ended = asyncio.create_task(_end_of(resp, sink))
        try:
            while (msg := await sink.queue.get()) is not None:
                yield f"event: {msg.type}\ndata: {msg.model_dump_json()}\n\n".encode()  # type: ignore[attr-defined]
        finally:
            if not resp.finished.is_set():  # the client went away: cut it (and keep the turn)
                floor.cut(resp, "closed")
                sink.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(resp.finished.wait())
            ended.cancel()
            services.tts.release_voice(turn.spec.voice)
            await services.limits.release(holder)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                      "X-Session-Id": turn.session_id})


@router.get("/models", summary="Configured chat models")
async def models(services: ServicesDep, _: UserDep) -> dict:
    s = services.settings
    return {"success": True, "data": {"models": [m.model_dump() for m in s.llm_models],
                                      "default": s.llm_default_model}}
