"""What memory costs a turn, per store pair, and how fast the outbox drains.

Per turn: ``Conversation.prepare`` (context + token budget) and ``Conversation.record`` (the
durable outbox insert + the short-term append), which both sit on the turn's path (``prepare``
before the LLM call, ``record`` before ``response.done``). Compared with the typed turn's
first-audio time (464 ms p50, README) as a ratio. Then the outbox's drain rate into each
long-term store. Starts its own redis-server and nx-27017 (MongoDB wire server)::

    .venv/bin/python bench/memory_overhead.py --turns 300
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import pct, row  # noqa: E402
from realtime.memory.context import ContextManager  # noqa: E402
from realtime.memory.conversation import Conversation, Memory  # noqa: E402
from realtime.memory.tokens import TokenCounter  # noqa: E402
from realtime.pipeline.persona import build_system_prompt, default_character  # noqa: E402
from realtime.store.long_mongo import MongoLongTermStore  # noqa: E402
from realtime.store.long_sqlite import SqliteLongTermStore  # noqa: E402
from realtime.store.outbox import Outbox  # noqa: E402
from realtime.store.short_memory import MemoryShortTermStore  # noqa: E402
from realtime.store.short_redis import RedisShortTermStore  # noqa: E402
from tests.servers import MongoWireServer, RedisServer  # noqa: E402

TYPED_FIRST_AUDIO_MS = 464.0  # README, typed_turns.py p50


async def one_pair(name: str, short, long, tmp: Path, turns: int) -> dict:
    await short.start()
    await long.start()
    outbox = Outbox(tmp / f"{name}-outbox.sqlite3", long)
    await outbox.start()
    ctx = ContextManager(None, TokenCounter(None, "m"), short, model="m",  # type: ignore[arg-type]
                         context_tokens=1_000_000)  # no summaries: this measures the stores
    memory = Memory(short, long, outbox, ctx)
    system = build_system_prompt(default_character())
    prep, rec = [], []
    for s in range(max(1, turns // 50)):  # sessions of 50 turns
        conv = Conversation(memory, f"{name}-{s}", "bench")
        for i in range(50):
            t0 = time.perf_counter()
            prepared, user = await conv.prepare(system, f"User message number {i}.", 200, "en")
            t1 = time.perf_counter()
            answer = {"id": f"{name}-{s}-{i}", "role": "assistant",
                      "content": "An answer of about twenty words, which is what a spoken reply "
                                 "usually is in this product, give or take."}
            await conv.record(user, answer, meta={"assistant": {"timings": {"done": 400.0}}},
                              session_doc={"character_id": "mina", "title": "bench"})
            t2 = time.perf_counter()
            prep.append((t1 - t0) * 1000)
            rec.append((t2 - t1) * 1000)
            assert prepared.messages[-1]["content"] == user["content"]
    t0 = time.perf_counter()
    pending = outbox.pending
    await outbox.flush(120)
    drain = time.perf_counter() - t0
    await outbox.close()
    await long.close()
    await short.close()
    return {"prep": prep, "rec": rec, "drain_ops_s": (pending / drain) if drain > 0 else 0,
            "drained": pending}


async def main(turns: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="membench-"))
    redis, mongo = RedisServer(tmp / "redis"), MongoWireServer(tmp / "mongo")
    redis.start()
    mongo.start()
    try:
        pairs = {
            "in-process + SQLite": (MemoryShortTermStore(),
                                    SqliteLongTermStore(tmp / "h.sqlite3")),
            "Redis + MongoDB (nx-27017)": (RedisShortTermStore(redis.url),
                                           MongoLongTermStore(mongo.url, "bench")),
        }
        print(f"{'per turn (ms)':40s} {'p50':>8s} {'p90':>8s} {'p99':>8s}")
        for name, (short, long) in pairs.items():
            r = await one_pair(name.split()[0], short, long, tmp, turns)
            total = [a + b for a, b in zip(r["prep"], r["rec"], strict=True)]
            print(f"-- {name}")
            print(row("  prepare (context, budget)", r["prep"], fmt="8.2f"))
            print(row("  record (outbox + short-term)", r["rec"], fmt="8.2f"))
            print(row("  total", total, fmt="8.2f"))
            print(f"  total p50 / typed first audio p50 ({TYPED_FIRST_AUDIO_MS:.0f} ms): "
                  f"{pct(total, 50) / TYPED_FIRST_AUDIO_MS:.3f}x")
            print(f"  outbox drained {r['drained']} ops at {r['drain_ops_s']:.0f} ops/s "
                  f"(written as the turns ran; this is what was left at the end)")
    finally:
        redis.stop()
        mongo.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=300)
    asyncio.run(main(p.parse_args().turns))
