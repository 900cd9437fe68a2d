"""``/v1/realtime``: the OpenAI Realtime API over WebSocket, on the same sessions as ``/ws``.

The handshake: any ``?model=`` is accepted; the caller is identified by ``Authorization: Bearer``,
``?token=`` or the subprotocol ``openai-insecure-api-key.<token>`` (browsers), checked as
``AVATAR_AUTH_MODE`` says; ``realtime`` is selected when offered. ``OpenAI-Beta: realtime=v1``
selects the beta dialect. Then, as on ``/ws``: a concurrent-session slot (refused: ``error``
then close 1013), ``?session_id=`` resumes an earlier conversation of the same user, and
``?character_id=`` picks one of our characters. Frames are JSON text, both ways.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from realtime.api.deps import services_of
from realtime.api.ws import CLOSE_POLICY, CLOSE_TRY_LATER, _resume_target, open_session
from realtime.auth import resolve_user
from realtime.errors import ApiError
from realtime.oai.connection import OaiConnection
from realtime.oai.config import RATE
from realtime.oai.items import Items
from realtime.oai.sink import Flags, OaiSink
from realtime.oai.wire import Wire

log = logging.getLogger(__name__)
router = APIRouter()
KEY_PROTOCOL = "openai-insecure-api-key."


def _offered(ws: WebSocket) -> list[str]:
    raw = ws.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


async def _refuse(ws: WebSocket, wire: Wire, exc: ApiError, close_code: int) -> None:
    await wire.send(wire.error(exc.code, exc.message, retry_after=exc.retry_after))
    await ws.close(code=close_code, reason=exc.code)


@router.websocket("/v1/realtime")
async def openai_realtime(ws: WebSocket) -> None:
    services = services_of(ws.app)
    offered = _offered(ws)
    key = next((p.removeprefix(KEY_PROTOCOL) for p in offered if p.startswith(KEY_PROTOCOL)),
               None)
    await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
    beta = "realtime=v1" in ws.headers.get("openai-beta", "")
    wire = Wire(ws.send_text, "beta" if beta else "ga", services.metrics)
    try:
        user = resolve_user(services.settings, ws.headers.get("authorization"),
                            ws.query_params.get("token") or key)
        resume = await _resume_target(services, ws.query_params.get("session_id"), user)
    except ApiError as exc:
        code = CLOSE_TRY_LATER if exc.code == "SERVICE_UNAVAILABLE" else CLOSE_POLICY
        await _refuse(ws, wire, exc, code)
        return
    holder = f"oai:{uuid.uuid4().hex}"
    try:
        await services.limits.acquire(holder)
    except ApiError as exc:
        await _refuse(ws, wire, exc, CLOSE_TRY_LATER)
        return
    services.metrics.sessions.inc()
    session = None
    try:
        async with asyncio.TaskGroup() as tg:
            sink = OaiSink(wire, Items(), Flags(rate_limit=services.settings.rate_limit_per_minute),
                           RATE)
            session = open_session(services, sink, tg, user, resume, rate=RATE)
            conn = OaiConnection(session, sink, services.settings)
            if resume:
                await session.conv.load()
            services.sessions.add(session)
            beat = tg.create_task(services.limits.heartbeat(holder), name="slot-heartbeat")
            try:
                await conn.start(ws.query_params.get("character_id"),
                                 ws.query_params.get("model"))
                await _receive_loop(ws, conn)
            finally:
                beat.cancel()
                await session.close()
    except* WebSocketDisconnect:
        pass  # the client left (possibly while we were sending to it)
    except* Exception:  # noqa: BLE001 - a crashed session must not take the server with it
        log.exception("openai realtime session crashed")
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


async def _receive_loop(ws: WebSocket, conn: OaiConnection) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            await conn.handle_text_frame(text)
        elif message.get("bytes") is not None:
            await conn.handle_binary_frame(message["bytes"])
