"""Request bodies that ignore keys they do not know (and say so in the log, once per key).

Clients written from the design documents send keys this server has no use for (the seeds'
frontend types, GPT-SoVITS sampling knobs, ...). Refusing them breaks those clients for nothing;
dropping them silently hides typos. So: accepted, ignored, and logged once per body type and key.
Keys we do accept always do what they say (see docs/seeds-differences.md).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

log = logging.getLogger(__name__)

_seen: set[tuple[str, str]] = set()
_seen_lock = threading.Lock()
_MAX_SEEN = 1000  # a client sending random keys cannot grow this without bound


def note_unknown(where: str, keys) -> list[str]:
    """Log each (where, key) the first time it is seen; -> the keys, sorted."""
    keys = sorted(str(k)[:64] for k in keys)
    fresh = []
    with _seen_lock:
        for key in keys:
            if (where, key) not in _seen and len(_seen) < _MAX_SEEN:
                _seen.add((where, key))
                fresh.append(key)
    if fresh:
        log.warning("%s: ignoring unknown key(s) %s (logged once per key)", where,
                    ", ".join(fresh))
    return keys


class Lenient(BaseModel):
    """Base of the REST bodies: unknown keys are ignored and logged once."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            known |= {f.alias for f in cls.model_fields.values() if f.alias}
            unknown = [k for k in data if k not in known]
            if unknown:
                note_unknown(cls.__name__, unknown)
        return data
