"""Photos for the avatar tests, all made from images that ship in scikit-image (public domain:
``astronaut`` is NASA's portrait of Eileen Collins; ``chelsea`` is a cat), plus broken files.
Kept small (the jobs' cost is the pipeline, not the pixels)."""

from __future__ import annotations

import io
import struct
import time
import zlib

import httpx
import numpy as np
from PIL import Image
from skimage import data


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(rgb: np.ndarray, exif_orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        im.save(buf, format="JPEG", quality=90, exif=exif)
    else:
        im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def astronaut() -> bytes:
    return png(data.astronaut())  # 512 x 512


def chelsea() -> bytes:
    return png(data.chelsea())


def two_faces() -> bytes:
    a = data.astronaut()[::2, ::2]
    return png(np.concatenate([a, a], axis=1))


def truncated() -> bytes:
    whole = jpeg(data.astronaut())
    return whole[: len(whole) // 3]


def garbled() -> bytes:
    whole = bytearray(astronaut())
    whole[200:4000] = bytes(3800)  # the compressed pixel data is destroyed; the header is fine
    return bytes(whole)


def bomb(side: int = 60_000) -> bytes:
    """A tiny PNG that claims side x side pixels (3.6 gigapixels) of one zlib stream of zeros:
    a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(side)  # one grey row, filter 0
    z = zlib.compressobj(9)
    idat = z.compress(row * 16) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0,
                                                                0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# hand-picked patches of the astronaut (rows, columns) -- independent of the pipeline's own
# landmark-based measurement
SKIN_PATCHES = [(slice(108, 124), slice(188, 204)), (slice(108, 124), slice(232, 248)),
                (slice(78, 88), slice(200, 225))]
HAIR_PATCHES = [(slice(50, 64), slice(170, 200)), (slice(45, 60), slice(215, 245))]


def patch_colour(patches) -> np.ndarray:
    a = data.astronaut()
    return np.median(np.concatenate([a[r, c].reshape(-1, 3) for r, c in patches]), axis=0) / 255


def delta_e(rgb1, rgb2) -> float:
    """CIE76 colour difference of two sRGB colours (0..1)."""
    from skimage.color import rgb2lab

    lab = rgb2lab(np.array([[rgb1, rgb2]], float))
    return float(np.linalg.norm(lab[0, 0] - lab[0, 1]))


def post_photo(client: httpx.Client, url: str, photo: bytes, options: dict | None = None,
               **headers) -> httpx.Response:
    import json

    files = {"image": ("photo.png", photo, "image/png")}
    form = {"options": json.dumps(options)} if options is not None else {}
    return client.post(url, files=files, data=form, headers=headers)


def wait_job(client: httpx.Client, status_url: str, timeout: float = 120.0, **headers) -> dict:
    """Poll until the job ends (a generous deadline: the test is about the outcome)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(status_url, headers=headers)
        assert r.status_code == 200, r.text
        job = r.json()["data"]
        if job["status"] not in ("queued", "processing"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} at {job['current_step']}"
        time.sleep(0.1)
