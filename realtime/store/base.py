"""The two stores behind small base classes, so Redis/in-process and MongoDB/SQLite swap by config.

Short-term (:class:`ShortTermStore`): per-session conversation context with a TTL, cached
summaries, concurrent-session slots and rate-limit counters. Long-term (:class:`LongTermStore`):
sessions, messages, characters, feedback, and avatar jobs with their files (checkpoints,
results). Documents are plain dicts with the fields listed in
``docs/architecture.md``; ``_id`` is a string id everywhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

Doc = dict[str, Any]


class StoreUnavailable(Exception):
    """The store could not be reached (connection refused, timeout)."""


class _Store(ABC):
    name = "store"

    async def start(self) -> None:  # noqa: B027 - optional hook (connect, create indexes)
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def ping(self) -> bool: ...


class ShortTermStore(_Store):
    name = "short-term"

    # --- conversation context ---------------------------------------------------------------
    @abstractmethod
    async def load_context(self, session_id: str) -> Doc | None:
        """``{"messages": [...], "summary": {...} | None}``, or None when unknown/expired."""

    @abstractmethod
    async def append_context(self, session_id: str, messages: list[Doc], ttl_s: int) -> bool:
        """Append messages and refresh the TTL; False when the context was not there (lost:
        the caller then writes it whole with :meth:`save_context`)."""

    @abstractmethod
    async def save_context(self, session_id: str, messages: list[Doc], summary: Doc | None,
                           ttl_s: int) -> None:
        """Replace the whole context."""

    @abstractmethod
    async def drop_context(self, session_id: str) -> None: ...

    # --- summaries (keyed by a hash of what they summarise) ------------------------------------
    @abstractmethod
    async def get_summary(self, key: str) -> Doc | None: ...

    @abstractmethod
    async def put_summary(self, key: str, summary: Doc, ttl_s: int) -> None: ...

    # --- limits --------------------------------------------------------------------------------
    @abstractmethod
    async def acquire_slot(self, pool: str, holder: str, limit: int, ttl_s: float) -> float | None:
        """Take one of ``limit`` slots for ``ttl_s`` seconds: None when taken, else the seconds
        until one is expected to free up (for ``retry_after``)."""

    @abstractmethod
    async def refresh_slot(self, pool: str, holder: str, ttl_s: float) -> bool:
        """Heartbeat: extend the holder's slot; False when it had expired (and is retaken)."""

    @abstractmethod
    async def release_slot(self, pool: str, holder: str) -> None: ...

    @abstractmethod
    async def count_slots(self, pool: str) -> int: ...

    @abstractmethod
    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        """Count one request against ``limit`` per ``window_s`` (GCRA: a burst of ``limit``,
        then one every ``window_s / limit``; no window edges): None when allowed, else the
        seconds until the next one would be."""


class LongTermStore(_Store):
    name = "long-term"

    # --- history (written through the outbox: every operation is idempotent) -----------------
    @abstractmethod
    async def apply(self, ops: list[Doc]) -> None:
        """Apply outbox operations in order. Each is one of
        ``{"op": "session", "doc": {...}}`` (create, or update ``updated_at``/title/character),
        ``{"op": "message", "doc": {...}}`` (insert once by ``_id``) and
        ``{"op": "patch", "id": ..., "set": {...}}`` (update a message's fields)."""

    @abstractmethod
    async def get_session(self, session_id: str) -> Doc | None: ...

    @abstractmethod
    async def list_sessions(self, user_id: str, limit: int, before: float | None) -> list[Doc]:
        """Newest first (by ``updated_at``), ``updated_at < before`` when given."""

    @abstractmethod
    async def count_messages(self, session_id: str) -> int: ...

    @abstractmethod
    async def list_messages(self, session_id: str, limit: int, after: int | None = None,
                            before: int | None = None) -> list[Doc]:
        """Oldest first by ``seq`` (a nanosecond timestamp), filtered by the cursor. With
        ``before`` and no ``after``: the newest ``limit`` before it, still oldest first."""

    @abstractmethod
    async def get_message(self, message_id: str) -> Doc | None: ...

    # --- characters ----------------------------------------------------------------------------
    @abstractmethod
    async def list_characters(self, user_id: str | None) -> list[Doc]:
        """Presets (``owner`` None) and ``user_id``'s own, by name."""

    @abstractmethod
    async def get_character(self, character_id: str) -> Doc | None: ...

    @abstractmethod
    async def put_character(self, doc: Doc) -> None:
        """Insert or replace by ``_id``."""

    @abstractmethod
    async def delete_character(self, character_id: str) -> bool: ...

    # --- feedback ------------------------------------------------------------------------------
    @abstractmethod
    async def put_feedback(self, doc: Doc) -> None:
        """One per (message_id, user_id): a second rating replaces the first."""

    @abstractmethod
    async def list_feedback(self, min_rating: int | None = None, max_rating: int | None = None,
                            since: float | None = None, until: float | None = None) -> list[Doc]:
        ...

    # --- avatar jobs (avatar_engine.jobs) ------------------------------------------------------
    @abstractmethod
    async def put_job(self, doc: Doc) -> None:
        """Insert or replace by ``_id`` (fields: ``user_id``, ``kind``, ``status``,
        ``created_at``, ...)."""

    @abstractmethod
    async def get_job(self, job_id: str) -> Doc | None: ...

    @abstractmethod
    async def update_job(self, job_id: str, fields: Doc,
                         statuses: list[str] | None = None) -> bool:
        """Set ``fields`` on the job if its status is one of ``statuses`` (any when None);
        False when there is no such job or its status is not one of them (atomic)."""

    @abstractmethod
    async def list_jobs(self, user_id: str, kind: str, limit: int,
                        before: float | None = None) -> list[Doc]:
        """The user's jobs of ``kind``, newest first by ``created_at`` (``< before``)."""

    @abstractmethod
    async def unfinished_jobs(self) -> list[Doc]:
        """Jobs ``queued`` or ``processing`` (to resume after a restart), oldest first."""

    @abstractmethod
    async def put_blob(self, key: str, data: bytes) -> None:
        """Store bytes under ``key`` (``job_id/name``), replacing what was there."""

    @abstractmethod
    async def get_blob(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def delete_blobs(self, keys: list[str]) -> int:
        """Delete these keys; -> how many existed."""
