"""What a user asks for (the ``options`` JSON of ``POST /api/generate``, the fields of
``POST /api/style/transform``). Unknown keys are ignored (the seeds' ``resolution``,
``include_texture``); the seeds' style ``deformed`` is ``chibi``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Style = Literal["none", "chibi", "anime", "cartoon"]
Preset = Literal["chibi", "anime", "cartoon"]


class GenerateOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    style: Style = Field("none", description="none | chibi | anime | cartoon (chibi also gives "
                                             "chibi proportions)")
    engine: Literal["auto", "template", "gpu3d"] = Field(
        "auto", description="auto = template; gpu3d = the experimental image-to-3D sidecar, "
                            "falling back to the template when any check fails")
    body: Literal["head_shoulders", "full"] = "head_shoulders"
    hair: Literal["bun", "bob", "short", "long"] = Field(
        "bob", description="cannot be read honestly from a photo: chosen here")
    vrm: bool = Field(False, description="also write a VRM 1.0 file")
    strength: float = Field(0.6, ge=0.0, le=1.0, description="how strongly the style applies")
    name: str = Field("My avatar", min_length=1, max_length=60)

    @field_validator("style", mode="before")
    @classmethod
    def _deformed(cls, v):
        return "chibi" if v == "deformed" else v


class StyleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    style_preset: Preset = "anime"
    strength: float = Field(0.8, ge=0.0, le=1.0)
