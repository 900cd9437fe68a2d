"""Face shapes (the ``face`` step): the morph targets, as position deltas per part.

Names are those avatar clients look for (Ready Player Me, TalkingHead, Oculus): the 15
``viseme_*`` (``viseme_sil`` is the rest pose: all zeros), ``eyeBlinkLeft``, ``eyeBlinkRight``,
``mouthOpen``, ``mouthSmile``, ``eyesClosed``, then ``mouthFrown``, ``browInnerUp`` and
``browDown`` for emotions. Every other target moves the surface by at least 1 mm.
"""

from __future__ import annotations

import numpy as np

from avatar_engine.template.head import Head
from avatar_engine.template.parts import Part

VISEMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"]
REQUIRED = [f"viseme_{v}" for v in VISEMES] + [
    "eyeBlinkLeft", "eyeBlinkRight", "mouthOpen", "mouthSmile", "eyesClosed"]
TARGETS = REQUIRED + ["mouthFrown", "browInnerUp", "browDown"]

# mouth shape per viseme: open, wide, round, press, tuck (lower lip under the teeth), tongue out,
# tongue up. Unlisted parameters are 0 (the rest shape).
MOUTH = {
    "sil": {},
    "PP": {"press": 1.0},
    "FF": {"open": 0.12, "tuck": 1.0, "wide": 0.15},
    "TH": {"open": 0.25, "tongue_out": 1.0},
    "DD": {"open": 0.3, "tongue_up": 0.7},
    "kk": {"open": 0.38, "wide": 0.2},
    "CH": {"open": 0.22, "round": 0.55},
    "SS": {"open": 0.1, "wide": 0.65},
    "nn": {"open": 0.22, "tongue_up": 0.9},
    "RR": {"open": 0.25, "round": 0.6},
    "aa": {"open": 1.0, "wide": 0.1},
    "E": {"open": 0.5, "wide": 0.55},
    "I": {"open": 0.3, "wide": 0.9},
    "O": {"open": 0.7, "round": 0.8},
    "U": {"open": 0.28, "round": 1.0},
}
SHAPES = {"mouthOpen": {"open": 0.8}, "mouthSmile": {"smile": 1.0, "wide": 0.15},
          "mouthFrown": {"frown": 1.0}}


def add_morphs(parts: list[Part], head: Head) -> None:
    by = {p.name: p for p in parts}
    rest = {k: m[0] for k, m in head.mouth({}).items()}
    skull = by.get("head")  # absent when a generated mesh replaced it (its shapes came along)

    def mouth(name: str, params: dict) -> None:
        for key, (pos, _, _) in head.mouth(params).items():
            by[key].morphs[name] = (pos - rest[key]).astype(np.float32)
        if skull is not None:
            skull.morphs[name] = _jaw(skull.pos, head, params.get("open", 0.0))

    for v in VISEMES:
        mouth(f"viseme_{v}", MOUTH[v])
    for name, params in SHAPES.items():
        mouth(name, params)

    for side, name in ((1, "eyeBlinkLeft"), (-1, "eyeBlinkRight")):
        for part in ("white", "iris", "sparkle"):
            p = by[f"{part}{side}"]
            d = np.zeros_like(p.pos)
            d[:, 1] = (head.eye_y - 0.005 + (p.pos[:, 1] - head.eye_y) * 0.07) - p.pos[:, 1]
            d[:, 2] = -0.003 if part != "white" else 0.0
            p.morphs[name] = d
            p.morphs["eyesClosed"] = d
        b = by[f"brow{side}"]
        d = np.zeros_like(b.pos)
        d[:, 1] = -0.003
        b.morphs[name] = d
        b.morphs["eyesClosed"] = d

    for side in (1, -1):
        b = by[f"brow{side}"]
        inner = np.clip(1 - side * b.pos[:, 0] / head.eye_x + 0.3, 0, 1.6)  # 1+ at the inner end
        d = np.zeros_like(b.pos)
        d[:, 1] = 0.004 + 0.005 * inner
        b.morphs["browInnerUp"] = d
        d = np.zeros_like(b.pos)
        d[:, 1] = -0.003 - 0.004 * inner
        d[:, 2] = 0.001
        b.morphs["browDown"] = d


def _jaw(p: np.ndarray, head: Head, open_: float) -> np.ndarray:
    """Chin and lower face drop with the mouth (head skin below the mouth, front)."""
    below = np.clip((head.mouth_y + 0.004 - p[:, 1]) / 0.03, 0, 1)
    front = np.clip((p[:, 2] - head.c[2]) / head.r[2], 0, 1) ** 1.5
    side = np.exp(-(p[:, 0] / 0.06) ** 2)
    d = np.zeros_like(p)
    d[:, 1] = -0.016 * open_ * below * front * side
    d[:, 2] = -0.002 * open_ * below * front * side
    return d.astype(np.float32)
