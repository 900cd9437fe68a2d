"""Server events on the wire: JSON text frames only, an ``event_id`` on every one, GA names or
the beta dialect's, and ``error`` events that echo the client's ``event_id``.

Events are built with GA names and shapes; a beta client (``OpenAI-Beta: realtime=v1``, or a
beta-shaped ``session.update``) gets them renamed (``response.output_audio.delta`` ->
``response.audio.delta``, ``conversation.item.added`` -> ``conversation.item.created``, assistant
content ``output_audio`` -> ``audio``); events beta does not have are not sent to it.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson

Dialect = Literal["ga", "beta"]

_TO_BETA = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
_GA_ONLY = frozenset({"conversation.item.done"})
_CONTENT_TO_BETA = {"output_audio": "audio", "output_text": "text"}
# our error codes that mean "the server failed", not "the request was wrong"
_SERVER_CODES = frozenset({"INTERNAL_ERROR", "GENERATION_FAILED", "TTS_FAILED", "STT_FAILED",
                           "VAD_FAILED", "SERVICE_UNAVAILABLE"})


def error_type(code: str) -> str:
    return "server_error" if code in _SERVER_CODES else "invalid_request_error"


def new_id(prefix: str) -> str:
    """OpenAI-style ids: ``item_…``, ``resp_…`` (22 hex digits, unique)."""
    return f"{prefix}_{uuid.uuid4().hex[:22]}"


def beta_item(item: dict) -> dict:
    """A GA conversation item in the beta shape (assistant content types differ)."""
    content = item.get("content")
    if not content:
        return item
    return {**item, "content": [
        {**c, "type": _CONTENT_TO_BETA.get(c.get("type"), c.get("type"))} for c in content]}


class Wire:
    """One connection's outgoing events, serialised (responses, the microphone and the receive
    loop all send; a group of events — one of ours translated — goes out without interleaving)."""

    def __init__(self, send_text: Callable[[str], Awaitable[None]], dialect: Dialect = "ga",
                 metrics=None) -> None:
        self._send_text = send_text
        self.dialect: Dialect = dialect
        self.metrics = metrics
        self._lock = asyncio.Lock()
        self._prefix = f"event_{uuid.uuid4().hex[:8]}"
        self._counter = itertools.count(1)

    def item(self, item: dict) -> dict:
        """A conversation item in this client's dialect."""
        return beta_item(item) if self.dialect == "beta" else item

    def event(self, type_: str, **fields: Any) -> dict | None:
        """A server event with a fresh ``event_id``, named for this client's dialect (None: the
        dialect has no such event)."""
        if self.dialect == "beta":
            if type_ in _GA_ONLY:
                return None
            type_ = _TO_BETA.get(type_, type_)
            if "item" in fields:
                fields["item"] = beta_item(fields["item"])
        return {"type": type_, "event_id": f"{self._prefix}_{next(self._counter)}", **fields}

    def error(self, code: str, message: str, *, client_event_id: str | None = None,
              param: str | None = None, retry_after: float | None = None) -> dict:
        err: dict[str, Any] = {"type": error_type(code), "code": code, "message": message,
                               "param": param, "event_id": client_event_id}
        if retry_after is not None:
            err["retry_after"] = retry_after
        if self.metrics is not None:
            self.metrics.errors.labels(code).inc()
        return self.event("error", error=err)  # type: ignore[return-value]

    async def send(self, *events: dict | None) -> None:
        data = [orjson.dumps(e).decode() for e in events if e is not None]
        async with self._lock:
            for text in data:
                await self._send_text(text)
