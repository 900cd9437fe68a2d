"""``/v1/realtime``: the OpenAI Realtime API over WebSocket, on the same sessions as ``/ws``.

The handshake: any ``?model=`` is accepted; the caller is identified by ``Authorization: Bearer``,
``?token=`` or the subprotocol ``openai-insecure-api-key.<token>`` (browsers), checked as
``AVATAR_AUTH_MODE`` says; ``realtime`` is selected when offered. ``OpenAI-Beta: realtime=v1``
selects the beta dialect. Then, as on ``/ws``: a concurrent-session slot (refused: ``error``
then close 1013), ``?session_id=`` resumes an earlier conversation of the same user, and
``?character_id=`` picks one of our characters. Frames are JSON text, both ways.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from realtime.api.deps import services_of
from realtime.api.ws import admit, live_session, open_session, receive_frames
from realtime.errors import ApiError
from realtime.oai.connection import OaiConnection
from realtime.oai.config import RATE
from realtime.oai.items import Items
from realtime.oai.sink import Flags, OaiSink
from realtime.oai.wire import Wire
from realtime.session import Session

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
    admitted = await admit(ws, services, ws.query_params.get("token") or key,
                           lambda exc, code: _refuse(ws, wire, exc, code), "oai")
    if admitted is None:
        return
    user, resume, holder = admitted
    settings = services.settings
    sink = OaiSink(wire, Items(), Flags(rate_limit=settings.rate_limit_per_minute), RATE)

    async def serve(session: Session, resumed: str | None) -> None:
        conn = OaiConnection(session, sink, settings)
        await conn.start(ws.query_params.get("character_id"), ws.query_params.get("model"))
        await receive_frames(ws, conn)

    await live_session(ws, services, holder, resume,
                       lambda tg: open_session(services, sink, tg, user, resume, rate=RATE),
                       serve)
