"""``POST /api/story/generate`` (the seeds' ``{prompt, length, style}`` -> ``{story, word_count,
chapters}``) and ``POST /api/story/generate/stream`` (the same, as Server-Sent Events while the
model writes: ``story.delta`` events, then ``story.done`` with the result, or ``error``)."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from realtime.api.deps import ServicesDep, UserDep
from realtime.lenient import Lenient
from realtime.api.schemas import SSE, StoryResponse, errors
from realtime.engines.llm.base import LLMError
from realtime.errors import ApiError
from realtime.pipeline.story import Story, StoryRequest, write_story

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/story", tags=["story"])


class StoryBody(Lenient):
    prompt: str = Field(..., min_length=1, description="What the story is about")
    length: Literal["short", "medium", "long"] = Field(
        "medium", description="About 150 words in 1 chapter, 500 in 3, or 1000 in 5")
    style: str = Field("", max_length=100, description="Genre or tone, e.g. fantasy")


def _writer(request: Request, services):
    """-> (llm, model): the story endpoint's own client, else the chat LLM."""
    own = getattr(request.app.state, "story_llm", None)
    s = services.settings
    if own is not None:
        return own, s.story_llm_model
    return services.llm, s.story_llm_model or s.llm_default_model


def _check(body: StoryBody, services) -> StoryRequest:
    prompt = body.prompt.strip()
    limit = services.settings.max_text_chars
    if not prompt:
        raise ApiError("VALIDATION_ERROR", "prompt is empty")
    if len(prompt) > limit:
        raise ApiError("TEXT_TOO_LONG", f"prompt over {limit} characters")
    return StoryRequest(prompt=prompt, length=body.length, style=body.style)


def _failed(exc: LLMError) -> ApiError:
    code = "SERVICE_UNAVAILABLE" if exc.code == "SERVICE_UNAVAILABLE" else "GENERATION_FAILED"
    return ApiError(code, str(exc), retry_after=5 if code == "SERVICE_UNAVAILABLE" else None)


@router.post("/generate", summary="Write a story (the seeds' story API, on the configured LLM)",
             response_model=StoryResponse, responses=errors(400, 503))
async def generate_story(body: StoryBody, services: ServicesDep, _: UserDep,
                   request: Request) -> dict:
    req = _check(body, services)
    llm, model = _writer(request, services)
    story = Story()
    async with services.limits.slot(f"story:{uuid.uuid4().hex}"):
        try:
            async for _delta in write_story(llm, model, req, services.settings.story_max_tokens,
                                            story):
                pass
        except LLMError as exc:
            raise _failed(exc) from exc
    return {"success": True, "data": story.result()}


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.post("/generate/stream", summary="Write a story, streamed as Server-Sent Events",
             response_class=StreamingResponse, responses={**errors(400, 503), **SSE})
async def generate_story_stream(body: StoryBody, services: ServicesDep, _: UserDep,
                          request: Request) -> StreamingResponse:
    req = _check(body, services)
    llm, model = _writer(request, services)
    holder = f"story:{uuid.uuid4().hex}"
    await services.limits.acquire(holder)
    story = Story()

    async def events() -> AsyncIterator[bytes]:
        gen = write_story(llm, model, req, services.settings.story_max_tokens, story)
        try:
            async for delta in gen:
                yield _event("story.delta", {"delta": delta})
            yield _event("story.done", {"success": True, "data": story.result()})
        except LLMError as exc:
            err = _failed(exc)
            yield _event("error", {"success": False,
                                   "error": {"code": err.code, "message": err.message}})
        finally:  # the client went away too: closing the generator stops the LLM stream
            with contextlib.suppress(Exception):
                await gen.aclose()
            await services.limits.release(holder)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
