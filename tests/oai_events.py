"""The conformance check of ``/v1/realtime``: every server event a test receives is validated
with the ``openai`` SDK's own pydantic server-event union (the check ``openai-agents`` makes on
each event), so a missing required field, a wrong type or an unknown event type fails the test."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import orjson
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent
from pydantic import Field, TypeAdapter

# exactly as openai-agents builds its validator (agents/realtime/openai_realtime.py)
GA = TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])
BETA = TypeAdapter(Annotated[BetaServerEvent, Field(discriminator="type")])
SEEN: Counter[str] = Counter()  # every GA event type validated in this test run


class Recorder:
    """Validates and keeps a session's server events (``avatar.*`` only when opted in)."""

    def __init__(self, beta: bool = False, avatar: bool = False) -> None:
        self.adapter = BETA if beta else GA
        self.beta = beta
        self.avatar = avatar
        self.events: list[dict] = []
        self._ids: set[str] = set()

    def check(self, raw: str | bytes | dict) -> dict:
        ev = raw if isinstance(raw, dict) else orjson.loads(raw)
        assert isinstance(ev.get("event_id"), str) and ev["event_id"], ev
        assert ev["event_id"] not in self._ids, f"event_id used twice: {ev}"
        self._ids.add(ev["event_id"])
        self.events.append(ev)
        if self.avatar and ev["type"].startswith("avatar."):
            return ev
        self.adapter.validate_python(ev)  # raises on any event the SDK's union rejects
        if not self.beta:
            SEEN[ev["type"]] += 1
        return ev

    def of(self, type_: str) -> list[dict]:
        return [e for e in self.events if e["type"] == type_]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]
