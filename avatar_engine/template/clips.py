"""Animation clips (the ``clips`` step): ``idle`` (breathing, a slow look around, one blink) and
``talk`` (nods and a mouth cycling through visemes), both looping: each track's first key
equals its last. Rotations are offsets from the rest pose (every joint rests unrotated); the
``full`` body's arms come down from the T-pose in both clips."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avatar_engine.template.morphs import TARGETS


@dataclass
class Track:
    target: str  # a joint name, or "weights" (the mesh's morph weights)
    times: np.ndarray  # (k,) seconds
    values: np.ndarray  # (k, 4) quaternions xyzw, or (k, len(TARGETS)) weights


@dataclass
class Clip:
    name: str
    tracks: list[Track] = field(default_factory=list)


def quat(axis: tuple[float, float, float], angle: np.ndarray) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    half = np.asarray(angle, float)[..., None] / 2
    return np.concatenate([a * np.sin(half), np.cos(half)], axis=-1).astype(np.float32)


def _wave(t: np.ndarray, period: float, amp: float, phase: float = 0.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * t / period + phase)


def _rot(joint: str, t: np.ndarray, axis, angle: np.ndarray) -> Track:
    return Track(joint, t, quat(axis, angle))


def _arms_down(t: np.ndarray, bones: set[str], sway: float) -> list[Track]:
    if "LeftArm" not in bones:
        return []
    out = []
    for side, s in (("Left", 1), ("Right", -1)):
        out.append(_rot(f"{side}Arm", t, (0, 0, 1), -s * (1.2 + _wave(t, t[-1], sway))))
        out.append(_rot(f"{side}ForeArm", t, (0, 1, 0), s * (0.25 + _wave(t, t[-1], sway))))
    return out


def _weights(t: np.ndarray, keys: dict[str, list[tuple[float, float]]]) -> Track:
    w = np.zeros((len(t), len(TARGETS)), np.float32)
    for name, points in keys.items():
        merged: dict[float, float] = {}
        for x, y in points:  # one value per time (the larger where two keys meet)
            merged[round(x, 6)] = max(y, merged.get(round(x, 6), 0.0))
        xs = sorted(merged)
        w[:, TARGETS.index(name)] = np.interp(t, xs, [merged[x] for x in xs])
    return Track("weights", t, w)


def idle(bones: set[str], duration: float = 4.0) -> Clip:
    t = np.linspace(0, duration, 33, dtype=np.float32)
    tracks = [
        _rot("Spine1", t, (1, 0, 0), _wave(t, duration, 0.012)),  # breathing
        _rot("Neck", t, (0, 1, 0), _wave(t, duration, 0.05, 0.6)),  # a slow look around
        _rot("Head", t, (1, 0, 0), _wave(t, duration / 2, 0.015)),
    ]
    tracks += [_rot(s, t, (0, 0, 1), _wave(t, duration, 0.01 if s.startswith("Left") else -0.01))
               for s in ("LeftShoulder", "RightShoulder")]
    tracks += _arms_down(t, bones, 0.02)
    blink = [(0.0, 0.0), (1.6, 0.0), (1.68, 1.0), (1.8, 0.0), (duration, 0.0)]
    tracks.append(_weights(t, {"eyeBlinkLeft": blink, "eyeBlinkRight": blink}))
    return Clip("idle", tracks)


def talk(bones: set[str], duration: float = 2.0) -> Clip:
    t = np.linspace(0, duration, 41, dtype=np.float32)
    tracks = [
        _rot("Head", t, (1, 0, 0), _wave(t, duration / 2, 0.035)),  # nods
        _rot("Neck", t, (0, 1, 0), _wave(t, duration, 0.04)),
        _rot("Spine1", t, (1, 0, 0), _wave(t, duration, 0.01)),
    ]
    tracks += _arms_down(t, bones, 0.05)
    syllables = ["viseme_aa", "viseme_O", "viseme_E", "viseme_PP", "viseme_I", "viseme_U",
                 "viseme_aa", "viseme_sil"]
    step = duration / len(syllables)
    keys: dict[str, list[tuple[float, float]]] = {}
    for i, name in enumerate(syllables):
        peak = (i + 0.5) * step
        keys.setdefault(name, []).extend([(peak - step / 2, 0.0), (peak, 0.9),
                                          (peak + step / 2, 0.0)])
    keys = {k: [(0.0, 0.0)] + v + [(duration, 0.0)] for k, v in keys.items()
            if k != "viseme_sil"}
    tracks.append(_weights(t, keys))
    return Clip("talk", tracks)


def make_clips(bones: set[str]) -> list[Clip]:
    return [idle(bones), talk(bones)]
