"""Short-term and long-term stores, chosen by configuration (see ``base``)."""

from __future__ import annotations

from realtime.store.base import LongTermStore, ShortTermStore, StoreUnavailable  # noqa: F401


def build_short_term(settings) -> ShortTermStore:
    if settings.redis_url:
        from realtime.store.short_redis import RedisShortTermStore

        return RedisShortTermStore(settings.redis_url, prefix=settings.redis_prefix,
                                   timeout_s=settings.store_timeout_s)
    from realtime.store.short_memory import MemoryShortTermStore

    return MemoryShortTermStore()


def build_long_term(settings) -> LongTermStore:
    if settings.mongo_url:
        from realtime.store.long_mongo import MongoLongTermStore

        return MongoLongTermStore(settings.mongo_url, settings.mongo_database,
                                  timeout_s=max(1.0, settings.store_timeout_s))
    from realtime.store.long_sqlite import SqliteLongTermStore

    return SqliteLongTermStore(settings.storage_dir / "history.sqlite3")
