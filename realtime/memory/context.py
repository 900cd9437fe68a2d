"""Context that fits the model (seed Phase 5.2): persona + scenario + summary + recent turns.

Budget = the model's context length - ``max_tokens`` - a margin. A prompt over the budget is
never sent: older turns are folded into a summary first. After each turn, once the history
passes ``context_summarize_ratio`` (80 %) of the budget, the oldest turns are summarised by the
LLM in the background (recent turns stay verbatim, down to ``context_keep_ratio`` of the
budget), so the next turn finds the summary ready; the response whose prompt first carries it
says ``context_summarized: true``. Summaries are cached in the short-term store under a hash of
what they summarise (the previous summary + the folded messages) and reused, e.g. when a REST
client resends the same history.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import aclosing
from dataclasses import dataclass, field

from realtime.engines.llm.base import LLM, ChatRequest, StreamStats
from realtime.memory.tokens import MESSAGE_OVERHEAD, TokenCounter

log = logging.getLogger(__name__)

_SUMMARY_PROMPT = {
    "en": ("(Out of character.) Summarise our conversation so far in at most {words} words: "
           "names, facts about me, preferences, promises and open questions. Only the summary."),
    "ko": ("(캐릭터 밖에서) 지금까지의 대화를 {words}단어 이내로 요약하세요: 이름, 나에 대한 "
           "사실, 선호, 약속, 남은 질문. 요약만 쓰세요."),
}
_SUMMARY_LABEL = {"en": "Summary of the earlier conversation", "ko": "이전 대화 요약"}
_ROLE = {"user": "User", "assistant": "Assistant"}  # for the extract fallback


def hash_messages(messages: list[dict], seed: str = "") -> str:
    """A short digest of messages' roles and contents (summary cache keys, REST prefixes)."""
    h = hashlib.sha256(seed.encode())
    for m in messages:
        h.update(b"\x00" + m["role"].encode() + b"\x01" + m["content"].encode())
    return h.hexdigest()[:40]


@dataclass
class ContextState:
    """One conversation's working context: verbatim messages after the summary."""

    messages: list[dict] = field(default_factory=list)  # {id, role, content, tokens, ...}
    summary: dict | None = None  # {text, tokens, upto, key}
    fresh_summary: bool = False  # made since the last response reported one

    def to_doc(self) -> dict:
        return {"messages": self.messages, "summary": self.summary}

    @classmethod
    def from_doc(cls, doc: dict | None) -> ContextState:
        if not doc:
            return cls()
        return cls(messages=list(doc.get("messages") or []), summary=doc.get("summary"))


@dataclass
class Prepared:
    messages: list[dict]  # what the LLM gets (role, content)
    summarized: bool
    prompt_tokens: int  # our count of the prompt
    budget: int
    dropped: int = 0  # oldest messages left out because no summary could be made


class ContextManager:
    def __init__(self, llm: LLM, counter: TokenCounter, store, *, model: str,
                 context_tokens: int | dict[str, int], margin: int = 64,
                 summarize_ratio: float = 0.8, keep_ratio: float = 0.5,
                 summary_max_tokens: int = 120, summary_ttl_s: int = 86400,
                 metrics=None) -> None:
        self.llm = llm
        self.counter = counter
        self.store = store
        self.model = model
        self.context_tokens = context_tokens
        self.margin = margin
        self.summarize_ratio = summarize_ratio
        self.keep_ratio = keep_ratio
        self.summary_max_tokens = summary_max_tokens
        self.summary_ttl_s = summary_ttl_s
        self.metrics = metrics
        self._system_tokens: dict[str, int] = {}
        self.summaries_made = 0

    def budget(self, max_tokens: int, model: str | None = None) -> int:
        ctx = self.context_tokens
        if isinstance(ctx, dict):
            ctx = ctx.get(model or self.model) or ctx[self.model]
        if self.counter.max_model_len:
            ctx = min(ctx, self.counter.max_model_len)
        return max(64, ctx - max_tokens - self.margin)

    async def system_tokens(self, system: str) -> int:
        key = hashlib.sha1(system.encode()).hexdigest()
        n = self._system_tokens.get(key)
        if n is None:
            n = MESSAGE_OVERHEAD + await self.counter.count(system)
            if len(self._system_tokens) > 256:
                self._system_tokens.clear()
            self._system_tokens[key] = n
        return n

    def tokens(self, m: dict) -> int:
        n = m.get("tokens")
        if n is None:
            n = m["tokens"] = MESSAGE_OVERHEAD + self.counter.estimate(m.get("content", ""))
        return int(n)

    def total(self, state: ContextState, system_tokens: int) -> int:
        extra = state.summary["tokens"] + 16 if state.summary else 0
        return system_tokens + extra + sum(self.tokens(m) for m in state.messages)

    # ------------------------------------------------------------------ per turn
    async def prepare(self, state: ContextState, system: str, user: dict, max_tokens: int,
                      language: str) -> Prepared:
        """The prompt for the next answer, within budget (summarising first if it must)."""
        budget = self.budget(max_tokens)
        sys_t = await self.system_tokens(system)
        user_t = self.tokens(user)
        dropped = 0
        if self.total(state, sys_t) + user_t > budget:
            await self.summarise(state, system, sys_t, budget, language, reserve=user_t,
                                 limit=budget + max_tokens)
            while state.messages and self.total(state, sys_t) + user_t > budget:
                state.messages.pop(0)  # only when no summary could be made (LLM down)
                dropped += 1
            if dropped:
                log.warning("context: %d old messages left out to fit the budget", dropped)
        messages = [{"role": "system", "content": self._system_with_summary(system, state,
                                                                           language)}]
        messages += [{"role": m["role"], "content": m["content"]} for m in state.messages]
        messages.append({"role": "user", "content": user["content"]})
        summarized, state.fresh_summary = state.fresh_summary, False
        return Prepared(messages, summarized, self.total(state, sys_t) + user_t, budget, dropped)

    def over_threshold(self, state: ContextState, system_tokens: int, max_tokens: int) -> bool:
        return self.total(state, system_tokens) > self.summarize_ratio * self.budget(max_tokens)

    def background(self):
        """A background job for the LLM (summaries after a turn give way to live turns), or the
        LLM itself when it has no scheduler."""
        return self.llm.background() if hasattr(self.llm, "background") else self.llm

    async def after_turn(self, state: ContextState, system: str, max_tokens: int,
                         language: str, llm=None) -> bool:
        """Exact token counts for the new messages; summarise when past the threshold. ``llm``:
        where the summary's requests go (a background job of the scheduler)."""
        await self.counter.fill(state.messages)
        sys_t = await self.system_tokens(system)
        if not self.over_threshold(state, sys_t, max_tokens):
            return False
        budget = self.budget(max_tokens)
        return await self.summarise(state, system, sys_t, budget, language,
                                    limit=budget + max_tokens, llm=llm)

    async def warm(self, state: ContextState, system: str, language: str, llm=None) -> None:
        """Prefill the next turn's prompt (persona + the new summary + the recent turns) in the
        background. A new summary changes the prompt right after the persona, so a single-slot
        server (llama.cpp caches only the last prompt) would otherwise read all of it again in
        front of the next turn's first token; now that turn reads only its own words."""
        if getattr(self.llm, "policy", None) != "preempt":
            return  # vLLM caches prefixes itself; a parallel server needs no help
        messages = [{"role": "system",
                     "content": self._system_with_summary(system, state, language)}]
        messages += [{"role": m["role"], "content": m["content"]} for m in state.messages]
        messages.append({"role": "user", "content": "…"})
        request = ChatRequest(messages=messages, model=self.model, temperature=0.0, max_tokens=1)
        try:
            async with aclosing((llm or self.llm).stream(request, StreamStats())) as stream:
                async for _ in stream:
                    pass
        except Exception as exc:  # noqa: BLE001 - an optimisation only
            log.info("prompt warm-up skipped: %s", exc)

    # ------------------------------------------------------------------ summaries
    @staticmethod
    def _system_with_summary(system: str, state: ContextState, language: str) -> str:
        if not state.summary:
            return system
        label = _SUMMARY_LABEL.get(language, _SUMMARY_LABEL["en"])
        return f"{system}\n\n{label}: {state.summary['text']}"

    async def summarise(self, state: ContextState, system: str, system_tokens: int, budget: int,
                        language: str, reserve: int = 0, limit: int | None = None,
                        llm=None) -> bool:
        """Fold the oldest messages into the summary until the rest fits ``keep_ratio`` of the
        budget (keeping at least the last exchange). ``limit``: what one request may hold
        (context - margin); a backlog larger than that is folded in several steps, so nothing
        is dropped unsummarised. Returns whether a summary was made.

        The LLM calls work on a snapshot; the history goes on changing meanwhile (a turn is
        appended, a barge-in cuts or removes an answer). The result is merged: exactly the
        folded messages leave the live list. If one of them changed meanwhile, or another
        summary landed first, the result is dropped (the next turn summarises again)."""
        msgs = list(state.messages)
        target = self.keep_ratio * budget - reserve
        keep_from, running = len(msgs), system_tokens + self.summary_max_tokens + 16
        while keep_from > 0:
            t = self.tokens(msgs[keep_from - 1])
            if running + t > target:
                break
            running += t
            keep_from -= 1
        keep_from = min(keep_from, max(0, len(msgs) - 2))
        fold = msgs[:keep_from]
        if not fold:
            return False
        folded = {m["id"]: m["content"] for m in fold}
        before = state.summary
        limit = limit or budget
        prev, i = state.summary, 0
        while i < len(fold):
            room = (limit - self.summary_max_tokens - system_tokens - 64
                    - (prev["tokens"] + 16 if prev else 0))
            j = i + 1
            room -= self.tokens(fold[i])
            while j < len(fold) and room - self.tokens(fold[j]) >= 0:
                room -= self.tokens(fold[j])
                j += 1
            chunk = fold[i:j]
            key = self._key(prev, chunk)
            cached = await self._cached(key)
            if cached is None:
                text = await self._llm_summary(system, prev, chunk, language, llm or self.llm)
                tokens = await self.counter.count(text) if text else 0
                cached = {"text": text, "tokens": tokens}
                await self._cache(key, cached)
                self.summaries_made += 1
                if self.metrics is not None:
                    self.metrics.summaries.inc()
            prev = {"text": cached["text"], "tokens": int(cached["tokens"]),
                    "upto": (prev["upto"] if prev else 0) + len(chunk), "key": key}
            i = j
        live = {m["id"]: m["content"] for m in state.messages}
        if state.summary is not before or any(live.get(k) != v for k, v in folded.items()):
            log.info("context: the history changed under a summary; it is made again later")
            return False
        state.summary = prev
        state.messages[:] = [m for m in state.messages if m["id"] not in folded]
        state.fresh_summary = True
        return True

    @staticmethod
    def _key(prev: dict | None, fold: list[dict]) -> str:
        return hash_messages(fold, seed=(prev or {}).get("key", ""))

    async def _cached(self, key: str) -> dict | None:
        try:
            return await self.store.get_summary(key)
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation
            log.info("summary cache unavailable: %s", exc)
            return None

    async def _cache(self, key: str, doc: dict) -> None:
        try:
            await self.store.put_summary(key, doc, self.summary_ttl_s)
        except Exception as exc:  # noqa: BLE001
            log.info("summary cache unavailable: %s", exc)

    async def _llm_summary(self, system: str, prev: dict | None, chunk: list[dict],
                           language: str, llm) -> str:
        """Ask for the summary *inside* the conversation's own prompt (persona + old summary,
        the folded turns, then the instruction), so single-slot servers (llama.cpp) reuse the
        cached persona prefix for it and for the next turn (measured: a separate summariser
        prompt made each summary cost two full re-reads of the persona)."""
        lang = language if language in _SUMMARY_PROMPT else "en"
        words = max(20, self.summary_max_tokens // 2)
        head = ContextState(summary=prev)
        request = ChatRequest(messages=[
            {"role": "system", "content": self._system_with_summary(system, head, language)},
            *({"role": m["role"], "content": m["content"]} for m in chunk),
            {"role": "user", "content": _SUMMARY_PROMPT[lang].format(words=words)}],
            model=self.model, temperature=0.2, max_tokens=self.summary_max_tokens)
        parts: list[str] = []
        try:
            stream = llm.stream(request, StreamStats())
            try:
                async for delta in stream:
                    parts.append(delta)
            finally:
                await stream.aclose()
        except Exception as exc:  # noqa: BLE001 - fall back to an extract: never lose context
            log.warning("summary by the LLM failed (%s); keeping an extract", exc)
        text = " ".join("".join(parts).split())
        if not text:  # an extract of the first words of each folded message
            bits = [(prev or {}).get("text", "")]
            bits += [f"{_ROLE.get(m['role'], m['role'])}: {m['content'][:80]}" for m in chunk[-6:]]
            text = " / ".join(b for b in bits if b)[: self.summary_max_tokens * 3]
        return text
