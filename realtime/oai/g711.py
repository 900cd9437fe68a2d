"""G.711 μ-law and A-law (ITU-T G.711, 8 kHz, one byte a sample) as lookup tables over numpy,
bit-exact with the reference coder (CPython's ``audioop``, which 3.13 removed): the 256 codes
decode through one table, and all 65,536 PCM16 values encode through another.

OpenAI's ``audio/pcmu`` / ``audio/pcma`` (beta ``g711_ulaw`` / ``g711_alaw``) are these at 8 kHz.
"""

from __future__ import annotations

from functools import cache

import numpy as np

_SEG_U = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_SEG_A = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _encode_ulaw(pcm: np.ndarray) -> np.ndarray:
    x = pcm.astype(np.int64) >> 2  # 14-bit
    mask = np.where(x < 0, 0x7F, 0xFF)
    x = np.minimum(np.abs(x), 8159) + (0x84 >> 2)
    seg = np.searchsorted(_SEG_U, x)  # first segment whose end is >= x
    code = (seg << 4) | ((x >> (seg + 1)) & 0xF)
    return (np.where(seg >= 8, 0x7F, code) ^ mask).astype(np.uint8)


def _encode_alaw(pcm: np.ndarray) -> np.ndarray:
    x = pcm.astype(np.int64) >> 3  # 13-bit
    mask = np.where(x >= 0, 0xD5, 0x55)
    x = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_SEG_A, x)
    code = (seg << 4) | ((x >> np.where(seg < 2, 1, seg)) & 0xF)
    return (np.where(seg >= 8, 0x7F, code) ^ mask).astype(np.uint8)


def _decode_ulaw(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int64) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _decode_alaw(codes: np.ndarray) -> np.ndarray:
    a = codes.astype(np.int64) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << (seg - 1)))
    return np.where(a & 0x80, t, -t).astype(np.int16)


@cache
def _tables(law: str) -> tuple[np.ndarray, np.ndarray]:
    """-> (encode: 65,536 codes indexed by PCM16 + 32768, decode: 256 PCM16 values)."""
    pcm = np.arange(-32768, 32768, dtype=np.int64)
    codes = np.arange(256, dtype=np.int64)
    if law == "pcmu":
        return _encode_ulaw(pcm), _decode_ulaw(codes)
    return _encode_alaw(pcm), _decode_alaw(codes)


def encode(pcm16: np.ndarray, law: str) -> bytes:
    """PCM16 samples -> G.711 bytes (``law``: ``pcmu`` or ``pcma``)."""
    return _tables(law)[0][np.asarray(pcm16, dtype=np.int32) + 32768].tobytes()


def decode(data: bytes, law: str) -> np.ndarray:
    """G.711 bytes -> PCM16 samples."""
    return _tables(law)[1][np.frombuffer(data, dtype=np.uint8)]
