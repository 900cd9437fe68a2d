"""``/api/characters``: presets (read-only, everyone) and each user's own characters (CRUD)."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import APIRouter, Response

from realtime.api.deps import ServicesDep, UserDep, store_call
from realtime.api.schemas import CharacterListResponse, CharacterResponse, errors
from realtime.characters.model import Character, CharacterCreate, CharacterIn, load_presets
from realtime.characters.store import find_character
from realtime.engines.tts.base import TTSError
from realtime.errors import ApiError
from realtime.store.base import StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/characters", tags=["characters"])


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
    character = await find_character(services.memory.long, character_id, user)
    return {"success": True, "data": _out(character)}


async def _check_voice(services, c: Character) -> None:
    """The voice must be one this server has, or a GPT-SoVITS reference voice the GPT-SoVITS
    server accepts (checked with it: clip length, transcript, language for its model version)."""
    v = c.voice
    if v.voice_id and v.engine != "gpt_sovits" and v.voice_id not in services.tts.voice_ids():
        raise ApiError("VALIDATION_ERROR", f"unknown voice {v.voice_id!r} (see /api/tts/voices)")
    try:
        await services.tts.validate_character_voice(c)
    except ValueError as exc:
        raise ApiError("VALIDATION_ERROR", f"voice: {exc}") from None
    except TTSError as exc:
        raise ApiError("SERVICE_UNAVAILABLE", f"the voice cannot be checked now: {exc}",
                       retry_after=10) from None


@router.post("", status_code=201, summary="Create a character (optionally with your own id)",
             response_model=CharacterResponse, responses=errors(400, 409, 503))
async def create_character(body: CharacterCreate, services: ServicesDep, user: UserDep) -> dict:
    now = time.time()
    cid = body.id or uuid.uuid4().hex[:16]
    if body.id is not None:
        taken = body.id in load_presets() or \
            await store_call(services.memory.long.get_character(body.id)) is not None
        if taken:
            raise ApiError("CONFLICT", f"the character id {body.id!r} is taken")
    c = Character(**body.model_dump(exclude={"id"}), id=cid, owner=user, created_at=now,
                  updated_at=now)
    await _check_voice(services, c)
    await store_call(services.memory.long.put_character(c.to_doc()))
    return {"success": True, "data": _out(c)}


async def _own(services, character_id: str, user: str) -> Character:
    c = await find_character(services.memory.long, character_id, user)
    if c.owner is None:
        raise ApiError("FORBIDDEN", f"{character_id!r} is shared (a preset or an imported set) "
                                    f"and cannot be changed here")
    return c


@router.put("/{character_id}", summary="Replace a character of yours",
            response_model=CharacterResponse, responses=errors(400, 403, 404, 503))
async def update_character(character_id: str, body: CharacterIn, services: ServicesDep,
                           user: UserDep) -> dict:
    old = await _own(services, character_id, user)
    c = Character(**body.model_dump(), id=old.id, owner=user, created_at=old.created_at,
                  updated_at=time.time())
    await _check_voice(services, c)
    await store_call(services.memory.long.put_character(c.to_doc()))
    return {"success": True, "data": _out(c)}


@router.delete("/{character_id}", status_code=204, summary="Delete a character of yours",
               response_class=Response, responses=errors(403, 404, 503))
async def delete_character(character_id: str, services: ServicesDep, user: UserDep) -> Response:
    await _own(services, character_id, user)
    await store_call(services.memory.long.delete_character(character_id))
    return Response(status_code=204)
