"""Test doubles and an invariant checker for the turn-ownership race tests.

The races live in our own code (who holds the speaking turn, the finish path, the history), so
these tests drive the real ``Session``, ``TurnEngine``, ``Conversation``/``ContextManager``, the
in-process short-term store, the SQLite long-term store and the outbox, with doubles only at the
model seams (LLM, TTS, token counter) so that every interleaving can be provoked on purpose:
each double yields to the event loop a seeded, random number of times between its steps.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from realtime.engines.llm.base import LLM, ChatRequest, StreamStats
from realtime.engines.tts.base import PhonemeTiming, SynthChunk, TTSEngine, VoiceInfo
from realtime.engines.tts.router import TTSRouter
from realtime.memory.context import ContextManager
from realtime.memory.conversation import Memory
from realtime.memory.tokens import TokenCounter
from realtime.store.long_sqlite import SqliteLongTermStore
from realtime.store.outbox import Outbox
from realtime.store.short_memory import MemoryShortTermStore

SUMMARY_MARK = "Summarise our conversation"


class Jitter:
    """Seeded yields to the event loop: ``await jitter(n)`` yields 0..n times."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    async def __call__(self, n: int = 3) -> None:
        for _ in range(self.rng.randint(0, n)):
            await asyncio.sleep(0)


class PacedLLM(LLM):
    """Answers ``Answer to <question>. Second sentence is here. And a third one.`` word by word,
    yielding to the loop between words; summary requests answer ``SUMMARY-n`` and wait for
    ``summary_gate`` first (when set), so a test can hold a summary open."""

    def __init__(self, jitter: Jitter) -> None:
        self.jitter = jitter
        self.requests: list[ChatRequest] = []
        self.summary_gate: asyncio.Event | None = None
        self.summaries = 0
        self.summary_started = asyncio.Event()

    async def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        self.requests.append(request)
        last = request.messages[-1]["content"]
        if SUMMARY_MARK in last:
            self.summaries += 1
            self.summary_started.set()
            if self.summary_gate is not None:
                await self.summary_gate.wait()
            words = [f"SUMMARY-{self.summaries}"]
        else:
            words = (f"Answer to {last.strip('.')}. Second sentence is here. "
                     "And a third one.").split(" ")
        for i, word in enumerate(words):
            await self.jitter()
            stats.completion_tokens += 1
            yield word if i == 0 else " " + word
        stats.finish_reason = "stop"

    async def health(self) -> bool:
        return True


class ToneTTS(TTSEngine):
    """Every sentence: ``ms_per_word`` of a tone per word in two chunks, with phoneme timings (so
    no fitting thread is needed), yielding to the loop between chunks."""

    name = "tone"
    RATE = 16000

    def __init__(self, jitter: Jitter, ms_per_word: float = 120.0) -> None:
        self.jitter = jitter
        self.ms_per_word = ms_per_word

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(id="tone:a", name="a", language="en", engine=self.name)]

    def supports(self, language: str) -> bool:
        return True

    async def synthesize(self, text: str, *, language: str, voice: str | None = None,
                         speed: float = 1.0, streaming_mode: int | None = None
                         ) -> AsyncIterator[SynthChunk]:
        n = int(len(text.split()) * self.ms_per_word * self.RATE / 1000)
        pcm = (np.sin(np.arange(n) * 0.05) * 8000).astype(np.int16)
        half = n // 2
        dur = n * 1000.0 / self.RATE
        phonemes = [PhonemeTiming("a", 0.0, dur / 2), PhonemeTiming("o", dur / 2, dur / 2)]
        await self.jitter()
        yield SynthChunk(pcm[:half], self.RATE, phonemes)
        await self.jitter()
        yield SynthChunk(pcm[half:], self.RATE, [])


class SlowCounter(TokenCounter):
    """The estimate, but every count suspends like an HTTP call to a tokenizer would."""

    def __init__(self, jitter: Jitter) -> None:
        super().__init__(None, "m")
        self.jitter = jitter

    async def count(self, text: str) -> int:
        await self.jitter(6)
        return self.estimate(text)


class LogSink:
    """Records every event in order: ``("json", dict)`` or ``("audio", response_id, offset, n)``;
    ``on_json`` (if set) is called with each JSON event *before* it is recorded."""

    def __init__(self, jitter: Jitter | None = None) -> None:
        self.log: list[tuple] = []
        self.jitter = jitter
        self.on_json = None

    async def json(self, msg) -> None:
        if self.jitter is not None:
            await self.jitter(2)
        data = msg.model_dump()
        if self.on_json is not None:
            self.on_json(data)
        self.log.append(("json", data))

    async def audio(self, response_id: int, chunk_index: int, sample_offset: int, pcm) -> None:
        if self.jitter is not None:
            await self.jitter(2)
        self.log.append(("audio", response_id, sample_offset, len(pcm)))

    def events(self, type_: str | None = None) -> list[dict]:
        return [e[1] for e in self.log if e[0] == "json" and (type_ is None or e[1]["type"] == type_)]


def build_memory(tmp: Path, llm: LLM, jitter: Jitter, *, summarize_every_turn: bool = False
                 ) -> Memory:
    """Real stores (in-process short-term, SQLite long-term, the outbox). With
    ``summarize_every_turn`` every turn after the first folds all but the last exchange into the
    summary, in the background, while the answer is still playing."""
    short = MemoryShortTermStore()
    long = SqliteLongTermStore(tmp / "history.sqlite3")
    outbox = Outbox(tmp / "outbox.sqlite3", long)
    ratios = dict(summarize_ratio=0.0, keep_ratio=0.0) if summarize_every_turn else {}
    context = ContextManager(llm, SlowCounter(jitter), short, model="m", context_tokens=8192,
                             margin=16, summary_max_tokens=40, **ratios)
    return Memory(short, long, outbox, context)


def tone_router(jitter: Jitter) -> TTSRouter:
    return TTSRouter([ToneTTS(jitter)])


def check_invariants(log: list[tuple]) -> dict[int, dict]:
    """The turn-ownership invariants, over one session's event log. Returns per response:
    ``{"started", "done", "interrupted", "status", "end_index"}``.

    1. every ``response.started`` has exactly one ``response.done`` after it, and every
       ``response.done`` a ``response.started`` before it;
    2. ``response.interrupted`` at most once per response;
    3. a response cut before its ``response.done`` ends ``interrupted``, and no audio of it
       follows the cut;
    4. never two live responses: once response *n* has started, no audio of an earlier response
       follows, and an earlier one that had not ended by then ended ``interrupted``;
    5. ``talk_end`` never before ``talk_start``; at most once before ``response.done``, and at
       most once after it, only to close a late cut (``response.interrupted`` after the done).
    """
    info: dict[int, dict] = {}
    live: list[int] = []  # started, no done yet
    talk: dict[int, list[str]] = {}
    for i, entry in enumerate(log):
        if entry[0] == "audio":
            rid = entry[1]
            r = info.get(rid)
            assert r is not None and r["done"] is None, f"audio of {rid} outside its life (#{i})"
            assert r["interrupted"] is None, f"audio of {rid} after its response.interrupted (#{i})"
            newer = [x for x in info if x > rid and info[x]["started"] is not None]
            assert not newer, f"audio of {rid} after response {newer} started (#{i})"
            continue
        ev = entry[1]
        t, rid = ev["type"], ev.get("response_id")
        if t == "response.started":
            assert rid not in info, f"response {rid} started twice"
            for other in live:  # an older response still live must be on its way out
                assert info[other]["interrupted"] is not None, (
                    f"response {rid} started while {other} was live and not cut (#{i})")
            info[rid] = {"started": i, "done": None, "interrupted": None, "status": None}
            live.append(rid)
        elif t == "response.interrupted":
            assert rid in info, f"interrupted {rid} before it started"
            assert info[rid]["interrupted"] is None, f"response {rid} interrupted twice (#{i})"
            info[rid]["interrupted"] = i
        elif t == "response.done":
            assert rid in info and info[rid]["done"] is None, f"response.done {rid} twice/unstarted"
            info[rid]["done"], info[rid]["status"] = i, ev["status"]
            if info[rid]["interrupted"] is not None:
                assert ev["status"] == "interrupted", f"{rid} cut, but done says {ev['status']}"
            live.remove(rid)
        elif t == "avatar.animation" and ev["action"] in ("talk_start", "talk_end"):
            seq = talk.setdefault(rid, [])
            r = info[rid]
            name = ev["action"]
            if r["done"] is not None:  # after response.done: only the close of a late cut
                assert name == "talk_end" and r["interrupted"] is not None \
                    and r["interrupted"] > r["done"], f"{name} of {rid} after its done (#{i})"
                name = "late_talk_end"
            assert name not in seq, f"{name} of {rid} twice (#{i})"
            assert name == "talk_start" or "talk_start" in seq, f"talk_end of {rid} before start"
            seq.append(name)
    assert not live, f"responses {live} never sent response.done"
    return info
