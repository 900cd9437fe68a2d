"""espeak-ng through ctypes: a tiny multilingual fallback TTS with exact phoneme events.

libespeak-ng (from the ``espeakng-loader`` wheel, else the system library) is driven in
``AUDIO_OUTPUT_SYNCHRONOUS`` mode: ``espeak_Synth`` calls our callback with int16 samples and
``espeakEVENT_PHONEME`` events (IPA names, because of ``espeakINITIALIZE_PHONEME_IPA``).

The library keeps global state (current voice, rate, callback), so every call into it is
serialised by :data:`_LOCK` and runs in a worker thread. Nothing is loaded at import time.

``espeak_EVENT`` on 64-bit Linux (checked against real output, ``sizeof == 40``)::

    offset  0  int   type             (7 = espeakEVENT_PHONEME, 0 = list terminator)
    offset  4  uint  unique_identifier
    offset  8  int   text_position
    offset 12  int   length
    offset 16  int   audio_position   (ms since the start of this espeak_Synth call)
    offset 20  int   sample           (samples since the start of this espeak_Synth call)
    offset 24  void* user_data
    offset 32  union id { int number; const char *name; char string[8]; }

For phoneme events ``id.string`` holds the UTF-8 IPA, NUL-terminated unless it fills all 8
bytes; pause phonemes come through with an empty name.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from realtime.engines.tts.base import PhonemeTiming, SynthChunk, TTSEngine, TTSError, VoiceInfo

# speak_lib.h constants
AUDIO_OUTPUT_SYNCHRONOUS = 2
espeakINITIALIZE_PHONEME_EVENTS = 0x0001
espeakINITIALIZE_PHONEME_IPA = 0x0002
espeakINITIALIZE_DONT_EXIT = 0x8000
espeakEVENT_LIST_TERMINATED = 0
espeakEVENT_PHONEME = 7
espeakCHARS_UTF8 = 1
POS_CHARACTER = 1
espeakRATE = 1
DEFAULT_RATE_WPM = 175
PHONEME_MODE_IPA = 0x02
PHONEME_SEPARATOR = "|"

PAUSE = "_"  # what a pause phoneme event (empty name) becomes
DEFAULT_VOICES: dict[str, str] = {"en": "en-us", "zh": "cmn", "ko": "ko", "ja": "ja"}
LISTED_VOICES = (("ko", "Korean (espeak-ng)", "ko"), ("en-us", "English US (espeak-ng)", "en"),
                 ("ja", "Japanese (espeak-ng)", "ja"))  # (voice, display name, language)

_LOCK = threading.Lock()  # serialises *every* call into libespeak-ng
_INIT_LOCK = threading.Lock()
_LIB: _Espeak | None = None
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])\s*|\n+")
_LANG_SWITCH = re.compile(r"^\([a-z-]+\)$")


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int), ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # the union, read as bytes (up to the first NUL)
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated code)*, then 0
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass
class _Collector:
    """Receives one ``espeak_Synth`` call's samples and phoneme events."""

    abort: threading.Event
    samples: list[bytes] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)  # (sample position, IPA)


def _find_library() -> tuple[str, str | None]:
    """-> (path of libespeak-ng, its data directory or None for the compiled-in default)."""
    try:
        import espeakng_loader

        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except Exception:  # noqa: BLE001 - wheel missing or broken: try the system library
        path = ctypes.util.find_library("espeak-ng")
        if not path:
            raise TTSError("libespeak-ng not found", code="SERVICE_UNAVAILABLE") from None
        return path, None


class _Espeak:
    """The process-wide libespeak-ng handle. Call its methods only while holding ``_LOCK``."""

    def __init__(self) -> None:
        path, data = _find_library()
        lib = ctypes.CDLL(path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                                              ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_void_p
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        options = (espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA
                   | espeakINITIALIZE_DONT_EXIT)
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100,
                                     data.encode() if data else None, options)
        if rate <= 0:
            raise TTSError(f"espeak_Initialize failed ({rate})", code="SERVICE_UNAVAILABLE")
        self.lib = lib
        self.sample_rate = int(rate)
        self.collector: _Collector | None = None
        self._callback = _SynthCallback(self._on_synth)  # keep a reference: C holds it
        lib.espeak_SetSynthCallback(self._callback)
        self.languages = self._list_languages()

    def _on_synth(self, wav, numsamples: int, events) -> int:  # noqa: ANN001 - ctypes pointers
        col = self.collector
        if col is None:
            return 0
        if wav and numsamples > 0:
            col.samples.append(ctypes.string_at(wav, numsamples * 2))
        if events:
            i = 0
            while events[i].type != espeakEVENT_LIST_TERMINATED:
                ev = events[i]
                if ev.type == espeakEVENT_PHONEME:
                    raw = ev.id.split(b"\0", 1)[0]  # c_char array reads up to the first NUL
                    col.events.append((int(ev.sample), raw.decode("utf-8", "ignore")))
                i += 1
        return 1 if col.abort.is_set() else 0

    def _list_languages(self) -> dict[str, str]:
        """language code -> voice identifier, preferring each code's best-priority voice."""
        best: dict[str, tuple[int, str]] = {}
        voices = self.lib.espeak_ListVoices(None)
        i = 0
        while voices and voices[i]:
            v = voices[i].contents
            p = v.languages
            while p and (prio := ctypes.string_at(p, 1)[0]) != 0:
                code = ctypes.string_at(p + 1).decode("ascii", "ignore").lower()
                p += len(code) + 2
                if v.identifier and (code not in best or prio < best[code][0]):
                    best[code] = (prio, v.identifier.decode())
            i += 1
        return {code: ident for code, (_, ident) in best.items()}

    def set_voice(self, name: str) -> None:
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise TTSError(f"unknown espeak-ng voice {name!r}", code="VALIDATION_ERROR")

    def synth(self, text: str, voice: str, speed: float,
              abort: threading.Event) -> tuple[np.ndarray, list[PhonemeTiming]]:
        """Synthesise ``text`` -> (int16 pcm, phonemes in ms from its first sample)."""
        self.set_voice(voice)
        wpm = int(round(DEFAULT_RATE_WPM * max(0.5, min(2.5, speed))))
        self.lib.espeak_SetParameter(espeakRATE, max(80, min(450, wpm)), 0)
        col = _Collector(abort)
        data = text.encode("utf-8") + b"\0"
        self.collector = col
        try:
            rc = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                       None, None)
        finally:
            self.collector = None
        if rc != 0 and not abort.is_set():
            raise TTSError(f"espeak_Synth failed ({rc})")
        pcm = np.frombuffer(b"".join(col.samples), dtype=np.int16).copy()
        return pcm, _events_to_timings(col.events, len(pcm), self.sample_rate)

    def text_to_phonemes(self, text: str, voice: str) -> list[str]:
        self.set_voice(voice)
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        mode = PHONEME_MODE_IPA | (ord(PHONEME_SEPARATOR) << 8)
        out: list[str] = []
        while ptr.value:
            res = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), espeakCHARS_UTF8, mode)
            if not res:
                continue
            for word in ctypes.string_at(res).decode("utf-8", "ignore").split():
                out.extend(t for t in word.split(PHONEME_SEPARATOR)
                           if t and not _LANG_SWITCH.match(t))
        return out


def _events_to_timings(events: list[tuple[int, str]], n_samples: int,
                       rate: int) -> list[PhonemeTiming]:
    """Phoneme events -> timings: each lasts until the next event, the last to the audio end."""
    out: list[PhonemeTiming] = []
    for k, (pos, name) in enumerate(events):
        end = events[k + 1][0] if k + 1 < len(events) else n_samples
        pos, end = min(pos, n_samples), min(max(end, pos), n_samples)
        out.append(PhonemeTiming(name or PAUSE, pos * 1000.0 / rate, (end - pos) * 1000.0 / rate))
    return out


def _espeak() -> _Espeak:
    """The shared handle, created (and libespeak-ng initialised) on first use."""
    global _LIB
    if _LIB is None:
        with _INIT_LOCK:
            if _LIB is None:
                with _LOCK:
                    _LIB = _Espeak()
    return _LIB


def _norm(language: str) -> str:
    return language.strip().lower().replace("_", "-")


def resolve_voice(language: str, overrides: dict[str, str] | None = None) -> str | None:
    """The espeak-ng voice for an ISO language code (``en``, ``en-US``, ``ko``), or None."""
    code = _norm(language)
    if not code:
        return None
    base = code.split("-")[0]
    prefs = {**DEFAULT_VOICES, **(overrides or {})}
    known = _espeak().languages
    for key in (code, base):
        if key in prefs:
            return prefs[key]
        if key in known:
            return known[key]
    return None


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation (and newlines); drop empty pieces."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def text_to_phonemes(text: str, language: str) -> list[str]:
    """IPA phonemes of ``text`` in ``language``, e.g. ``["h", "ə", "l", "ˈoʊ"]``.

    Uses ``espeak_TextToPhonemes`` clause by clause; stress marks stay on their vowel, word
    boundaries and language-switch markers are dropped. Raises :class:`TTSError`.
    """
    if not text.strip():
        return []
    lib = _espeak()
    voice = resolve_voice(language)
    if voice is None:
        raise TTSError(f"espeak-ng has no voice for {language!r}", code="VALIDATION_ERROR")
    with _LOCK:
        return lib.text_to_phonemes(text, voice)


class EspeakEngine(TTSEngine):
    """espeak-ng: every language it has a voice for, one :class:`SynthChunk` per sentence."""

    name = "espeak"

    def __init__(self, voices: dict[str, str] | None = None) -> None:
        """``voices`` overrides the language -> espeak voice choice, e.g. ``{"ko": "ko+f3"}``."""
        self.language_voices = dict(voices or {})

    @property
    def sample_rate(self) -> int:
        return _espeak().sample_rate

    async def start(self) -> None:
        await asyncio.to_thread(_espeak)

    async def health(self) -> bool:
        try:
            await asyncio.to_thread(_espeak)
        except Exception:  # noqa: BLE001 - a library that cannot load is "unhealthy"
            return False
        return True

    def voices(self) -> list[VoiceInfo]:
        rate = _LIB.sample_rate if _LIB is not None else 22050
        return [VoiceInfo(id=f"{self.name}:{vid}", name=name, language=lang, engine=self.name,
                          sample_rate=rate) for vid, name, lang in LISTED_VOICES]

    def supports(self, language: str) -> bool:
        try:
            return resolve_voice(language, self.language_voices) is not None
        except TTSError:
            return False

    async def synthesize(
        self, text: str, *, language: str, voice: str | None = None, speed: float = 1.0,
        streaming_mode: int | None = None,
    ) -> AsyncIterator[SynthChunk]:
        if not text.strip():
            return
        lib = await asyncio.to_thread(_espeak)
        name = voice or resolve_voice(language, self.language_voices)
        if not name:
            raise TTSError(f"espeak-ng has no voice for {language!r}", code="VALIDATION_ERROR")
        abort = threading.Event()
        offset_ms = 0.0
        try:
            for sentence in split_sentences(text):
                pcm, phonemes = await asyncio.to_thread(
                    _synth_locked, lib, sentence, name, speed, abort)
                if abort.is_set():
                    return
                for p in phonemes:
                    p.start_ms += offset_ms
                offset_ms += len(pcm) * 1000.0 / lib.sample_rate
                if len(pcm):
                    yield SynthChunk(pcm=pcm, sample_rate=lib.sample_rate, phonemes=phonemes)
        finally:
            abort.set()  # a sentence still running in the worker stops at its next callback


def _synth_locked(lib: _Espeak, text: str, voice: str, speed: float,
                  abort: threading.Event) -> tuple[np.ndarray, list[PhonemeTiming]]:
    """:meth:`_Espeak.synth` under the library lock, stray errors turned into :class:`TTSError`."""
    with _LOCK:
        try:
            return lib.synth(text, voice, speed, abort)
        except TTSError:
            raise
        except Exception as exc:  # noqa: BLE001 - ctypes / decoding trouble
            raise TTSError(f"espeak-ng failed: {exc}") from exc
