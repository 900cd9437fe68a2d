"""The photo's colours by part, measured where the landmarks say each part is (sRGB 0..1):

* skin: both cheeks and the forehead (the middle of their brightness range: no shadow, no
  shine);
* hair: the person (selfie segmentation) above the brows and outside the face; none found (a
  hat, a shaved head, a busy background) keeps the default and says so;
* eyes: inside each iris, without the pupil and the catch-light;
* lips: between the outer and the inner lip line.

Age, gender and hairstyle are not guessed: they come from the options.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_engine.photo import landmarks as L
from avatar_engine.photo.landmarks import Face

RGB = tuple[float, float, float]


def _robust(pixels: np.ndarray, lo: float = 0.15, hi: float = 0.85) -> RGB | None:
    """Median colour of the pixels whose brightness lies between the given quantiles."""
    if len(pixels) < 12:
        return None
    px = pixels.reshape(-1, 3).astype(np.float64)
    lum = px @ np.array([0.2126, 0.7152, 0.0722])
    a, b = np.quantile(lum, [lo, hi])
    keep = px[(lum >= a) & (lum <= b)]
    if len(keep) < 6:
        keep = px
    return tuple(round(float(c) / 255.0, 4) for c in np.median(keep, axis=0))


def _disc(shape, centre, radius) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.circle(mask, (int(round(centre[0])), int(round(centre[1]))), max(1, int(radius)), 255, -1)
    return mask > 0


def _poly(shape, points) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255)
    return mask


def skin(rgb: np.ndarray, face: Face) -> RGB | None:
    r = face.width * 0.07
    sel = np.zeros(rgb.shape[:2], bool)
    for idx in (L.CHEEK_L, L.CHEEK_R, L.FOREHEAD):
        sel |= _disc(rgb.shape, face.xy(idx), r)
    return _robust(rgb[sel])


def hair(rgb: np.ndarray, face: Face, person: np.ndarray) -> RGB | None:
    h, w = rgb.shape[:2]
    oval = cv2.dilate(_poly(rgb.shape, face.xy(L.FACE_OVAL)),
                      np.ones((5, 5), np.uint8), iterations=max(1, int(face.width * 0.03))) > 0
    brow_y = min(face.xy(L.BROW_L)[:, 1].min(), face.xy(L.BROW_R)[:, 1].min())
    x0 = int(max(0, face.xy(L.SIDE_R)[0] - 0.35 * face.width))
    x1 = int(min(w, face.xy(L.SIDE_L)[0] + 0.35 * face.width))
    y0 = int(max(0, face.xy(L.TOP)[1] - 0.6 * face.height))
    region = np.zeros((h, w), bool)
    region[y0:int(max(y0, brow_y)), x0:x1] = True
    sel = region & ~oval & (person > 0.6)
    if sel.sum() < max(50, 0.01 * face.width * face.height):
        return None
    return _robust(rgb[sel], 0.1, 0.8)


def eyes(rgb: np.ndarray, face: Face) -> RGB | None:
    sel = np.zeros(rgb.shape[:2], bool)
    for c in (L.IRIS_L, L.IRIS_R):
        rim = face.xy(list(range(c + 1, c + 5)))
        radius = np.linalg.norm(rim - face.xy(c), axis=1).mean()
        sel |= _disc(rgb.shape, face.xy(c), radius * 0.9)
        sel &= ~_disc(rgb.shape, face.xy(c), radius * 0.35)  # the pupil
    return _robust(rgb[sel], 0.1, 0.75)


def lips(rgb: np.ndarray, face: Face) -> RGB | None:
    sel = (_poly(rgb.shape, face.xy(L.LIPS_OUTER)) > 0) & ~(_poly(rgb.shape,
                                                               face.xy(L.LIPS_INNER)) > 0)
    return _robust(rgb[sel])


def measure(rgb: np.ndarray, face: Face, person: np.ndarray | None = None) -> dict:
    """-> {skin, hair, eyes, lips}: each an sRGB triple, or None where nothing honest was found."""
    if person is None:
        person = L.person_mask(rgb)
    return {"skin": skin(rgb, face), "hair": hair(rgb, face, person), "eyes": eyes(rgb, face),
            "lips": lips(rgb, face)}
