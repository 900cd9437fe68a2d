"""``/ws``: protocol v1. One task group per session; leaving it cancels everything.

Before the session starts: the caller is identified (``?token=`` or ``Authorization``), a
concurrent-session slot is taken (refused: ``error SERVICE_UNAVAILABLE`` with ``retry_after``,
then a clean close, code 1013), and ``?session_id=`` resumes an earlier conversation of the same
user (unknown or someone else's: ``error NOT_FOUND``, close 1008).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from realtime.characters.store import find_character
from realtime.api.deps import services_of
from realtime.auth import resolve_user
from realtime.errors import ApiError
from realtime.protocol.messages import ErrorMsg, SessionReady
from realtime.session import Session
from realtime.sinks import WebSocketSink
from realtime.store.base import StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter()
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLOSE_POLICY, CLOSE_TRY_LATER = 1008, 1013


async def _refuse(ws: WebSocket, exc: ApiError, close_code: int) -> None:
    await ws.send_text(ErrorMsg(code=exc.code, message=exc.message,
                                retry_after=exc.retry_after).model_dump_json())
    await ws.close(code=close_code, reason=exc.code)


async def _resume_target(services, session_id: str | None, user: str) -> str | None:
    if session_id is None:
        return None
    if not _SESSION_ID.match(session_id):
        raise ApiError("VALIDATION_ERROR", "session_id must be 1-64 of A-Z a-z 0-9 _ -")
    memory = services.memory
    try:
        if memory.outbox.pending:  # its last turns may still be on their way to the store
            await memory.outbox.flush(2.0)
        doc = await memory.long.get_session(session_id)
    except (StoreUnavailable, TimeoutError):
        raise ApiError("SERVICE_UNAVAILABLE", "conversation history is unavailable; try again",
                       retry_after=5) from None
    if doc is not None and doc.get("user_id") != user:
        doc = None
    if doc is None:
        raise ApiError("NOT_FOUND", f"unknown session {session_id!r}")
    return session_id


def open_session(services, sink, tg: asyncio.TaskGroup, user: str, resume: str | None,
                 **options) -> Session:
    """A conversation on the app's engines, memory and limits (``/ws`` and ``/v1/realtime``)."""
    listening = services.stt is not None and services.vad_hub is not None
    session = Session(services.settings, services.engine, sink, tg, services.tts.voice_ids(),
                      vad_hub=services.vad_hub if listening else None,
                      stt=services.stt if listening else None, metrics=services.metrics,
                      memory=services.memory, user_id=user, session_id=resume,
                      find_character=lambda cid, uid: find_character(services.memory.long, cid,
                                                                     uid),
                      limits=services.limits, bind_voice=services.tts.bind_character_voice,
                      release_voice=services.tts.release_voice,
                      smart_turn=services.smart_turn if listening else None, **options)
    session.live_signal = services.live_signal  # gpu_host + LiveWork: input.text, speech_started
    return session


Refuse = Callable[[ApiError, int], Awaitable[None]]


async def admit(ws: WebSocket, services, token: str | None, refuse: Refuse,
                kind: str = "ws") -> tuple[str, str | None, str] | None:
    """Who is calling (``Authorization`` header, else ``token``), which conversation they
    resume (``?session_id=``) and a concurrent-session slot -> ``(user, resume, slot holder)``;
    None when refused (``refuse`` told the client, and closed)."""
    try:
        user = resolve_user(services.settings, ws.headers.get("authorization"), token)
        resume = await _resume_target(services, ws.query_params.get("session_id"), user)
    except ApiError as exc:
        await refuse(exc, CLOSE_TRY_LATER if exc.code == "SERVICE_UNAVAILABLE" else CLOSE_POLICY)
        return None
    holder = f"{kind}:{uuid.uuid4().hex}"
    try:
        await services.limits.acquire(holder)
    except ApiError as exc:
        await refuse(exc, CLOSE_TRY_LATER)
        return None
    services.live_signal("session.connect")  # gpu_host: a conversation may start now
    return user, resume, holder


async def live_session(ws: WebSocket, services, holder: str, resume: str | None,
                       make: Callable[[asyncio.TaskGroup], Session],
                       serve: Callable[[Session, str | None], Awaitable[None]]) -> None:
    """A conversation from its slot to its end (``/ws`` and ``/v1/realtime``): ``make`` builds
    the Session in its task group, its context comes back when it resumes, the slot is kept
    alive, and ``serve(session, resumed)`` runs until the client leaves; then the session is
    closed (its turns kept), the slot released and the socket closed. A crash ends this one
    session only."""
    services.metrics.sessions.inc()
    session: Session | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            session = make(tg)
            resumed = await session.conv.load() if resume else None
            services.sessions.add(session)
            beat = tg.create_task(services.limits.heartbeat(holder), name="slot-heartbeat")
            try:
                await serve(session, resumed)
            finally:
                beat.cancel()
                await session.close()
    except* WebSocketDisconnect:
        pass  # the client left (possibly while we were sending to it)
    except* Exception:  # noqa: BLE001 - a crashed session must not take the server with it
        log.exception("session crashed")
    finally:
        services.metrics.sessions.dec()
        await services.limits.release(holder)
        if session is not None:
            services.sessions.discard(session)
        if ws.application_state == WebSocketState.CONNECTED:
            try:
                await ws.close()
            except Exception:  # noqa: BLE001 - already gone
                pass


async def receive_frames(ws: WebSocket, handler) -> None:
    """Hand each frame to ``handler.handle_text_frame`` / ``.handle_binary_frame`` until the
    client leaves."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            await handler.handle_text_frame(text)
            continue
        data = message.get("bytes")
        if data is not None:
            await handler.handle_binary_frame(data)


@router.websocket("/ws")
async def ws_session(ws: WebSocket) -> None:
    services = services_of(ws.app)
    await ws.accept()
    admitted = await admit(ws, services, ws.query_params.get("token"),
                           lambda exc, code: _refuse(ws, exc, code))
    if admitted is None:
        return
    user, resume, holder = admitted
    sink = WebSocketSink(ws, services.metrics)

    async def serve(session: Session, resumed: str | None) -> None:
        await sink.json(SessionReady(session_id=session.id, output_sample_rate=session.rate,
                                     session=session.config(), resumed=resumed,
                                     context_messages=len(session.history)))
        await receive_frames(ws, session)

    await live_session(ws, services, holder, resume,
                       lambda tg: open_session(services, sink, tg, user, resume), serve)
