"""Context and history for REST turns, where the client sends the conversation each time.

The messages come in the request; what the server keeps per ``session_id`` is the summary
pointer (which leading messages it covers, checked by hash), so a client that resends the same
growing history gets the summary reused instead of remade on every request.
"""

from __future__ import annotations

import logging

from realtime.memory.context import ContextState, Prepared, hash_messages
from realtime.memory.conversation import Memory, new_id

log = logging.getLogger(__name__)


def _prefix_hash(messages: list[dict], n: int) -> str:
    return hash_messages(messages[:n])


async def prepare_stateless(memory: Memory, user_id: str, session_id: str, system: str,
                            history: list[dict], text: str, max_tokens: int, language: str,
                            model: str) -> tuple[Prepared, dict]:
    pointer_key = f"rest:{user_id}:{session_id}"
    state = ContextState(messages=[{"id": f"h{i}", "role": m["role"], "content": m["content"]}
                                   for i, m in enumerate(history)])
    try:
        pointer = await memory.short.get_summary(pointer_key)
    except Exception:  # noqa: BLE001 - without the pointer we summarise again if needed
        pointer = None
    if pointer and pointer["upto"] <= len(history) and \
            pointer["prefix"] == _prefix_hash(history, pointer["upto"]):
        state.summary = {k: pointer[k] for k in ("text", "tokens", "upto", "key")}
        state.messages = state.messages[pointer["upto"]:]
    before = (state.summary or {}).get("key")
    user = {"id": new_id(), "role": "user", "content": text}
    prepared = await memory.context.prepare(state, system, user, max_tokens, language)
    if state.summary and state.summary["key"] != before:
        doc = {**state.summary, "prefix": _prefix_hash(history, state.summary["upto"])}
        try:
            await memory.short.put_summary(pointer_key, doc, memory.context_ttl_s)
        except Exception as exc:  # noqa: BLE001
            log.info("summary pointer not kept: %s", exc)
    return prepared, user
