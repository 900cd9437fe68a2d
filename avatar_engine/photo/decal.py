"""From the landmarks to the template: the head's proportions (bounded ratios) and the face
texture -- the photo warped so its eyes and mouth land where the template's are, feathered into
the skin, with the eyes, brows and mouth cut out (the template's own animated ones show there).
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_engine.photo import landmarks as L
from avatar_engine.photo.landmarks import Face
from avatar_engine.template.head import Head
from avatar_engine.template.spec import Proportions, Spec
from avatar_engine.template.texture import project

# typical values of each ratio on MediaPipe's landmarks (a frontal, neutral face), and how far a
# face may move the template from its default (a stylised head stays stylised)
TYPICAL = {"head_width": 0.86, "eye_spacing": 0.46, "mouth_drop": 0.38, "mouth_width": 0.42,
           "jaw": 0.78}
SPREAD = 0.12
OPACITY = 0.75
TONE = 0.5  # how much of the photo's shading stays


def ratios(face: Face) -> dict[str, float]:
    eyes_mid = (face.xy(L.IRIS_L) + face.xy(L.IRIS_R)) / 2
    mouth_mid = (face.xy(13) + face.xy(14)) / 2
    return {
        "head_width": face.width / face.height,
        "eye_spacing": float(np.linalg.norm(face.xy(L.IRIS_L) - face.xy(L.IRIS_R))) / face.width,
        "mouth_drop": float(np.linalg.norm(mouth_mid - eyes_mid)) / face.height,
        "mouth_width": float(np.linalg.norm(face.xy(L.MOUTH_L) - face.xy(L.MOUTH_R))) / face.width,
        "jaw": float(np.linalg.norm(face.xy(L.JAW_L) - face.xy(L.JAW_R))) / face.width,
    }


def proportions(face: Face) -> Proportions:
    r = ratios(face)
    mult = {k: float(np.clip(r[k] / TYPICAL[k], 1 - SPREAD, 1 + SPREAD)) for k in TYPICAL}
    # a wider jaw narrows less towards the chin
    mult["jaw"] = float(np.clip(2 - mult["jaw"], 1 - 2 * SPREAD, 1 + 2 * SPREAD))
    return Proportions(**{k: round(v, 4) for k, v in mult.items()})


def face_texture(rgb: np.ndarray, face: Face, spec: Spec) -> np.ndarray:
    """RGBA uint8 (texture_px square) in the Skin texture's layout (``texture.project``)."""
    size = spec.texture_px
    head = Head(spec)
    sy, sx = rgb.shape[0] / 1.0, rgb.shape[1] / 1.0
    src = np.float32([face.xy(L.IRIS_L), face.xy(L.IRIS_R), (face.xy(13) + face.xy(14)) / 2])
    dst = np.float32([project(head, head.eye_x, head.eye_y), project(head, -head.eye_x,
                                                                         head.eye_y),
                      project(head, 0.0, head.mouth_y)]) * size
    m = cv2.getAffineTransform(src, dst)
    warped = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if sx > size else
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # the mask in photo space: the face, less the eyes with their brows and the lips
    mask = np.zeros(rgb.shape[:2], np.uint8)
    inner = face.xy(L.FACE_OVAL)
    centre = inner.mean(axis=0)
    cv2.fillPoly(mask, [np.round(centre + (inner - centre) * 0.92).astype(np.int32)], 255)
    # not the hairline: the template's hair covers the forehead's top
    brow_top = min(face.xy(L.BROW_L)[:, 1].min(), face.xy(L.BROW_R)[:, 1].min())
    mask[:max(0, int(brow_top - 0.12 * face.height))] = 0
    pad = max(2, int(face.width * 0.035))
    for eye, brow in ((L.EYE_L, L.BROW_L), (L.EYE_R, L.BROW_R)):
        hull = cv2.convexHull(np.round(face.xy(eye + brow)).astype(np.int32))
        cv2.fillPoly(mask, [hull], 0)
        cv2.polylines(mask, [hull], True, 0, thickness=2 * pad)
    lips = np.round(face.xy(L.LIPS_OUTER)).astype(np.int32)
    cv2.fillPoly(mask, [lips], 0)
    cv2.polylines(mask, [lips], True, 0, thickness=2 * pad)
    alpha = cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    feather = max(3, size // 64) | 1
    alpha = cv2.GaussianBlur(cv2.erode(alpha, np.ones((3, 3), np.uint8), iterations=feather // 2),
                             (0, 0), feather)
    # never on the rim (the back of the head, the neck and the hands sample it)
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    rim = np.clip((0.47 - np.hypot(xx - 0.5, yy - 0.5)) / 0.04, 0, 1)
    # the photo's shading, softened (no pores, no folds) into the stylised skin
    alpha = (alpha.astype(np.float32) * rim * OPACITY).astype(np.uint8)
    # no thin lines (a toon filter's ink, wrinkles): they read as dirt on a 3D face
    warped = cv2.bilateralFilter(cv2.medianBlur(warped, 5), 9, 40, 5)
    return np.dstack([_tone(warped, alpha, spec.look.skin), alpha])


def _tone(rgb: np.ndarray, alpha: np.ndarray, skin) -> np.ndarray:
    """The photo's light and shade, gentler, on the measured skin colour: deep shadows and
    strong colour casts of the photo do not end up painted on the avatar's face."""
    img = rgb.astype(np.float32)
    lum = img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    inside = alpha > 128
    ref = float(np.median(lum[inside])) if inside.any() else float(lum.mean())
    shade = np.clip(1.0 + TONE * (lum / max(ref, 1.0) - 1.0), 0.78, 1.12)[..., None]
    tinted = np.asarray(skin, np.float32) * 255.0 * shade
    return np.clip(0.7 * tinted + 0.3 * img, 0, 255).astype(np.uint8)
