"""Characters in the long-term store: the presets written at start, and the lookup every
entry point (``/ws``, ``/api/chat``, ``/api/characters``) uses."""

from __future__ import annotations

import time

from realtime.characters.model import Character, load_presets
from realtime.errors import ApiError
from realtime.store.base import LongTermStore, StoreUnavailable


async def seed_presets(store: LongTermStore) -> None:
    """Write the presets (at every start: they are ours and read-only, so always current)."""
    now = time.time()
    for preset in load_presets().values():
        old = await store.get_character(preset.id)
        doc = preset.model_copy(update={"created_at": (old or {}).get("created_at", now),
                                        "updated_at": now}).to_doc()
        if old is None or Character.from_doc(old).model_dump(exclude={"created_at",
                                                                       "updated_at"}) != \
                preset.model_dump(exclude={"created_at", "updated_at"}):
            await store.put_character(doc)


async def find_character(store: LongTermStore, character_id: str, user: str) -> Character:
    """The character ``user`` may use, or ``NOT_FOUND`` (someone else's answers the same)."""
    try:
        doc = await store.get_character(character_id)
    except StoreUnavailable:
        presets = load_presets()  # presets keep working while the store is down
        if character_id in presets:
            return presets[character_id]
        raise ApiError("SERVICE_UNAVAILABLE", "the character store is unavailable",
                       retry_after=5) from None
    if doc is None or doc.get("owner") not in (None, user):
        raise ApiError("NOT_FOUND", f"unknown character {character_id!r}")
    return Character.from_doc(doc)


def voice_owner(voice_id: str) -> str | None:
    """``gpt_sovits:char-<id>`` (a character's own voice, as ``/api/tts/voices`` lists it to the
    character's owner) -> the character id; None for any other voice id."""
    engine, _, local = voice_id.partition(":")
    if engine == "gpt_sovits" and local.startswith("char-") and len(local) > 5:
        return local.removeprefix("char-")
    return None
