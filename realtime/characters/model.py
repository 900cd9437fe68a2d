"""The character document (the seeds' fields) and the presets shipped in ``presets.json``.

``CharacterIn`` is what a client sends (``POST``/``PUT /api/characters``); ``Character`` adds
what the server owns (id, owner, preset flag, timestamps). Presets are original characters of
our own, read-only, and written to the long-term store at every start.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from realtime.lenient import Lenient
from realtime.pipeline.language import detect_language

DEFAULT_CHARACTER_ID = "mina"
_PRESETS = Path(__file__).with_name("presets.json")

Text = Annotated[str, Field(max_length=2000)]
Short = Annotated[str, Field(max_length=200)]
SLUG = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# the fields whose script decides a character's language when it gives none
_TEXT_KEYS = ("name", "description", "personality", "speech_style", "sample_dialogue",
              "greeting", "persona")
_AVATAR_URL = re.compile(r"^(https?://[^\s]+|/[^\s]*)\.(glb|vrm)(\?[^\s]*)?$", re.IGNORECASE)


class VoiceBinding(BaseModel):
    """Which TTS voice speaks for the character. For GPT-SoVITS: a reference clip (a path on
    the GPT-SoVITS host), its transcript and language, as ``api_v2.py`` takes them."""

    model_config = ConfigDict(extra="forbid")
    engine: Literal["piper", "espeak", "gpt_sovits"] | None = None
    voice_id: str | None = Field(None, max_length=200, description="An id from /api/tts/voices")
    ref_audio_path: str | None = Field(None, max_length=500)
    prompt_text: str | None = Field(None, max_length=500)
    prompt_lang: Literal["ko", "en", "ja", "zh", "yue", "auto"] | None = None

    @model_validator(mode="after")
    def _complete(self) -> VoiceBinding:
        if self.engine == "gpt_sovits" and not (self.ref_audio_path and self.prompt_text
                                                and self.prompt_lang):
            raise ValueError("a gpt_sovits voice needs ref_audio_path, prompt_text and "
                             "prompt_lang")
        return self


class CharacterIn(Lenient):
    """A character as clients write it (every field but ``name`` optional).

    Also read: the seeds' older keys (000:2576-2578, 001:1650): ``persona`` (added to
    ``description``), ``model_url`` (-> ``avatar_url``), a top-level ``voice_id`` (-> ``voice``).
    Without ``language`` the character's own text decides (Hangul -> ``ko``). Other unknown keys
    are ignored (and logged once).
    """

    name: str = Field(..., min_length=1, max_length=80)
    language: Literal["en", "ko", "ja", "zh"] = Field(
        "ko", description="Default: detected from the character's text (Hangul -> ko)")
    category: Short = ""
    source_work: Short = ""
    personality: Text = ""
    appearance: Text = ""
    likes: list[Short] = Field(default_factory=list, max_length=30)
    dislikes: list[Short] = Field(default_factory=list, max_length=30)
    speech_style: Text = ""
    thoughts: Text = ""
    features: Text = ""
    habits: Text = ""
    guidelines: Text = ""
    gender: Short = ""
    species: Short = ""
    age: Short = ""
    height: Short = ""
    job: Short = ""
    description: Text = ""
    worldview: Text = ""
    sample_dialogue: Text = ""
    greeting: Short = ""
    voice: VoiceBinding = Field(default_factory=VoiceBinding)
    avatar_url: str | None = Field(None, max_length=500, description="A .glb or .vrm URL")
    thumbnail_url: str | None = Field(None, max_length=500, description="An image URL (kept)")

    @model_validator(mode="before")
    @classmethod
    def _seed_keys(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        persona = data.pop("persona", None)
        if isinstance(persona, str) and persona.strip():
            data["description"] = "\n".join(
                p for p in (str(data.get("description") or ""), persona.strip()) if p)
        model_url = data.pop("model_url", None)
        if model_url and not data.get("avatar_url"):
            data["avatar_url"] = model_url
        voice_id = data.pop("voice_id", None)
        if voice_id and voice_id != "default" and not data.get("voice"):
            data["voice"] = {"voice_id": voice_id}
        if not data.get("language"):
            text = " ".join(str(data.get(k) or "") for k in _TEXT_KEYS)
            data["language"] = detect_language(text, "ko")
        return data

    @field_validator("likes", "dislikes", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        if isinstance(v, str):  # the seeds' files also write "a, b, c"
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    @field_validator("age", "height", mode="before")
    @classmethod
    def _stringify(cls, v: object) -> object:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("avatar_url")
    @classmethod
    def _avatar(cls, v: str | None) -> str | None:
        if v and not _AVATAR_URL.match(v):
            raise ValueError("avatar_url must be an http(s) or /path URL ending in .glb or .vrm")
        return v or None


class CharacterCreate(CharacterIn):
    """``POST /api/characters``: optionally with the id to keep (a migrated set keeps its ids)."""

    id: str | None = Field(None, pattern=SLUG, description="Your own id, e.g. hermione; "
                                                            "default: a random one")


class Character(CharacterIn):
    id: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,64}$")
    owner: str | None = None  # None: a preset everyone sees
    preset: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0

    def to_doc(self) -> dict:
        doc = self.model_dump()
        doc["_id"] = doc.pop("id")
        return doc

    @classmethod
    def from_doc(cls, doc: dict) -> Character:
        data = {k: v for k, v in doc.items() if k in cls.model_fields and k != "id"}
        return cls(id=doc["_id"], **data)  # (store keys such as Mongo's owner_key left out)


@cache
def load_presets() -> dict[str, Character]:
    items = json.loads(_PRESETS.read_text(encoding="utf-8"))
    return {c["id"]: Character(**c, preset=True) for c in items}
