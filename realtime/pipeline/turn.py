"""The turn engine: LLM tokens -> sentences -> TTS audio + visemes + animation, streamed.

Three tasks per response in one ``TaskGroup`` (started and cut only by ``realtime.pipeline.floor``):

    generate ──sentences──▶ synthesize ──audio items (bounded 2)──▶ send

so sentence n+1 synthesises while n is being sent, and audio leaves in frames of at most
``audio_chunk_ms`` as soon as it exists. Every model call runs in a worker thread or over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np

from realtime.config import Settings
from realtime.engines.llm.base import LLM, ChatRequest, LLMError, StreamStats
from realtime.engines.tts.base import PhonemeTiming, TTSError
from realtime.engines.tts.router import TTSRouter
from realtime.pipeline.audio import StreamResampler, frames
from realtime.pipeline.chunker import SentenceChunker
from realtime.pipeline.live import LiveWork
from realtime.pipeline.response import Response, SentenceRecord, Sink
from realtime.pipeline.tags import Tag, TagFilter
from realtime.pipeline.visemes import fit_phonemes_to_audio, phonemes_to_visemes
from realtime.protocol.messages import (
    Animation, AudioDone, ErrorMsg, ResponseDone, ResponseInterrupted, ResponseStarted,
    SentenceMsg, TextDelta, VisemesMsg,
)

log = logging.getLogger(__name__)


class _SpeechCap(Exception):
    """The spoken-length cap was reached: stop generating, keep what was said."""


@dataclass(slots=True)
class _Audio:
    sentence: int
    pcm: np.ndarray  # int16 at the output rate
    phonemes: list[PhonemeTiming] | None  # sentence-relative; sent before this audio
    first_of_sentence: bool
    late_phonemes: list[PhonemeTiming] | None = None  # fitted after the sentence's audio


class TurnEngine:
    def __init__(self, settings: Settings, llm: LLM, tts: TTSRouter, metrics=None,
                 live: LiveWork | None = None) -> None:
        self.settings = settings
        self.live = live or LiveWork()  # held while a turn runs: background CPU work pauses
        self.llm = llm
        self.tts = tts
        self.metrics = metrics
        self.rate = settings.output_sample_rate

    # ------------------------------------------------------------------ entry point
    async def run(self, resp: Response, sink: Sink, rate: int | None = None) -> None:
        """Run one response to its end: ``response.started``, its prompt, the three stages,
        then (never cancelled) keep the turn and send its last events. Never raises, except to
        pass on a cancellation that did not come from a cut (the session or server is going
        away), and then only after the response has ended and been kept."""
        with self.live.hold():
            await self._run(resp, sink, rate)

    async def _run(self, resp: Response, sink: Sink, rate: int | None) -> None:
        rate = rate or self.rate
        tags: dict[int, list[Tag]] = {}
        talk = {"started": False, "opened": False}  # talk_start sent; response.started sent
        foreign_cancel = False
        try:
            if resp.after is not None:
                await resp.after.wait()  # the response this one cut sends its done first
            talk["opened"] = True
            await sink.json(self._started(resp))
            if resp.cut_reason is None:  # (cut while it waited: nothing to produce)
                resp.phase = "producing"
                await self._produce(resp, sink, tags, talk, rate)
                resp.status = "completed"
        except asyncio.CancelledError:
            if resp.cut_reason is None:  # not a cut: whoever cancelled is going away
                foreign_cancel = True
                resp.mark_cut("closed", time.perf_counter())
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        except BaseExceptionGroup as eg:
            self._classify(resp, eg)
        except Exception as exc:  # noqa: BLE001 - the prompt could not be built
            self._classify(resp, BaseExceptionGroup("prepare", [exc]))
        resp.phase = "finishing"
        if resp.cut_reason is not None:
            resp.status = "interrupted"
        resp.generation_done.set()
        try:
            await asyncio.shield(self._finish(resp, sink, talk, rate))
        except asyncio.CancelledError:
            foreign_cancel = True  # the finish goes on; whoever cancelled need not wait
        if foreign_cancel:
            raise asyncio.CancelledError

    async def _produce(self, resp: Response, sink: Sink, tags: dict[int, list[Tag]],
                       talk: dict[str, bool], rate: int) -> None:
        spec = resp.spec
        if resp.prepare is not None:
            await resp.prepare(resp)
        sentence_q: asyncio.Queue[int | None] = asyncio.Queue()
        speaking = spec.tts_enabled and (spec.tts_mode != "on_click" or spec.speak_sentences)
        async with asyncio.TaskGroup() as tg:
            if spec.speak_sentences is None:
                tg.create_task(self._generate(resp, sink, sentence_q, tags, speaking))
            else:
                for text in spec.speak_sentences:
                    resp.sentences.append(SentenceRecord(len(resp.sentences), text))
                    await sentence_q.put(len(resp.sentences) - 1)
                resp.text_parts.append("".join(spec.speak_sentences))
                resp.generation_done.set()
                await sentence_q.put(None)
            if speaking:
                audio_q: asyncio.Queue[_Audio | None] = asyncio.Queue(maxsize=2)
                tg.create_task(self._synthesize(resp, sentence_q, audio_q, rate))
                tg.create_task(self._send(resp, sink, audio_q, tags, talk, rate))

    @staticmethod
    def _started(resp: Response) -> ResponseStarted:
        return ResponseStarted(
            response_id=resp.id, source=resp.spec.source, utterance_id=resp.spec.utterance_id,
            tts_enabled=resp.spec.tts_enabled, tts_mode=resp.spec.tts_mode)

    def _classify(self, resp: Response, eg: BaseExceptionGroup) -> None:
        _, rest = eg.split(_SpeechCap)
        if rest is None:  # only the spoken-length cap: a complete (truncated) answer
            resp.status = "completed"
            return
        first = next(iter(_leaves(eg)))
        code = getattr(first, "code", "GENERATION_FAILED")
        if not isinstance(first, (LLMError, TTSError)):
            log.exception("response %s crashed", resp.id, exc_info=first)
            code = "INTERNAL_ERROR"
        resp.status = "failed"
        resp.error = {"code": code, "message": str(first)[:500]}

    async def _finish(self, resp: Response, sink: Sink, talk: dict[str, bool], rate: int) -> None:
        """Keep the turn, then send its last events, each exactly once. Runs shielded: a cut
        arriving now is recorded by the Floor and honoured here (before the events are sealed)
        or announced by the Floor (after)."""
        resp.mark("done")
        t = resp.timings
        if t.first_audio_sent is not None:
            # voice: the part of the STT time not hidden in the end-of-turn silence is engine time
            stt = min(t.stt_done, t.stt_ms or 0.0) if t.stt_done is not None else 0.0
            t.overhead_ms = round(t.first_audio_sent - stt - t.llm_wait_ms - t.tts_first_ms, 2)
            if t.endpoint_ms is not None:
                t.voice_to_voice_ms = round(t.endpoint_ms + t.first_audio_sent, 2)
        if resp.keeper is not None:  # kept first: even if the client is gone, and before
            try:                     # it hears "done"
                await resp.keeper.keep(resp)
                if resp.cut_reason is not None:  # cut while it was being kept
                    resp.status = "interrupted"
                    await resp.keeper.amend(resp)
            except Exception:  # noqa: BLE001 - the answer stands even if keeping it failed
                log.exception("keeping response %s failed", resp.id)
        resp.sealed = True  # from here a cut is announced by the Floor, after response.done
        events: list = [] if talk["opened"] else [self._started(resp)]
        if resp.cut_reason is not None:
            resp.status = "interrupted"
            events.append(ResponseInterrupted(
                response_id=resp.id, reason=resp.cut_reason, played_ms=resp.stop_ms,
                heard_text=resp.heard_text()))
        if resp.error:
            events.append(ErrorMsg(response_id=resp.id, **resp.error))
        if talk["started"]:
            end_ms = round(resp.samples_sent * 1000.0 / rate, 1)
            events.append(AudioDone(response_id=resp.id, total_samples=resp.samples_sent,
                                    duration_ms=end_ms, truncated=resp.truncated))
            if resp.stop_ms is not None:  # cut: the mouth closes where playback stopped
                end_ms = min(end_ms, resp.stop_ms)
            events.append(Animation(response_id=resp.id, t_ms=end_ms, action="talk_end"))
        events.append(ResponseDone(
            response_id=resp.id, status=resp.status, text=resp.text, timings=t, usage=resp.usage,
            error=resp.error, message_id=resp.message_id if resp.text else None,
            user_message_id=resp.user_message_id, context_summarized=resp.context_summarized,
            context_tokens=resp.context_tokens))
        if self.metrics is not None:
            self.metrics.observe_response(resp)
        try:
            for event in events:
                await sink.json(event)
        except Exception as exc:  # noqa: BLE001 - the client is gone; the turn is kept
            log.debug("response %s: last events not delivered (%s)", resp.id, exc)
        finally:
            resp.phase = "ended"
            resp.finished.set()

    # ------------------------------------------------------------------ stage 1: LLM
    async def _generate(self, resp: Response, sink: Sink, out: asyncio.Queue[int | None],
                        tags: dict[int, list[Tag]], speaking: bool) -> None:
        spec, s = resp.spec, self.settings
        chunker = SentenceChunker(spec.language, min_chars=s.chunk_min_chars,
                                  max_chars=s.chunk_max_chars, first_clause=s.chunk_first_clause,
                                  first_max_chars=s.chunk_first_max_chars)
        tag_filter = TagFilter()
        stats = StreamStats()
        request = ChatRequest(messages=spec.messages, model=spec.model,
                              temperature=spec.temperature,
                              max_tokens=min(spec.max_tokens, s.llm_max_tokens_limit))
        t_llm = time.perf_counter()

        fed = 0      # characters of spoken text given to the chunker
        emitted = 0  # characters already emitted as sentences
        pending: list[tuple[int, Tag]] = []  # tags by the text offset they precede

        async def emit(chunks: list[str]) -> None:
            nonlocal emitted
            for text in chunks:
                if not resp.sentences:
                    resp.mark("first_sentence")
                    resp.timings.llm_wait_ms = round((time.perf_counter() - t_llm) * 1000, 2)
                rec = SentenceRecord(len(resp.sentences), text)
                resp.sentences.append(rec)
                # a tag belongs to the sentence whose words follow it
                content_end = emitted + len(text.rstrip())
                while pending and pending[0][0] < content_end:
                    tags.setdefault(rec.index, []).append(pending.pop(0)[1])
                emitted += len(text)
                await sink.json(SentenceMsg(response_id=resp.id, index=rec.index, text=text))
                await out.put(rec.index)

        async def pieces(items: list[str | Tag]) -> None:
            nonlocal fed
            for item in items:
                if isinstance(item, Tag):
                    if speaking:
                        pending.append((fed, item))
                    else:
                        await sink.json(Animation(response_id=resp.id, t_ms=0.0,
                                                  action=item.kind, name=item.name))
                elif item:
                    resp.text_parts.append(item)
                    fed += len(item)
                    await sink.json(TextDelta(response_id=resp.id, delta=item))
                    await emit(chunker.push(item))

        stream = self.llm.stream(request, stats)
        try:
            async for delta in stream:
                resp.mark("llm_first_token")
                await pieces(tag_filter.push(delta))
        finally:
            await stream.aclose()  # closes the upstream HTTP stream on cancel, too
            resp.usage.prompt_tokens = stats.prompt_tokens if stats.prompt_tokens is not None \
                else resp.context_tokens  # the server's own count when the LLM sends none
            resp.usage.completion_tokens = stats.completion_tokens
            resp.timings.gpu_wait_ms = stats.gpu_wait_ms  # gpu_host (filled by GpuGatedLLM)
        await pieces(tag_filter.flush())
        await emit(chunker.flush())
        if not resp.sentences:
            raise LLMError("the model returned an empty reply")
        for _, tag in pending:  # tags after the last words: past every sentence, so the
            tags.setdefault(len(resp.sentences), []).append(tag)  # sender plays them at the end
        resp.generation_done.set()
        await out.put(None)

    # ------------------------------------------------------------------ stage 2: TTS
    async def _synthesize(self, resp: Response, inp: asyncio.Queue[int | None],
                          out: asyncio.Queue[_Audio | None], rate: int) -> None:
        spec = resp.spec
        if spec.tts_mode == "delayed" and not spec.speak_sentences:
            await resp.generation_done.wait()
            await asyncio.sleep(spec.tts_delay_ms / 1000.0)
        engine, voice = self.tts.pick(spec.language, spec.voice)
        while (index := await inp.get()) is not None:
            text = resp.sentences[index].text.strip()
            if not any(ch.isalnum() for ch in text):
                continue
            t_start = time.perf_counter()
            first = True
            resampler: StreamResampler | None = None
            collected: list[np.ndarray] = []
            aligned = False
            gen = engine.synthesize(text, language=spec.language, voice=voice, speed=spec.speed,
                                    streaming_mode=spec.tts_streaming_mode)
            try:
                async for chunk in gen:
                    if resp.timings.tts_first_audio is None:
                        resp.mark("tts_first_audio")
                        resp.timings.tts_first_ms = round((time.perf_counter() - t_start) * 1000, 2)
                    if resampler is None:
                        resampler = StreamResampler(chunk.sample_rate, rate)
                    pcm = resampler.push(chunk.pcm)
                    aligned = aligned or chunk.phonemes is not None
                    if not aligned:
                        collected.append(pcm)
                    await out.put(_Audio(index, pcm, chunk.phonemes, first))
                    first = False
            finally:
                await gen.aclose()
            if resampler is not None:
                tail = resampler.flush()
                late = None
                if not aligned:
                    collected.append(tail)
                    late = await asyncio.to_thread(self._fit, text, spec.language,
                                                   np.concatenate(collected), rate)
                await out.put(_Audio(index, tail, None, False, late_phonemes=late))
        await out.put(None)

    @staticmethod
    def _fit(text: str, language: str, pcm: np.ndarray, rate: int) -> list[PhonemeTiming]:
        from realtime.engines.tts.espeak import text_to_phonemes

        try:
            phonemes = text_to_phonemes(text, language)
        except Exception:  # noqa: BLE001 - fall back to letters: the mouth still moves
            phonemes = [c for c in text.lower() if c.isalpha()]
        return fit_phonemes_to_audio(phonemes, pcm, rate)

    # ------------------------------------------------------------------ stage 3: send
    async def _send(self, resp: Response, sink: Sink, inp: asyncio.Queue[_Audio | None],
                    tags: dict[int, list[Tag]], talk: dict[str, bool], rate: int) -> None:
        cap = int(self.settings.tts_max_speech_s * rate)
        step = max(1, rate * self.settings.audio_chunk_ms // 1000)
        chunk_index = 0
        while (item := await inp.get()) is not None:
            rec = resp.sentences[item.sentence]
            if item.first_of_sentence:
                rec.start_sample = resp.samples_sent
                start_ms = rec.start_sample * 1000.0 / rate
                if not talk["started"]:
                    talk["started"] = True
                    await sink.json(Animation(response_id=resp.id, t_ms=0.0, action="talk_start"))
                for i in sorted(k for k in tags if k <= item.sentence):
                    for tag in tags.pop(i):
                        await sink.json(Animation(response_id=resp.id, t_ms=round(start_ms, 1),
                                                  action=tag.kind, name=tag.name))
            sentence_ms = rec.start_sample * 1000.0 / rate
            phonemes = item.phonemes or item.late_phonemes
            if phonemes:
                vis = phonemes_to_visemes(phonemes, offset_ms=sentence_ms)
                limit = min(cap, rec.start_sample + rec.n_samples + len(item.pcm) + 1)
                vis = _clip_visemes(vis, limit * 1000.0 / rate)
                if vis:
                    await sink.json(VisemesMsg(response_id=resp.id, sentence_index=rec.index,
                                               visemes=vis))
            pcm = item.pcm
            if resp.samples_sent + len(pcm) > cap:
                pcm = pcm[: max(0, cap - resp.samples_sent)]
                resp.truncated = True
            for frame in frames(pcm, step):
                await sink.audio(resp.id, chunk_index, resp.samples_sent, frame)
                chunk_index += 1
                resp.samples_sent += len(frame)
                rec.n_samples += len(frame)
                resp.mark("first_audio_sent")
            if resp.truncated:
                raise _SpeechCap
        end_ms = round(resp.samples_sent * 1000.0 / rate, 1)
        for i in sorted(tags):  # tags that followed the last words: at the end
            for tag in tags.pop(i):
                await sink.json(Animation(response_id=resp.id, t_ms=end_ms, action=tag.kind,
                                          name=tag.name))


def _clip_visemes(vis: list[dict], end_ms: float) -> list[dict]:
    out = []
    for v in vis:
        if v["t_ms"] >= end_ms:
            break
        if v["t_ms"] + v["duration_ms"] > end_ms:
            v = {**v, "duration_ms": round(end_ms - v["t_ms"], 1)}
        out.append(v)
    return out


def _leaves(eg: BaseExceptionGroup):
    for e in eg.exceptions:
        if isinstance(e, BaseExceptionGroup):
            yield from _leaves(e)
        else:
            yield e
