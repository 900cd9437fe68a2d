"""An LLM that asks the GPU host for the conversation plan before each request.

Every request to the model server (a turn, a summary, the warm-up) first awaits
``gpu.conversation_ready()``: on a GPU shared with avatar jobs, vLLM may be asleep and must
never get a request then (it crashes or hangs: vllm-project/vllm#15483, #45326). The wait goes
into ``StreamStats.gpu_wait_ms`` (the turn's ``timings.gpu_wait_ms``); the end of the stream is
a live signal too, so the idle window counts from the end of the answer. The GPU client never
raises and bounds its wait, so a GPU host that is down never blocks a turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from realtime.engines.llm.base import LLM, ChatRequest, StreamStats, WrappedLLM


class GpuGatedLLM(WrappedLLM):
    def __init__(self, inner: LLM, gpu) -> None:
        super().__init__(inner)
        self.gpu = gpu  # gpu_host.client.GpuClient
        self.name = inner.name

    async def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        stats.gpu_wait_ms = await self.gpu.conversation_ready("turn")
        try:  # closing this (a cancelled turn) closes the upstream stream at once
            async with aclosing(self.inner.stream(request, stats)) as stream:
                async for delta in stream:
                    yield delta
        finally:
            self.gpu.live_signal("turn.end")
