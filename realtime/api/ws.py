"""``/ws``: protocol v1. One task group per session; leaving it cancels everything."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from realtime.api.deps import services_of
from realtime.protocol.messages import SessionReady
from realtime.session import Session
from realtime.sinks import WebSocketSink

log = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/ws")
async def ws_session(ws: WebSocket) -> None:
    services = services_of(ws.app)
    await ws.accept()
    sink = WebSocketSink(ws, services.metrics)
    services.metrics.sessions.inc()
    session: Session | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            voice_ok = services.stt is not None and services.vad_hub is not None
            session = Session(services.settings, services.engine, sink, tg,
                              services.tts.voice_ids(),
                              vad_hub=services.vad_hub if voice_ok else None,
                              stt=services.stt if voice_ok else None, metrics=services.metrics)
            services.sessions.add(session)
            await sink.json(SessionReady(session_id=session.id,
                                         output_sample_rate=session.rate,
                                         session=session.config()))
            try:
                await _receive_loop(ws, session, sink)
            finally:
                await session.close()
    except* WebSocketDisconnect:
        pass  # the client left (possibly while we were sending to it)
    except* Exception:  # noqa: BLE001 - a crashed session must not take the server with it
        log.exception("session crashed")
    finally:
        services.metrics.sessions.dec()
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
