"""``validate``: the upload is an image we can read -- type sniffed from the bytes (JPEG, PNG,
WebP), at most ``AVATAR_AVATAR_MAX_UPLOAD_BYTES``, at most ``AVATAR_AVATAR_MAX_PIXELS`` (read
from the header: decompression bombs are refused before decoding), EXIF orientation applied,
re-encoded without any metadata. Runs when the upload arrives; the clean photo is the job's
``photo`` file."""

from __future__ import annotations

from avatar_engine.errors import JobError
from avatar_engine.photo.image import decode


def clean(data: bytes, max_bytes: int, max_pixels: int) -> dict:
    """In the job process: -> {jpeg, width, height}."""
    rgb, jpeg = decode(data, max_bytes, max_pixels)
    return {"jpeg": jpeg, "width": int(rgb.shape[1]), "height": int(rgb.shape[0])}


async def run(ctx) -> None:
    if await ctx.file("photo") is None:
        raise JobError("INVALID_IMAGE", "the photo of this job is gone")
