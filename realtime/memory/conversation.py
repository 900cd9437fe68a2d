"""One session's history: the working context in the short-term store, every message in the
long-term store (through the outbox), summaries made in the background.

Failures of either store never stop a turn: the session keeps its own copy of the context and
writes it whole to the short-term store once that answers again (``dirty``); messages wait in
the outbox. A session resumed on another connection (or process) loads its context from the
short-term store, or rebuilds it from the long-term history when that was lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

from realtime.memory.context import ContextManager, ContextState, Prepared
from realtime.store.base import LongTermStore, ShortTermStore
from realtime.store.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class Memory:
    """The app-wide memory services (built from settings by ``Services``)."""

    short: ShortTermStore
    long: LongTermStore
    outbox: Outbox
    context: ContextManager
    context_ttl_s: int = 86400
    rebuild_limit: int = 400  # messages read back from the long-term store on a rebuild


def new_id() -> str:
    return uuid.uuid4().hex


_last_seq = 0


def next_seq() -> int:
    """Message order: a nanosecond clock, strictly increasing within the process."""
    global _last_seq
    _last_seq = max(_last_seq + 1, time.time_ns())
    return _last_seq


def turn_meta(resp, *, character_id: str, source: str, heard: str | None = None,
              audio_url: str | None = None, **common) -> dict:
    """What is stored with a turn's messages (``common`` on both, ``assistant`` on the answer),
    for WebSocket and REST turns alike. ``heard``: what the user heard of an interrupted answer."""
    spec = resp.spec
    interrupted = resp.status == "interrupted"
    return {
        "common": {"character_id": character_id, "language": spec.language, "source": source,
                   **common},
        "user": {"utterance_id": spec.utterance_id},
        "assistant": {
            "model": spec.model, "status": resp.status, "interrupted": interrupted,
            "heard_text": heard if interrupted else None,
            "generated_text": resp.text if interrupted else None,
            "audio_url": audio_url, "audio_ms": round(resp.audio_ms, 1),
            "timings": resp.timings.model_dump(exclude_none=True),
            "usage": resp.usage.model_dump(), "context_summarized": resp.context_summarized,
            "error": resp.error},
    }


def session_fields(character_id: str, user: dict, system: str) -> dict:
    """The session document's fields a turn sets: character, title (first words), persona."""
    return {"character_id": character_id, "title": user["content"][:80], "system_prompt": system}


def turn_ops(session_id: str, user_id: str, user: dict | None, assistant: dict | None,
             meta: dict, session_doc: dict) -> list[dict]:
    """Outbox operations for one turn: the session (created or touched) and its messages."""
    now = time.time()
    ops: list[dict] = [{"op": "session", "doc": {
        "_id": session_id, "user_id": user_id, "created_at": now, "updated_at": now,
        **session_doc}}]
    for entry, extra in ((user, meta.get("user", {})), (assistant, meta.get("assistant", {}))):
        if entry is not None:
            ops.append({"op": "message", "doc": {
                "_id": entry["id"], "session_id": session_id, "user_id": user_id,
                "seq": next_seq(), "role": entry["role"], "content": entry["content"],
                "created_at": now, **meta.get("common", {}), **extra}})
    return ops


class Conversation:
    def __init__(self, memory: Memory, session_id: str, user_id: str) -> None:
        self.memory = memory
        self.session_id = session_id
        self.user_id = user_id
        self.state = ContextState()
        self.dirty = True  # the short-term store lacks (part of) our context
        self._summarising: asyncio.Task | None = None
        self._job = None  # the summary's background LLM job (promoted when a turn needs it)

    # ------------------------------------------------------------------ loading
    async def load(self) -> str:
        """Resume: context from the short-term store, else rebuilt from the long-term history.
        -> "short_term" | "long_term" | "empty"."""
        try:
            doc = await self.memory.short.load_context(self.session_id)
        except Exception as exc:  # noqa: BLE001 - rebuild from the long-term store instead
            log.warning("short-term store unavailable on resume: %s", exc)
            doc = None
        if doc is not None:
            self.state, self.dirty = ContextState.from_doc(doc), False
            return "short_term"
        rows = await self.memory.long.list_messages(self.session_id, self.memory.rebuild_limit,
                                                    before=2**62)
        self.state = ContextState(messages=[
            {"id": r["_id"], "role": r["role"], "content": r["content"]}
            for r in rows if r.get("content") and r["role"] in ("user", "assistant")])
        self.dirty = True
        await self._sync()
        return "long_term" if rows else "empty"

    @property
    def messages(self) -> list[dict]:
        return self.state.messages

    # ------------------------------------------------------------------ turns
    async def prepare(self, system: str, user: dict, max_tokens: int,
                      language: str) -> Prepared:
        """The prompt for the answer to ``user`` (``{id, role, content}``)."""
        task = self._summarising
        if task is not None and not task.done():
            ctx = self.memory.context
            sys_t = await ctx.system_tokens(system)
            if ctx.total(self.state, sys_t) + ctx.tokens(user) > ctx.budget(max_tokens):
                if self._job is not None and hasattr(self._job, "promote"):
                    self._job.promote()  # this turn needs it: it goes first now
                await asyncio.wait({task})  # over budget anyway: use the summary being made
        return await self.memory.context.prepare(self.state, system, user, max_tokens,
                                                 language)

    async def record(self, user: dict | None, assistant: dict | None, *, meta: dict,
                     session_doc: dict) -> None:
        """Persist a finished turn and add it to the context. ``meta`` goes on the messages."""
        ops = turn_ops(self.session_id, self.user_id, user, assistant, meta, session_doc)
        await self._enqueue(ops)
        added = [m for m in (user, assistant) if m is not None and m["content"]]
        self.state.messages.extend(added)
        await self._append(added)

    async def edit(self, entry: dict, heard: str, after: str | None = None) -> None:
        """The user cut the answer after it was kept: keep only what they heard. Edits the
        live list in place (a summary being made merges into it, never over it). An answer not
        in the context (nothing of it was heard when it was kept) goes back in after the message
        ``after`` when a client reports it was heard after all (OpenAI's truncate)."""
        patch = {"content": heard, "heard_text": heard, "interrupted": True,
                 "status": "interrupted"}
        if heard:
            msgs = self.state.messages
            live = next((m for m in msgs if m.get("id") == entry.get("id")), None)
            if live is None:
                live = {"id": entry["id"], "role": "assistant", "content": heard}
                msgs.insert(next((i + 1 for i, m in enumerate(msgs) if m.get("id") == after),
                                 len(msgs)), live)
            live["content"], live["tokens"], live["tokens_exact"] = heard, None, False
        else:
            self.state.messages[:] = [m for m in self.state.messages
                                      if m.get("id") != entry.get("id")]
        await self._enqueue([{"op": "patch", "id": entry["id"], "set": patch}])
        self.dirty = True
        await self._sync()

    def after_turn(self, system: str, max_tokens: int, language: str) -> None:
        """Exact token counts and, past the threshold, a summary: in the background."""
        if self._summarising is not None and not self._summarising.done():
            return
        self._summarising = asyncio.create_task(self._after(system, max_tokens, language),
                                                name=f"summarise-{self.session_id[:8]}")

    async def _after(self, system: str, max_tokens: int, language: str) -> None:
        self._job = self.memory.context.background()
        try:
            if await self.memory.context.after_turn(self.state, system, max_tokens, language,
                                                    llm=self._job):
                self.dirty = True
                await self._sync()
                await self.memory.context.warm(self.state, system, language, llm=self._job)
        except Exception:  # noqa: BLE001 - the next turn summarises synchronously if it must
            log.exception("background summary failed")

    async def background(self) -> None:
        """Wait for the background work (exact counts, a summary) started by the last turn."""
        task = self._summarising
        if task is not None and not task.done():
            await asyncio.wait({task})

    async def close(self) -> None:
        task = self._summarising
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._sync()

    # ------------------------------------------------------------------ stores
    async def _enqueue(self, ops: list[dict]) -> None:
        try:
            await self.memory.outbox.put(ops)
        except Exception:  # noqa: BLE001 - a full disk must not end the turn
            log.exception("outbox write failed; %d history writes lost", len(ops))

    async def _append(self, added: list[dict]) -> None:
        if self.dirty:
            await self._sync()
            return
        try:
            ok = await self.memory.short.append_context(self.session_id, added,
                                                        self.memory.context_ttl_s)
        except Exception as exc:  # noqa: BLE001 - keep our copy, write it whole later
            log.warning("short-term store unavailable: %s", exc)
            self.dirty = True
            return
        if not ok:  # expired or lost (e.g. Redis restarted empty): write it whole
            self.dirty = True
            await self._sync()

    async def _sync(self) -> None:
        if not self.dirty:
            return
        try:
            await self.memory.short.save_context(self.session_id, self.state.messages,
                                                 self.state.summary, self.memory.context_ttl_s)
            self.dirty = False
        except Exception as exc:  # noqa: BLE001
            log.warning("short-term store unavailable: %s", exc)
