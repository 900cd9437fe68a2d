"""Export rated conversations as OpenAI-style fine-tuning JSONL (seed 004: feedback-driven
retraining data). One line per rated answer: the persona as the system message, the
conversation before it, and the rated answer last::

    {"messages": [{"role": "system", ...}, {"role": "user", ...}, {"role": "assistant", ...}]}

    python -m realtime.export_finetune --out train.jsonl --min-rating 4 --since 2026-01-01

Reads the configured long-term store (AVATAR_MONGO_URL, else the SQLite file under
AVATAR_STORAGE_DIR). Answers the user cut short (barge-in) are not used as targets: what was
said was not what the model meant to say; in the context before a target they appear as heard.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from realtime.store import build_long_term
from realtime.store.base import LongTermStore


def _date(value: str) -> float:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


async def examples(store: LongTermStore, *, min_rating: int | None = None,
                   max_rating: int | None = None, since: float | None = None,
                   until: float | None = None, user: str | None = None) -> list[dict]:
    out = []
    for fb in await store.list_feedback(min_rating, max_rating, since, until):
        if user is not None and fb.get("user_id") != user:
            continue
        target = await store.get_message(fb["message_id"])
        if target is None or target.get("role") != "assistant" or target.get("interrupted") \
                or not target.get("content"):
            continue
        session = await store.get_session(target["session_id"]) or {}
        before = await store.list_messages(target["session_id"], 10_000,
                                           before=target["seq"])
        messages = [{"role": "system", "content": session.get("system_prompt", "")}]
        messages += [{"role": m["role"], "content": m["content"]} for m in before
                     if m.get("content") and m["role"] in ("user", "assistant")]
        messages.append({"role": "assistant", "content": target["content"]})
        if len(messages) >= 3 and messages[-2]["role"] == "user":
            out.append({"messages": messages})
    return out


async def _run(args) -> int:
    from realtime.config import Settings

    store = build_long_term(Settings())
    await store.start()
    try:
        rows = await examples(store, min_rating=args.min_rating, max_rating=args.max_rating,
                              since=args.since, until=args.until, user=args.user)
    finally:
        await store.close()
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    if args.out == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(args.out).write_bytes(data)
    print(f"{len(rows)} examples", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m realtime.export_finetune",
                                description="Rated conversations -> fine-tuning JSONL")
    p.add_argument("--out", default="-", help="file (default: stdout)")
    p.add_argument("--min-rating", type=int, choices=range(1, 6), default=None)
    p.add_argument("--max-rating", type=int, choices=range(1, 6), default=None)
    p.add_argument("--since", type=_date, default=None, help="rated on or after (ISO date)")
    p.add_argument("--until", type=_date, default=None, help="rated before (ISO date)")
    p.add_argument("--user", default=None, help="only this user's ratings")
    return asyncio.run(_run(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
