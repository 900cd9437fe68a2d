"""A shorter Whisper encoder window for short utterances.

Whisper encodes every window as 30 s of audio (3000 log-mel frames), however short the speech:
faster-whisper pads a 2 s question with 28 s of zeros, and the encoder's self-attention over
those 3000 frames is most of a transcription (tiny.en int8 on 2 threads: encoder 270 ms of
~340 ms; 10 s of frames: ~45 ms). CTranslate2 encodes any number of frames up to 3000, so the
padding can be cut, but not all of it: with only the speech plus ~1 s, the decoder does not find
the end and repeats the sentence until ``max_length`` (measured: 11 of 24 clips with 5 s). Whole
windows of 15 s end cleanly (``bench/stt_window.py``, 39 Piper clips: questions, one-word
answers, hesitations, 12-22 s monologues): tiny.en 0.46x the time of 30 s (146 vs 317 ms p50),
base 0.42x, base on Korean 0.38x (442 vs 1173 ms). 10 s windows are faster still (0.31x) but
tiny.en then garbles one-word answers ("Why?" -> "y", "No." -> "No? No?"); base does not.

:func:`keep_frames` is the rule; :func:`windowed` makes a faster-whisper model use it (its
``encode`` is the one place both transcription and language detection encode). Decoding on
CPU threads is not bit-for-bit repeatable, so a rare doubled answer remains: a transcript that
is one phrase said twice or more (:func:`repeats`) is decoded again with the full window
(``full_window``), which costs that turn a second decode and keeps real "no, no" intact.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading

import numpy as np

FULL = 3000  # Whisper's window: 30 s of 10 ms frames
TAIL = 100  # at least 1 s of padding after the speech


def content_frames(features: np.ndarray) -> int:
    """Frames up to the last one that is not padding (faster-whisper pads with exact zeros;
    a log-mel frame of real audio, even silence, is never all zeros after normalisation)."""
    nonzero = np.flatnonzero((features != 0.0).reshape(-1, features.shape[-1]).any(axis=0))
    return int(nonzero[-1]) + 1 if nonzero.size else 0


def keep_frames(n_content: int, window_frames: int) -> int:
    """How many frames to encode: the speech plus >= 1 s, rounded up to whole windows."""
    if window_frames <= 0 or window_frames >= FULL:
        return FULL
    return min(FULL, max(1, math.ceil((n_content + TAIL) / window_frames)) * window_frames)


def windowed(model_cls: type, window_s: float) -> type:
    """A subclass of faster-whisper's ``WhisperModel`` whose encoder sees only
    :func:`keep_frames` of each 30 s window (``window_s`` <= 0 or >= 30: unchanged)."""
    frames = int(round(window_s * 100))
    if frames <= 0 or frames >= FULL:
        return model_cls

    class Windowed(model_cls):
        window_frames = frames
        _full = threading.local()

        @contextlib.contextmanager
        def full_window(self):
            """Encode whole 30 s windows inside this block (in this thread)."""
            self._full.on = True
            try:
                yield
            finally:
                self._full.on = False

        def encode(self, features: np.ndarray):
            if not getattr(self._full, "on", False):
                keep = keep_frames(content_frames(features), frames)
                if keep < features.shape[-1]:
                    features = features[..., :keep]
            return super().encode(features)

    Windowed.__name__ = f"Windowed{model_cls.__name__}"
    return Windowed


_WORD = re.compile(r"\w+(?:'\w+)?")


def repeats(text: str) -> bool:
    """Is ``text`` one phrase said at least twice over ("Thanks thanks", "No? No?", "Pizza. Pizza.
    Pizza.", a runaway cut off mid-phrase)? Case and punctuation are ignored."""
    words = _WORD.findall(text.lower())
    n = len(words)
    for k in range(1, n // 2 + 1):
        if all(words[i] == words[i - k] for i in range(k, n)):
            return True
    return False
