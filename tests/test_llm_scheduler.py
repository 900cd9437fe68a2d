"""Live turns first: the LLM scheduler against a single-slot model server (a test double of the
LLM seam that serves one request at a time, like llama.cpp), and on the real embedded server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from realtime.engines.llm.base import LLM, ChatRequest, StreamStats
from realtime.engines.llm.scheduler import LLMScheduler


class OneSlotLLM(LLM):
    """Serves one request at a time (FIFO); each token takes ``token_s``; closing a stream frees
    the slot at once. Records each request's priority."""

    def __init__(self, token_s: float = 0.01) -> None:
        self.slot = asyncio.Lock()
        self.token_s = token_s
        self.priorities: list[int | None] = []
        self.started = asyncio.Event()

    async def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        self.priorities.append(request.priority)
        async with self.slot:
            self.started.set()
            for i in range(request.max_tokens):
                await asyncio.sleep(self.token_s)
                stats.completion_tokens += 1
                yield f"{i} "
        stats.finish_reason = "stop"

    async def health(self) -> bool:
        return True


def req(n: int) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "x"}], model="m", max_tokens=n)


async def collect(stream) -> str:
    return "".join([d async for d in stream])


async def first_token_s(stream) -> tuple[float, str]:
    t0 = time.perf_counter()
    first = None
    parts = []
    async for d in stream:
        if first is None:
            first = time.perf_counter() - t0
        parts.append(d)
    return first, "".join(parts)


async def test_a_live_turn_preempts_background_work_which_is_made_again_later():
    inner = OneSlotLLM()
    llm = LLMScheduler(inner, "preempt")
    job = llm.background()
    summary = asyncio.create_task(collect(job.stream(req(100), StreamStats())))  # ~1 s
    await inner.started.wait()
    first, text = await first_token_s(llm.stream(req(5), StreamStats()))
    assert first < 0.2, first  # not behind the summary's remaining ~1 s
    assert text == "0 1 2 3 4 "
    assert await summary == "".join(f"{i} " for i in range(100))  # whole, once
    assert job.preemptions == 1 and llm.preemptions == 1


async def test_background_work_waits_while_a_turn_streams():
    inner = OneSlotLLM()
    llm = LLMScheduler(inner, "preempt")
    live = asyncio.create_task(collect(llm.stream(req(30), StreamStats())))
    await inner.started.wait()
    t0 = time.perf_counter()
    await collect(llm.background().stream(req(2), StreamStats()))
    assert live.done() and time.perf_counter() - t0 >= 0.2  # it started after the turn


async def test_a_job_a_turn_waits_for_is_promoted():
    inner = OneSlotLLM()
    llm = LLMScheduler(inner, "preempt")
    live = asyncio.create_task(collect(llm.stream(req(200), StreamStats())))
    await inner.started.wait()
    job = llm.background()
    job.promote()  # a prompt over budget needs this summary now
    waiting = asyncio.create_task(collect(job.stream(req(3), StreamStats())))
    await asyncio.sleep(0.05)
    assert inner.priorities == [None, None]  # sent without waiting for the turn to end
    live.cancel()
    assert await waiting == "0 1 2 "
    assert job.preemptions == 0


async def test_priority_policy_marks_background_requests():
    inner = OneSlotLLM(token_s=0.0)
    llm = LLMScheduler(inner, "priority")
    await collect(llm.background().stream(req(2), StreamStats()))
    await collect(llm.stream(req(2), StreamStats()))
    assert inner.priorities == [1, None]


async def test_a_cancelled_background_caller_stops_its_request():
    inner = OneSlotLLM()
    llm = LLMScheduler(inner, "preempt")
    task = asyncio.create_task(collect(llm.background().stream(req(1000), StreamStats())))
    await inner.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not llm.busy_in_background
    async with asyncio.timeout(1):  # the slot is free again
        await collect(llm.stream(req(1), StreamStats()))


async def test_on_the_embedded_server_a_turn_does_not_wait_for_a_summary(live):
    """The real llama.cpp (one slot): a long background generation is running; a live request's
    first token comes in a fraction of the background request's time."""
    llm = live.services.llm
    assert isinstance(llm, LLMScheduler) and llm.policy == "preempt"
    long = ChatRequest(messages=[{"role": "user", "content": "Count from 1 to 300, spaced."}],
                       model=live.services.settings.llm_default_model, temperature=0.0,
                       max_tokens=300)
    job = llm.background()
    t0 = time.perf_counter()
    background = asyncio.create_task(collect(job.stream(long, StreamStats())))
    while not llm.busy_in_background:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # well into its generation
    first, _ = await first_token_s(llm.stream(ChatRequest(
        messages=[{"role": "user", "content": "Hi"}], model=long.model, temperature=0.0,
        max_tokens=4), StreamStats()))
    text = await background
    total = time.perf_counter() - t0
    assert job.preemptions >= 1 and len(text.split()) > 50
    assert first < 0.5 * total, (first, total)
