"""``/api/sessions`` (a user's conversations, newest first) and ``/api/feedback``."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from realtime.api.deps import ServicesDep, UserDep, store_call
from realtime.api.schemas import (
    FeedbackResponse, MessageListResponse, SessionListResponse, errors,
)
from realtime.errors import ApiError

router = APIRouter(tags=["history"])


def _session_out(doc: dict, count: int) -> dict:
    return {"id": doc["_id"], "character_id": doc.get("character_id"),
            "title": doc.get("title", ""), "created_at": doc.get("created_at"),
            "updated_at": doc.get("updated_at"), "message_count": count}


def _message_out(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k not in ("_id", "user_id")}
    out["id"] = doc["_id"]
    return out


async def owned_session(services, session_id: str, user: str) -> dict:
    doc = await store_call(services.memory.long.get_session(session_id))
    if doc is None or doc.get("user_id") != user:
        raise ApiError("NOT_FOUND", f"unknown session {session_id!r}")
    return doc


@router.get("/api/sessions", summary="Your conversations, most recent first",
            response_model=SessionListResponse, responses=errors(400, 503))
async def list_sessions(services: ServicesDep, user: UserDep,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20,
                        before: Annotated[float | None, Query(
                            description="cursor: next_before of the previous page")] = None,
                        ) -> dict:
    long = services.memory.long
    docs = await store_call(long.list_sessions(user, limit + 1, before))
    more = len(docs) > limit
    docs = docs[:limit]
    items = [_session_out(d, await store_call(long.count_messages(d["_id"]))) for d in docs]
    return {"success": True, "data": {
        "items": items, "next_before": docs[-1]["updated_at"] if more else None}}


@router.get("/api/sessions/{session_id}/messages", summary="A conversation's messages, in order",
            response_model=MessageListResponse, responses=errors(400, 404, 503))
async def list_messages(session_id: str, services: ServicesDep, user: UserDep,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        after: Annotated[int | None, Query(
                            description="cursor: next_after of the previous page")] = None,
                        ) -> dict:
    await owned_session(services, session_id, user)
    rows = await store_call(services.memory.long.list_messages(session_id, limit + 1, after=after))
    more = len(rows) > limit
    rows = [r for r in rows[:limit] if r.get("user_id") == user]
    return {"success": True, "data": {
        "items": [_message_out(r) for r in rows],
        "next_after": rows[-1]["seq"] if more and rows else None,
        "pending_writes": services.memory.outbox.pending}}


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: str = Field(..., min_length=1, max_length=64)
    rating: int = Field(..., ge=1, le=5, description="1 (bad) .. 5 (good); thumbs: 1 or 5")
    comment: str = Field("", max_length=2000)


@router.post("/api/feedback", status_code=201, summary="Rate an answer (fine-tuning data)",
             response_model=FeedbackResponse, responses=errors(400, 404, 503))
async def feedback(body: FeedbackBody, services: ServicesDep, user: UserDep) -> dict:
    memory = services.memory
    msg = await store_call(memory.long.get_message(body.message_id))
    if msg is None and memory.outbox.pending:
        try:  # the answer may still be on its way to the store
            await memory.outbox.flush(2.0)
        except TimeoutError:
            raise ApiError("SERVICE_UNAVAILABLE", "history is catching up; try again",
                           retry_after=5) from None
        msg = await store_call(memory.long.get_message(body.message_id))
    if msg is None or msg.get("user_id") != user:
        raise ApiError("NOT_FOUND", f"unknown message {body.message_id!r}")
    if msg.get("role") != "assistant":
        raise ApiError("VALIDATION_ERROR", "only the avatar's answers can be rated")
    doc = {"message_id": body.message_id, "user_id": user, "session_id": msg["session_id"],
           "rating": body.rating, "comment": body.comment, "created_at": time.time()}
    await store_call(memory.long.put_feedback(doc))
    return {"success": True, "data": {k: v for k, v in doc.items() if k != "user_id"}}
