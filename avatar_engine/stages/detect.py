"""``detect``: exactly one face, and its 478 landmarks (MediaPipe, offline). No face is
``NO_FACE_DETECTED``, several are ``MULTIPLE_FACES`` (both 422). Runs when the upload arrives;
the landmarks are the job's ``face.json``."""

from __future__ import annotations

import json

from avatar_engine.photo import landmarks
from avatar_engine.photo.image import load_rgb


def find(jpeg: bytes) -> dict:
    """In the job process: -> the face as a document (landmarks, box, score)."""
    return landmarks.detect(load_rgb(jpeg)).to_doc()


async def run(ctx) -> None:
    if await ctx.file("face.json") is None:
        await ctx.save("face.json", json.dumps(await ctx.cpu(find, await ctx.file("photo")))
                       .encode())
