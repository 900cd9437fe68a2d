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
    return Session(services.settings, services.engine, sink, tg, services.tts.voice_ids(),
                   vad_hub=services.vad_hub if listening else None,
                   stt=services.stt if listening else None, metrics=services.metrics,
                   memory=services.memory, user_id=user, session_id=resume,
                   find_character=lambda cid, uid: find_character(services.memory.long, cid, uid),
                   limits=services.limits, bind_voice=services.tts.bind_character_voice,
                   release_voice=services.tts.release_voice, **options)


@router.websocket("/ws")
async def ws_session(ws: WebSocket) -> None:
    services = services_of(ws.app)
    await ws.accept()
    try:
        user = resolve_user(services.settings, ws.headers.get("authorization"),
                            ws.query_params.get("token"))
        resume = await _resume_target(services, ws.query_params.get("session_id"), user)
    except ApiError as exc:
        code = CLOSE_TRY_LATER if exc.code == "SERVICE_UNAVAILABLE" else CLOSE_POLICY
        await _refuse(ws, exc, code)
        return
    holder = f"ws:{uuid.uuid4().hex}"
    try:
        await services.limits.acquire(holder)
    except ApiError as exc:
        await _refuse(ws, exc, CLOSE_TRY_LATER)
        return
    sink = WebSocketSink(ws, services.metrics)
    services.metrics.sessions.inc()
    session: Session | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            session = open_session(services, sink, tg, user, resume)
            resumed = await session.conv.load() if resume else None
            services.sessions.add(session)
            beat = tg.create_task(services.limits.heartbeat(holder), name="slot-heartbeat")
            await sink.json(SessionReady(session_id=session.id,
                                         output_sample_rate=session.rate,
                                         session=session.config(), resumed=resumed,
                                         context_messages=len(session.history)))
            try:
                await _receive_loop(ws, session, sink)
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


async def _receive_loop(ws: WebSocket, session: Session, sink: WebSocketSink) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            await session.handle_text_frame(text)
            continue
        data = message.get("bytes")
        if data is not None:
            await session.handle_binary_frame(data)
