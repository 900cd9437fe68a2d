"""Uploads to pixels, safely: the type is sniffed from the bytes (JPEG, PNG, WebP), the size and
the pixel count are checked before decoding (a decompression bomb is refused from its header),
EXIF orientation is applied, and the photo is re-encoded without any metadata."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from avatar_engine.errors import JobError

KINDS = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
MAX_SIDE = 1280  # what the pipeline works on (face texture 512 px): larger photos are scaled


def sniff(data: bytes) -> str | None:
    """'JPEG' | 'PNG' | 'WEBP' from the first bytes, or None."""
    for magic, kind in KINDS.items():
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_upload(data: bytes, max_bytes: int, max_pixels: int) -> str:
    """Refuse what is not worth decoding; -> the sniffed type."""
    if len(data) > max_bytes:
        raise JobError("PAYLOAD_TOO_LARGE", f"the image is over {max_bytes // 2**20} MB")
    kind = sniff(data)
    if kind is None:
        raise JobError("UNSUPPORTED_MEDIA_TYPE", "send a JPEG, PNG or WebP image "
                                                 "(this file is none of them)")
    return kind


def decode(data: bytes, max_bytes: int = 10 * 2**20, max_pixels: int = 40_000_000,
           max_side: int = MAX_SIDE) -> tuple[np.ndarray, bytes]:
    """-> (RGB uint8 array, at most ``max_side`` px a side; the same as a clean JPEG)."""
    kind = check_upload(data, max_bytes, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[kind])
            w, h = im.size
            if w * h > max_pixels:  # from the header, before any pixel is decoded
                raise JobError("IMAGE_TOO_LARGE", f"{w}x{h} pixels; at most {max_pixels:,} "
                                                  f"(a decompression bomb?)")
            if w < 64 or h < 64:
                raise JobError("INVALID_IMAGE", f"{w}x{h} pixels is too small for a face")
            im.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
            im.load()
            im = ImageOps.exif_transpose(im)
            im = im.convert("RGB")
    except JobError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise JobError("IMAGE_TOO_LARGE", f"refused: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - truncated, garbled: Pillow says why
        raise JobError("INVALID_IMAGE", f"the {kind} image cannot be decoded: {exc}") from None
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=92)  # no EXIF, no ICC, no comments: pixels only
    return np.asarray(im), buf.getvalue()


def encode_png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def load_rgb(data: bytes) -> np.ndarray:
    """Our own (already checked) intermediate images."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))
