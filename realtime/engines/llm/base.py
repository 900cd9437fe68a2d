"""The LLM seam: a chat model that streams text deltas."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


class LLMError(Exception):
    """The model server failed: unreachable, refused, or the stream broke."""

    def __init__(self, message: str, code: str = "GENERATION_FAILED") -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class ChatRequest:
    messages: list[dict[str, str]]
    model: str
    temperature: float = 0.7
    max_tokens: int = 200
    stop: list[str] = field(default_factory=list)
    priority: int | None = None  # vLLM priority scheduling (lower first); None: not sent


@dataclass(slots=True)
class StreamStats:
    """Filled in while a stream runs."""

    prompt_tokens: int | None = None
    completion_tokens: int = 0
    finish_reason: str | None = None
    gpu_wait_ms: float = 0.0  # waited for the GPU host's conversation plan before the request


class LLM(abc.ABC):
    name: str = "llm"

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    @abc.abstractmethod
    def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        """Yield content deltas. Closing the iterator closes the upstream stream."""

    @abc.abstractmethod
    async def health(self) -> bool: ...


class WrappedLLM(LLM):
    """An LLM that adds behaviour around another one (the GPU gate, the live-first scheduler):
    start, close, health and any other attribute (``base_url``...) are the wrapped one's."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def health(self) -> bool:
        return await self.inner.health()

