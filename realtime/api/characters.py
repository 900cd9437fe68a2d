"""``/api/characters``: presets (read-only, everyone) and each user's own characters (CRUD)."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import APIRouter, Response

from realtime.api.deps import ServicesDep, UserDep, store_call
from realtime.api.schemas import CharacterListResponse, CharacterResponse, errors
from realtime.characters.model import Character, CharacterCreate, CharacterIn, load_presets
from realtime.errors import ApiError
from realtime.store.base import LongTermStore, StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/characters", tags=["characters"])


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


async def find_character(services, character_id: str, user: str) -> Character:
    """The character ``user`` may use, or ``NOT_FOUND`` (someone else's answers the same)."""
    try:
        doc = await services.memory.long.get_character(character_id)
    except StoreUnavailable:
        presets = load_presets()  # presets keep working while the store is down
        if character_id in presets:
            return presets[character_id]
        raise ApiError("SERVICE_UNAVAILABLE", "the character store is unavailable",
                       retry_after=5) from None
    if doc is None or doc.get("owner") not in (None, user):
        raise ApiError("NOT_FOUND", f"unknown character {character_id!r}")
    return Character.from_doc(doc)


def _out(c: Character) -> dict:
    return c.model_dump()


@router.get("", summary="Characters this user can talk to (presets first)",
            response_model=CharacterListResponse, responses=errors(503))
async def list_characters(services: ServicesDep, user: UserDep) -> dict:
    try:
        docs = await services.memory.long.list_characters(user)
        items = [Character.from_doc(d) for d in docs]
    except StoreUnavailable:
        items = list(load_presets().values())
    return {"success": True, "data": {"items": [_out(c) for c in items],
                                      "default": "mina"}}


@router.get("/{character_id}", summary="One character", response_model=CharacterResponse,
            responses=errors(404, 503))
async def get_character(character_id: str, services: ServicesDep, user: UserDep) -> dict:
    return {"success": True, "data": _out(await find_character(services, character_id, user))}


def _check_voice(services, body: CharacterIn) -> None:
    v = body.voice
    if v.voice_id and v.engine != "gpt_sovits" and v.voice_id not in services.tts.voice_ids():
        raise ApiError("VALIDATION_ERROR", f"unknown voice {v.voice_id!r} (see /api/tts/voices)")


@router.post("", status_code=201, summary="Create a character (optionally with your own id)",
             response_model=CharacterResponse, responses=errors(400, 409, 503))
async def create_character(body: CharacterCreate, services: ServicesDep, user: UserDep) -> dict:
    _check_voice(services, body)
    now = time.time()
    cid = body.id or uuid.uuid4().hex[:16]
    if body.id is not None:
        taken = body.id in load_presets() or \
            await store_call(services.memory.long.get_character(body.id)) is not None
        if taken:
            raise ApiError("CONFLICT", f"the character id {body.id!r} is taken")
    c = Character(**body.model_dump(exclude={"id"}), id=cid, owner=user, created_at=now,
                  updated_at=now)
    await store_call(services.memory.long.put_character(c.to_doc()))
    return {"success": True, "data": _out(c)}


async def _own(services, character_id: str, user: str) -> Character:
    c = await find_character(services, character_id, user)
    if c.owner is None:
        raise ApiError("FORBIDDEN", f"{character_id!r} is shared (a preset or an imported set) "
                                    f"and cannot be changed here")
    return c


@router.put("/{character_id}", summary="Replace a character of yours",
            response_model=CharacterResponse, responses=errors(400, 403, 404, 503))
async def update_character(character_id: str, body: CharacterIn, services: ServicesDep,
                           user: UserDep) -> dict:
    old = await _own(services, character_id, user)
    _check_voice(services, body)
    c = Character(**body.model_dump(), id=old.id, owner=user, created_at=old.created_at,
                  updated_at=time.time())
    await store_call(services.memory.long.put_character(c.to_doc()))
    return {"success": True, "data": _out(c)}


@router.delete("/{character_id}", status_code=204, summary="Delete a character of yours",
               response_class=Response, responses=errors(403, 404, 503))
async def delete_character(character_id: str, services: ServicesDep, user: UserDep) -> Response:
    await _own(services, character_id, user)
    await store_call(services.memory.long.delete_character(character_id))
    return Response(status_code=204)
