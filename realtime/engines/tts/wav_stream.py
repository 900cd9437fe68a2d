"""Incremental WAV parsing for streamed TTS replies (GPT-SoVITS ``api_v2.py`` streams a 44-byte
``wave`` header with zero sizes, then headerless int16 PCM)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from realtime.engines.tts.base import TTSError

MAX_HEADER_BYTES = 64 * 1024  # give up looking for the ``data`` chunk after this much
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)  # placeholders streaming writers put in ``data``


@dataclass(frozen=True, slots=True)
class WavFormat:
    """What the WAV header says, and where the PCM starts."""

    sample_rate: int
    channels: int
    sample_width: int  # bytes per sample
    data_offset: int  # index of the first PCM byte in the buffer that was parsed
    data_size: int  # as written in the header; meaningless (0) in api_v2 streaming


def parse_wav_header(buf: bytes) -> WavFormat | None:
    """Parse a RIFF/WAVE header from the start of ``buf``.

    Returns ``None`` while more bytes are needed (header split across HTTP chunks). Chunks other
    than ``fmt `` and ``data`` (``LIST``, ``fact``...) are skipped. Raises :class:`TTSError` for
    anything that is not a WAV header.
    """
    if len(buf) < 12:
        if not (b"RIFF".startswith(buf[:4]) and b"WAVE".startswith(buf[8:12])):
            raise TTSError("GPT-SoVITS reply is not a WAV stream")
        return None
    if buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
        raise TTSError("GPT-SoVITS reply is not a WAV stream")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while len(buf) >= pos + 8:
        cid = buf[pos:pos + 4]
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        body = pos + 8
        if cid == b"data":
            if fmt is None:
                raise TTSError("WAV data chunk before its fmt chunk")
            _, channels, rate, bits = fmt
            return WavFormat(rate, channels, bits // 8, body, size)
        if cid == b"fmt ":
            if size < 16:
                raise TTSError("WAV fmt chunk too short")
            if len(buf) < body + 16:
                return None
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", buf, body)
            fmt = (tag, channels, rate, bits)
            if tag not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_EXTENSIBLE):
                raise TTSError(f"WAV format tag {tag} is not PCM")
        pos = body + size + (size & 1)  # chunks are padded to even sizes
    if pos > MAX_HEADER_BYTES:
        raise TTSError("no WAV data chunk in the first 64 KiB")
    return None


class WavStreamDecoder:
    """Incremental WAV → int16 decoder: feed raw HTTP bytes, get sample arrays back.

    ``trust_size`` honours the header's ``data`` size (complete files); streamed headers from
    api_v2 say 0, so streaming leaves it off and takes every byte after the header as PCM.
    """

    def __init__(self, *, trust_size: bool = False) -> None:
        self.trust_size = trust_size
        self.format: WavFormat | None = None
        self._head = b""
        self._odd = b""  # a trailing half sample carried to the next feed
        self._left: int | None = None  # PCM bytes still expected when the size is trusted

    @property
    def sample_rate(self) -> int | None:
        return self.format.sample_rate if self.format else None

    def feed(self, data: bytes) -> np.ndarray:
        """Consume ``data``; return the complete int16 samples it finished (maybe empty)."""
        if self.format is None:
            self._head += data
            fmt = parse_wav_header(self._head)
            if fmt is None:
                if len(self._head) > MAX_HEADER_BYTES:
                    raise TTSError("no WAV data chunk in the first 64 KiB")
                return np.zeros(0, np.int16)
            if fmt.channels != 1 or fmt.sample_width != 2:
                raise TTSError(f"GPT-SoVITS sent {fmt.channels} channel(s) of "
                               f"{8 * fmt.sample_width}-bit audio; need mono 16-bit")
            if fmt.sample_rate <= 0:
                raise TTSError("WAV header has no sample rate")
            self.format = fmt
            if self.trust_size and fmt.data_size not in _UNKNOWN_SIZES:
                self._left = fmt.data_size
            data, self._head = self._head[fmt.data_offset:], b""
        if self._left is not None:
            data = data[:self._left]
            self._left -= len(data)
        data = self._odd + data
        cut = len(data) - (len(data) & 1)
        self._odd = data[cut:]
        return np.frombuffer(data[:cut], dtype="<i2").astype(np.int16)
