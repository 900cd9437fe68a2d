"""The app's engines, built from :class:`Settings` and started/stopped by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gpu_host.client import GpuClient, GpuSettings, build_gpu_client
from realtime.config import Settings
from realtime.engines.llm.base import LLM
from realtime.engines.llm.gated import GpuGatedLLM
from realtime.engines.llm.llama_server import LlamaServerProcess
from realtime.engines.llm.openai_compat import OpenAICompatLLM
from realtime.engines.llm.scheduler import LLMScheduler
from realtime.engines.tts.base import TTSEngine
from realtime.characters.store import seed_presets
from realtime.engines.tts.router import TTSRouter
from realtime.heap import HeapTrimmer
from realtime.limits import Limits
from realtime.memory.context import ContextManager
from realtime.memory.conversation import Memory
from realtime.memory.tokens import TokenCounter
from realtime.metrics import Metrics
from realtime.pipeline.live import LiveWork
from realtime.pipeline.turn import TurnEngine
from realtime.store import build_long_term, build_short_term
from realtime.store.outbox import Outbox

log = logging.getLogger(__name__)


def _one_blas_thread() -> None:
    """numpy's OpenBLAS runs single-threaded in this process. Several worker threads (Whisper's
    features, the end-of-turn model's, viseme fitting) call it at once, and its own thread pool,
    shared between them, was seen to spin forever in ``exec_blas``; on 2 cores it only
    oversubscribes anyway (the models have thread pools of their own)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def build_tts_engines(settings: Settings) -> list[TTSEngine]:
    from realtime.engines.tts.espeak import EspeakEngine
    from realtime.engines.tts.piper_engine import PiperEngine, ensure_aligned_voice

    engines: list[TTSEngine] = []
    if settings.tts_engine == "gpt_sovits":
        from realtime.engines.tts.sovits import GPTSoVITSEngine, SovitsVoice

        voice = SovitsVoice(ref_audio_path=settings.tts_sovits_ref_audio_path,
                            prompt_text=settings.tts_sovits_prompt_text,
                            prompt_lang=settings.tts_sovits_prompt_lang, name="default",
                            language=settings.tts_sovits_prompt_lang)
        engines.append(GPTSoVITSEngine(
            settings.tts_sovits_url, voices={"default": voice}, default_voice="default",
            text_split_method=settings.tts_sovits_text_split_method,
            streaming_mode=settings.tts_sovits_streaming_mode, timeout_s=settings.tts_timeout_s,
            version=settings.tts_sovits_version,
            max_concurrency=settings.tts_sovits_max_concurrency))
    voice_path = settings.tts_piper_voice_path or ensure_aligned_voice(
        Path(settings.storage_dir) / "models")
    engines.append(PiperEngine(voice_path, threads=settings.tts_piper_threads))
    engines.append(EspeakEngine(voices={"ko": settings.tts_espeak_voice_ko}))
    return engines


def build_listening(settings: Settings, metrics: Metrics):
    """-> (VadHub, SpeechRouter), or (None, None) when voice input is off."""
    if not settings.voice_enabled:
        return None, None
    from concurrent.futures import ThreadPoolExecutor

    from realtime.listen.hub import VadHub
    from realtime.listen.routing import SpeechRouter
    from realtime.listen.silero import SileroModel
    from realtime.listen.stt import SttOptions, WhisperSTT

    hub = VadHub(SileroModel(settings.vad_model_path), observe_lag=metrics.vad_lag.observe_many)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper-stt")

    def whisper(model: str, label: str) -> WhisperSTT:
        return WhisperSTT(SttOptions(
            model=model, device=settings.stt_device,
            compute_type=settings.stt_compute_type, cpu_threads=settings.stt_cpu_threads,
            beam_size=settings.stt_beam_size, window_s=settings.stt_window_s,
            language=settings.stt_language,
            no_speech_threshold=settings.stt_no_speech_threshold), label=label, executor=worker)

    english = whisper(settings.stt_model, settings.stt_model or "tiny.en")
    multilingual = None
    name = settings.stt_multilingual_model
    if name != "none":
        if not name:
            from realtime.listen.models import ensure_multilingual_whisper

            path = ensure_multilingual_whisper(Path(settings.storage_dir) / "models")
            name = str(path) if path is not None else ""
            label = "base"
        else:
            label = Path(name).name or name
        if name:
            multilingual = whisper(name, label)
    return hub, SpeechRouter(english, multilingual, executor=worker)


def build_smart_turn(settings: Settings):
    """The end-of-turn model, or None (sessions then end turns on a fixed silence)."""
    try:
        from realtime.listen.smart_turn import SmartTurnModel

        return SmartTurnModel(settings.smart_turn_model_path)
    except Exception as exc:  # noqa: BLE001 - semantic_vad falls back to server_vad
        log.warning("end-of-turn model unavailable (%s): turns end on silence", exc)
        return None


def context_lengths(settings: Settings) -> dict[str, int]:
    """Context length per model: AVATAR_CONTEXT_TOKENS, else the embedded server's n_ctx (for the
    embedded model), else the model's ``context_length`` in ``llm_models``."""
    out = {m.id: m.context_length for m in settings.llm_models}
    if settings.embedded_llm:
        out[settings.llm_default_model] = settings.llm_embedded_ctx
    if settings.context_tokens > 0:
        out = {k: settings.context_tokens for k in out}
    return out


def build_memory(settings: Settings, llm: LLM, metrics: Metrics, llm_url: str | None):
    short = build_short_term(settings)
    long = build_long_term(settings)
    outbox = Outbox(Path(settings.storage_dir) / "outbox.sqlite3", long,
                    max_ops=settings.outbox_max_ops, metrics=metrics)
    vocab = None  # the embedded model's tokenizer runs here, never on the server's one slot
    if settings.embedded_llm:
        from realtime.engines.llm.llama_server import default_model_path

        vocab = settings.llm_embedded_model_path or default_model_path()
    counter = TokenCounter(llm_url or None, settings.llm_default_model, vocab_path=vocab)
    context = ContextManager(
        llm, counter, short, model=settings.llm_default_model,
        context_tokens=context_lengths(settings), margin=settings.context_margin_tokens,
        summarize_ratio=settings.context_summarize_ratio, keep_ratio=settings.context_keep_ratio,
        summary_max_tokens=settings.context_summary_max_tokens, metrics=metrics)
    memory = Memory(short, long, outbox, context, context_ttl_s=settings.context_ttl_s)
    limits = Limits(short, max_sessions=settings.max_concurrent_sessions,
                    heartbeat_s=settings.session_heartbeat_s,
                    rate_per_minute=settings.rate_limit_per_minute, metrics=metrics)
    return memory, limits, counter


@dataclass
class Services:
    settings: Settings
    llm: LLM
    tts: TTSRouter
    engine: TurnEngine
    metrics: Metrics
    llama: LlamaServerProcess | None = None
    vad_hub: object | None = None  # realtime.listen.hub.VadHub
    stt: object | None = None  # realtime.listen.routing.SpeechRouter
    smart_turn: object | None = None  # realtime.listen.smart_turn.SmartTurnModel
    listen_error: str | None = None
    memory: Memory | None = None
    limits: Limits | None = None
    counter: TokenCounter | None = None
    gpu: GpuClient | None = None  # gpu_host: live signals, the conversation plan, modes, VRAM
    live: LiveWork = field(default_factory=LiveWork)  # background CPU work pauses while held
    heap: HeapTrimmer | None = None  # free heap pages back to the system when idle
    sessions: set = field(default_factory=set)
    _long_ready: asyncio.Event = field(default_factory=asyncio.Event)
    _background: list = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, llm: LLM | None = None,
              tts_engines: list[TTSEngine] | None = None, gpu: GpuClient | None = None,
              gpu_settings: GpuSettings | None = None) -> Services:
        llama = None
        if llm is None:
            base_url = settings.llm_base_url
            alias: dict[str, str] = {}
            if settings.embedded_llm:
                log_path = Path(settings.storage_dir) / "logs" / "llama-server.log"
                log_path.parent.mkdir(parents=True, exist_ok=True)
                llama = LlamaServerProcess(
                    settings.llm_embedded_model_path, port=settings.llm_embedded_port,
                    threads=settings.llm_embedded_threads, n_ctx=settings.llm_embedded_ctx,
                    model_alias=settings.llm_default_model, log_path=log_path,
                    nice=settings.llm_embedded_nice, quant=settings.llm_embedded_quant,
                    models_dir=Path(settings.storage_dir) / "models")
                base_url = llama.base_url
            llm = OpenAICompatLLM(
                base_url, api_key=settings.llm_api_key,
                connect_timeout_s=settings.llm_connect_timeout_s,
                first_token_timeout_s=settings.llm_first_token_timeout_s,
                idle_timeout_s=settings.llm_idle_timeout_s, model_alias=alias)
        gpu = gpu or build_gpu_client(settings.gpu_host_url, gpu_settings)  # gpu_host
        llm = GpuGatedLLM(llm, gpu)  # every LLM request waits for the conversation plan
        metrics = Metrics()
        llm = LLMScheduler(llm, settings.llm_background, metrics=metrics)  # live turns first
        tts = TTSRouter(tts_engines if tts_engines is not None else build_tts_engines(settings))
        live = LiveWork()
        engine = TurnEngine(settings, llm, tts, metrics, live=live)
        listen_error = None
        try:
            hub, stt = build_listening(settings, metrics)
        except Exception as exc:  # noqa: BLE001 - typed chat still works without listening
            log.error("voice input disabled: %s", exc)
            hub, stt, listen_error = None, None, str(exc)
        smart_turn = build_smart_turn(settings) if hub is not None else None
        memory, limits, counter = build_memory(settings, llm, metrics,
                                               llama.base_url if llama else settings.llm_base_url)
        return cls(settings, llm, tts, engine, metrics, llama=llama, vad_hub=hub, stt=stt,
                   smart_turn=smart_turn, listen_error=listen_error, memory=memory,
                   limits=limits, counter=counter, gpu=gpu, live=live)

    def live_signal(self, reason: str) -> None:
        """Live conversation is coming (speech began, a typed message, a session opened): the
        GPU goes to the conversation (gpu_host), background CPU work pauses (LiveWork)."""
        if self.gpu is not None:
            self.gpu.live_signal(reason)
        if reason != "session.connect":  # a connection alone is not work
            self.live.poke(reason)

    async def start(self) -> None:
        Path(self.settings.audio_dir).mkdir(parents=True, exist_ok=True)
        _one_blas_thread()
        await self.gpu.start()  # gpu_host: probe the GPU services, settle the conversation plan
        jobs = [self.tts.start()]
        if self.llama is not None:
            jobs.append(self.llama.start())
        if self.stt is not None:
            jobs.append(self._start_stt())
        jobs.append(self.memory.short.start())
        await asyncio.gather(*jobs)  # load TTS voices and Whisper while the LLM server boots
        await self.llm.start()
        await self._start_long_term()
        await self.memory.outbox.start()
        await self.counter.start()
        await self._warm_up()
        await self._warm_speech()
        if self.settings.heap_trim_interval_s > 0:  # (the warm-ups' garbage goes back now)
            self.heap = HeapTrimmer(self.live.subscribe, turn_ends=self.live.subscribe_turn_ends,
                                    min_interval_s=self.settings.heap_trim_interval_s,
                                    release=[self.tts.release_memory],
                                    observe=self.metrics.heap_trim.observe)
            await self.heap.start()

    async def _start_long_term(self) -> None:
        """Connect, create indexes and write the presets; a store that is down at start is
        retried in the background (history waits in the outbox meanwhile)."""
        async def attempt() -> None:
            await self.memory.long.start()
            await seed_presets(self.memory.long)
            self._long_ready.set()

        try:
            async with asyncio.timeout(self.settings.store_timeout_s * 5):
                await attempt()
            return
        except Exception as exc:  # noqa: BLE001
            log.warning("long-term store unavailable at start (%s); retrying in the background",
                        exc)

        async def retry() -> None:
            delay = 1.0
            while True:
                await asyncio.sleep(delay)
                try:
                    await attempt()
                    log.info("long-term store is up")
                    return
                except Exception as exc:  # noqa: BLE001
                    log.debug("long-term store still down: %s", exc)
                    delay = min(delay * 2, 10.0)

        self._background.append(asyncio.create_task(retry(), name="long-term-start"))

    async def _warm_speech(self) -> None:
        """Run the voice path once before the first user, so its one-off allocations (the
        cross-session VAD graph, the end-of-turn model, each TTS engine's first synthesis and
        resampler) happen now: memory stays flat from the first turn on."""
        import numpy as np

        from realtime.pipeline.audio import StreamResampler

        if self.vad_hub is not None:
            model = self.vad_hub.model
            states = [model.new_state(), model.new_state()]
            await asyncio.to_thread(model.probs_batch, states, np.zeros((2, 512), np.float32))
        if self.smart_turn is not None:
            await self.smart_turn.probability(np.zeros(16000, np.float32))
        for language, text in (("en", "Hello."), ("ko", "안녕하세요.")):
            try:
                engine, voice = self.tts.pick(language)
                if engine.name not in ("piper", "espeak"):
                    continue  # a remote engine's memory is not this process's
                async for chunk in engine.synthesize(text, language=language, voice=voice):
                    StreamResampler(chunk.sample_rate, self.settings.output_sample_rate
                                    ).push(chunk.pcm)
            except Exception as exc:  # noqa: BLE001 - a remote engine may be down at start
                log.info("TTS warm-up (%s) skipped: %s", language, exc)

    async def _warm_up(self) -> None:
        """One tiny request with the default persona, so the first user turn finds the prompt
        in the server's cache (the embedded model otherwise spends ~1 s reading it)."""
        from realtime.engines.llm.base import ChatRequest, StreamStats
        from realtime.pipeline.persona import build_system_prompt, default_character

        character = default_character()
        request = ChatRequest(messages=[
            {"role": "system", "content": build_system_prompt(character)},
            {"role": "user", "content": "Hi"}], model=self.settings.llm_default_model,
            temperature=0.0, max_tokens=1)
        stream = self.llm.stream(request, StreamStats())
        try:
            async with asyncio.timeout(self.settings.llm_first_token_timeout_s):
                async for _ in stream:
                    pass
        except Exception as exc:  # noqa: BLE001 - a cold cache is not fatal
            log.info("LLM warm-up skipped: %s", exc)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _start_stt(self) -> None:
        try:
            try:
                await self.stt.start()
            except Exception as exc:  # noqa: BLE001 - the multilingual model alone failed
                if not self.stt.started:
                    raise
                log.error("multilingual speech-to-text failed to load (English only): %s", exc)
            # the first decode is slower (allocations); pay it now, on low noise (not "quiet")
            noise = np.random.default_rng(0).normal(0, 0.01, 16000).astype(np.float32)
            for model in self.stt.models:
                await model.transcribe(noise)
        except Exception as exc:  # noqa: BLE001 - typed chat still works without listening
            log.error("speech-to-text failed to load, voice input disabled: %s", exc)
            self.listen_error = str(exc)
            self.stt = None

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        if self.heap is not None:
            await self.heap.aclose()
        with contextlib.suppress(Exception):
            await self.memory.outbox.close()
        for closer in (self.memory.long.close, self.memory.short.close, self.counter.aclose):
            with contextlib.suppress(Exception):
                await closer()
        with contextlib.suppress(Exception):
            await self.llm.aclose()
        if self.llama is not None:
            await self.llama.stop()
        await self.tts.aclose()
        if self.stt is not None:
            with contextlib.suppress(Exception):
                await self.stt.aclose()
        if self.vad_hub is not None:
            self.vad_hub.close()
        if self.smart_turn is not None:
            self.smart_turn.close()
        with contextlib.suppress(Exception):
            await self.gpu.aclose()  # gpu_host

    async def health(self) -> dict[str, object]:
        timeout = self.settings.health_timeout_s

        async def llm_ok() -> str:
            try:
                return "healthy" if await asyncio.wait_for(self.llm.health(), timeout) \
                    else "unhealthy"
            except Exception:  # noqa: BLE001
                return "unhealthy"

        llm_status, tts_status = await asyncio.gather(llm_ok(), self.tts.health(timeout))
        if not self.settings.voice_enabled:
            stt_status = "disabled"
        elif self.stt is None or self.vad_hub is None:
            stt_status = "unavailable"
        else:
            stt_status = "healthy" if getattr(self.stt, "started", True) else "unhealthy"
        short_ok, long_ok = await asyncio.gather(self.memory.short.ping(),
                                                 self.memory.long.ping())
        return {"llm": llm_status, "tts": tts_status, "stt": stt_status,
                "short_term_store": f"{self.memory.short.name}: "
                                    f"{'healthy' if short_ok else 'unhealthy'}",
                "long_term_store": f"{self.memory.long.name}: "
                                   f"{'healthy' if long_ok else 'unhealthy'}",
                "outbox_pending": self.memory.outbox.pending}
