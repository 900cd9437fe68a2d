"""``create_app(settings)``: the FastAPI app. Engines start in the lifespan, never at import."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from realtime import __version__
from realtime.api import (
    characters, chat, generate, health, history, oai_realtime, performance, story, stt, style,
    system, tts, web, ws,
)
from realtime.api.cors import CorsByOrigin
from realtime.api.openapi import install_openapi
from realtime.avatar_jobs import start_avatar_jobs
from realtime.config import Settings
from realtime.errors import install_error_handlers
from realtime.services import Services

log = logging.getLogger(__name__)


def operation_id(route) -> str:
    """OpenAPI operation ids are the route functions' names (``chat``, ``synthesize``), so
    generated clients get short method names."""
    return route.name


async def start_story_llm(settings: Settings):
    """The story endpoint's own OpenAI-compatible client (``AVATAR_STORY_LLM_BASE_URL``), or
    None: stories then go to the chat LLM."""
    if not settings.story_llm_base_url:
        return None
    from realtime.engines.llm.openai_compat import OpenAICompatLLM

    llm = OpenAICompatLLM(settings.story_llm_base_url, api_key=settings.story_llm_api_key,
                          connect_timeout_s=settings.llm_connect_timeout_s,
                          first_token_timeout_s=settings.llm_first_token_timeout_s,
                          idle_timeout_s=settings.llm_idle_timeout_s)
    await llm.start()
    return llm


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()
    audio_dir = Path(settings.audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or Services.build(settings)
        app.state.services = svc
        await svc.start()
        app.state.story_llm = await start_story_llm(settings)
        app.state.avatars = await start_avatar_jobs(settings, svc)
        # Everything loaded so far (models, libraries) lives as long as the process: keep it out
        # of the cyclic GC's full collections, which otherwise stall the event loop for 100+ ms
        # every so often once the heap holds the engines' millions of objects.
        gc.collect()
        gc.freeze()
        log.info("avatar realtime server ready (llm=%s)", getattr(svc.llm, "base_url", "?"))
        try:
            yield
        finally:
            if app.state.story_llm is not None:
                await app.state.story_llm.aclose()
            await app.state.avatars.stop()
            await svc.stop()

    app = FastAPI(
        title="Avatar realtime server", version=__version__, lifespan=lifespan,
        docs_url="/docs", redoc_url="/redoc", openapi_url="/api/openapi.json",
        generate_unique_id_function=operation_id,
        description="Realtime voice-avatar server. WebSocket protocol v1 at `/ws` "
                    "(see docs/protocol.md); REST below.",
    )
    app.add_middleware(CorsByOrigin, origins=settings.cors_origins)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(ws.router)
    app.include_router(oai_realtime.router)
    app.include_router(chat.router)
    app.include_router(tts.router)
    app.include_router(stt.router)
    app.include_router(health.router)
    app.include_router(performance.router)
    app.include_router(characters.router)
    app.include_router(history.router)
    app.include_router(story.router)
    app.include_router(system.router)
    app.include_router(generate.router)
    app.include_router(generate.models)
    app.include_router(style.router)
    app.mount("/media/audio", StaticFiles(directory=audio_dir), name="audio")
    app.include_router(web.router)  # last: the web client's catch-all must not shadow the API
    return app
