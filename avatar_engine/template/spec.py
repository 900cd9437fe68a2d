"""What a template avatar is made from: proportions, hairstyle, body, colours and the face
texture. The defaults are the default avatar (``client-web/public/avatars/default.glb``); a job
fills them from the photo (colours, face texture, head ratios) and the options (hairstyle, body,
chibi)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Body = Literal["head_shoulders", "full"]
Hair = Literal["bun", "bob", "short", "long"]
RGB = tuple[float, float, float]  # sRGB, 0..1

HAIRSTYLES: tuple[str, ...] = ("bun", "bob", "short", "long")
BODIES: tuple[str, ...] = ("head_shoulders", "full")


@dataclass(frozen=True)
class Look:
    """Colours by part (sRGB 0..1): the materials ``Skin``, ``Hair``, ``Eyes``, ``Lips`` and
    ``Clothes`` carry them, so a client can recolour each part after generation."""

    skin: RGB = (0.98, 0.80, 0.68)
    hair: RGB = (0.36, 0.22, 0.16)
    eyes: RGB = (0.17, 0.11, 0.09)
    lips: RGB = (0.86, 0.45, 0.45)
    clothes: RGB = (0.16, 0.58, 0.62)


@dataclass(frozen=True)
class Proportions:
    """Multipliers on the default head (1 = default), from landmark ratios (bounded there)."""

    head_width: float = 1.0  # face width / height
    eye_spacing: float = 1.0  # distance between the eyes / face width
    mouth_drop: float = 1.0  # eyes -> mouth / face height
    mouth_width: float = 1.0
    jaw: float = 1.0  # narrowing towards the chin


@dataclass(frozen=True)
class Spec:
    name: str = "Default avatar"
    body: Body = "head_shoulders"
    hair: Hair = "bun"
    chibi: bool = False
    look: Look = field(default_factory=Look)
    proportions: Proportions = field(default_factory=Proportions)
    # the face texture in the head's UV layout (``texture.FACE_UV``), RGBA uint8 (alpha: where
    # the photo shows; 0 elsewhere); None: plain skin
    face: np.ndarray | None = field(default=None, compare=False, repr=False)
    texture_px: int = 512

    def with_(self, **changes) -> Spec:
        return replace(self, **changes)


# chibi: a bigger head on a smaller body (the head scales about the top of the neck)
CHIBI_HEAD = 1.35
CHIBI_BODY = 0.8
NECK_TOP = np.array([0.0, 1.47, -0.01])


def head_point(p: np.ndarray, spec: Spec) -> np.ndarray:
    """Where a point of the head (or anything attached to it) goes under the spec's
    proportions (identity unless chibi)."""
    if not spec.chibi:
        return p
    return NECK_TOP * CHIBI_BODY + (p - NECK_TOP) * CHIBI_HEAD


def body_point(p: np.ndarray, spec: Spec) -> np.ndarray:
    """Where a point of the body goes (scaled about the ground when chibi)."""
    return p * CHIBI_BODY if spec.chibi else p
