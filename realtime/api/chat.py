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
from pydantic import ConfigDict, Field

from realtime.characters.store import find_character, voice_owner
from realtime.api.deps import ServicesDep, UserDep
from realtime.lenient import Lenient, note_unknown
from realtime.api.schemas import SSE, ChatResponse, ModelsResponse, errors
from realtime.errors import ApiError
from realtime.memory.conversation import session_fields, turn_meta, turn_ops
from realtime.memory.stateless import prepare_stateless
from realtime.pipeline.audio import write_wav
from realtime.pipeline.floor import Floor
from realtime.pipeline.language import detect_language
from realtime.pipeline.persona import Character, build_system_prompt, default_character
from realtime.pipeline.response import Response, TurnSpec
from realtime.protocol.messages import Scenario, TtsMode
from realtime.services import Services
from realtime.sinks import CollectSink, QueueSink
from realtime.store.base import StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/chat", tags=["chat"])


class ChatMessage(Lenient):
    role: Literal["user", "assistant", "system"]
    content: str = Field(..., max_length=8000)


class ChatScenario(Lenient, Scenario):
    model_config = ConfigDict(extra="ignore")


class ChatBody(Lenient):
    """The seeds' ``POST /api/chat`` request (000:1838-1877). Unknown keys are ignored."""

    messages: list[ChatMessage] = Field(
        default_factory=list, max_length=200,
        description="The conversation. Last message the user's: the answer to it; the "
                    "assistant's: the character goes on; none (or only system messages) with "
                    "a character: its greeting")
    persona: str | None = Field(None, max_length=4000)
    character_id: str | None = Field(None, max_length=100)
    scenario: ChatScenario | None = None
    session_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                   description="Keep this conversation's history (and summary) "
                                               "under this id; a new one is made if absent")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=4096,
                                   description="Default AVATAR_LLM_MAX_TOKENS (the seeds' 512; "
                                               "200 on the embedded CPU model)")
    model: str | None = Field(None, max_length=200,
                              description="Not configured: the default model answers (see the "
                                          "answer's model), or 400 with AVATAR_LLM_STRICT_MODELS")
    language: str | None = Field(None, pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$",
                                 description="Default: detected from the user's text")
    voice: str | None = Field(None, max_length=200)
    tts_enabled: bool = True
    tts_mode: TtsMode = "realtime"
    tts_delay_ms: int = Field(0, ge=0, le=10000)
    tts_streaming_mode: int | None = Field(
        None, ge=0, le=3, description="GPT-SoVITS streaming_mode (0-3) for this turn; default "
                                      "AVATAR_TTS_SOVITS_STREAMING_MODE. Piper and espeak-ng "
                                      "synthesise locally and ignore it")


_GREET = {"ko": "(대화가 시작됩니다. 캐릭터로서 먼저 한두 문장으로 인사하세요.)",
          "en": "(The conversation begins. Greet the user in character, in one or two "
                "sentences.)"}


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

    def __init__(self, spec: TurnSpec, session_id: str, user: dict | None, character_id: str,
                 system: str, summarized: bool, tokens: int) -> None:
        self.spec, self.session_id, self.user = spec, session_id, user
        self.character_id, self.system = character_id, system
        self.summarized, self.tokens = summarized, tokens

    t0: float | None = None
    requested_model: str | None = None  # the body's model, when another one answers

    @property
    def greeting(self) -> bool:
        return self.user is None

    def response(self) -> Response:
        resp = Response(self.spec)
        if self.t0 is not None:  # the prompt (history, summary) is server time too
            resp.t0 = self.t0
            resp.timings.context_ms = round((time.perf_counter() - self.t0) * 1000.0, 2)
        resp.message_id = uuid.uuid4().hex
        resp.user_message_id = self.user["id"] if self.user else None
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
                       session_fields(self.character_id, self.user or {"content": resp.text},
                                      self.system))
        try:
            await services.memory.outbox.put(ops)
        except Exception:  # noqa: BLE001 - the answer is still returned
            log.exception("could not keep a REST turn")


def _pick_model(s, requested: str | None) -> str:
    known = [m.id for m in s.llm_models]
    if requested is None or requested in known:
        return requested or s.llm_default_model
    if s.llm_strict_models:
        raise ApiError("VALIDATION_ERROR", f"unknown model {requested!r}; choose one of: "
                                           f"{', '.join(known)}")
    note_unknown("ChatBody.model (the default model answers)", [requested])
    return s.llm_default_model


async def _turn(services: Services, body: ChatBody, user_id: str) -> _Turn:
    t0 = time.perf_counter()
    s = services.settings
    if body.character_id is not None:
        character = await find_character(services.memory.long, body.character_id, user_id)
    else:
        character = default_character()
    said = [m for m in body.messages if m.role != "system"]
    if not said and body.character_id is None and not body.persona:
        raise ApiError("VALIDATION_ERROR", "messages: send at least one user or assistant "
                                           "message, or a character_id for its greeting")
    user_text = next((m.content for m in reversed(said) if m.role == "user"), "")
    if body.persona:
        lang = character.language if body.character_id else \
            detect_language(body.persona, detect_language(user_text, "ko"))
        character = Character(id="custom", description=body.persona,
                              language=lang if lang in ("en", "ko") else "en",
                              name=character.name if body.character_id else "the character")
    model = _pick_model(s, body.model)
    voice_character = None  # the user's own character whose voice body.voice names
    if body.voice is not None and body.voice not in services.tts.voice_ids():
        owner = voice_owner(body.voice)
        if owner is None:
            raise ApiError("VALIDATION_ERROR", f"unknown voice {body.voice!r}")
        voice_character = await find_character(services.memory.long, owner, user_id)
    if said and len(said[-1].content) > s.max_text_chars:
        raise ApiError("TEXT_TOO_LONG", f"text over {s.max_text_chars} characters")
    session_id = body.session_id or uuid.uuid4().hex
    if body.session_id is not None:
        try:
            doc = await services.memory.long.get_session(body.session_id)
        except StoreUnavailable:
            doc = None  # history waits in the outbox; the listing only shows the owner's rows
        if doc is not None and doc.get("user_id") != user_id:
            raise ApiError("NOT_FOUND", f"unknown session {body.session_id!r}")
    language = body.language or (detect_language(user_text or said[-1].content,
                                                 character.language) if said
                                 else character.language)
    system = build_system_prompt(character, body.scenario, language)
    extra = [m.content for m in body.messages if m.role == "system"]
    if extra:
        system += "\n\n" + "\n".join(extra)
    max_tokens = body.max_tokens or s.llm_max_tokens
    if voice_character is not None or body.voice is None:  # released when the turn ends
        voice = services.tts.bind_character_voice(voice_character or character)
    else:
        voice = body.voice
    spec = TurnSpec(
        response_id=1, messages=[], model=model,
        temperature=body.temperature if body.temperature is not None else s.llm_temperature,
        max_tokens=max_tokens, language=language, voice=voice,
        tts_enabled=body.tts_enabled, tts_mode=body.tts_mode, tts_delay_ms=body.tts_delay_ms,
        tts_streaming_mode=body.tts_streaming_mode)
    if not said and character.greeting and not body.persona and not body.scenario:
        spec.speak_sentences, spec.source = [character.greeting], "speak"  # its own words
        turn = _Turn(spec, session_id, None, character.id, system, False, 0)
    else:
        history = [m.model_dump() for m in said[:-1]]
        last = said[-1].content if said else _GREET.get(language, _GREET["en"])
        prepared, user = await prepare_stateless(
            services.memory, user_id, session_id, system, history, last, max_tokens, language,
            model)
        if said and said[-1].role == "assistant":  # the character goes on from its own words
            prepared.messages[-1]["role"] = user["role"] = "assistant"
        spec.messages = prepared.messages
        turn = _Turn(spec, session_id, user if said else None, character.id, system,
                     prepared.summarized, prepared.prompt_tokens)
    turn.t0 = t0
    if body.model is not None and body.model != model:
        turn.requested_model = body.model
    return turn


@router.post("", summary="One chat turn (text, optional audio file)", response_model=ChatResponse,
             responses=errors(400, 404, 503))
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
        "model": None if spec.speak_sentences is not None else spec.model,
        "requested_model": turn.requested_model,
        "language": spec.language,
        "audio_url": audio_url,
        "audio_duration_ms": round(len(pcm) * 1000.0 / rate, 1) if len(pcm) else None,
        "sample_rate": rate,
        "visemes": [v.model_dump() for v in visemes],
        "animations": [e.model_dump() for e in sink.of_type("avatar.animation")],
        "timings": resp.timings.model_dump(),
        "context_summarized": resp.context_summarized,
        "context_tokens": resp.context_tokens,
        "greeting": turn.greeting,
    }}


@router.post("/stream", summary="One chat turn as Server-Sent Events (same events as /ws)",
             response_class=StreamingResponse, responses={**errors(400, 404, 503), **SSE})
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


@router.get("/models", summary="Configured chat models", response_model=ModelsResponse,
            responses=errors())
async def models(services: ServicesDep, _: UserDep) -> dict:
    s = services.settings
    return {"success": True, "data": {"models": [m.model_dump() for m in s.llm_models],
                                      "default": s.llm_default_model,
                                      "strict": s.llm_strict_models}}
