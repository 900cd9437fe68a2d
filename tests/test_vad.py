"""Streaming VAD (Silero v6 on onnxruntime) on real synthesized speech: events, audio, options."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.listen.silero import CONTEXT, SAMPLE_RATE, WINDOW, SileroModel
from realtime.listen.vad import StreamingVad, Utterance, VadEvent, VadOptions, feed_many
from tests.speech import espeak_16k, piper_16k

SR = SAMPLE_RATE
MS = SR // 1000  # samples per ms
FRAME = 320  # 20 ms
TEXT_1 = "Hello there, could you tell me what the weather is like today?"
TEXT_2 = "Thanks, that is all I needed."


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def model() -> SileroModel:
    return SileroModel()


def _truth(audio: np.ndarray) -> tuple[float, float]:
    """Speech onset/offset (ms) of a clean clip: 10 ms frames above 3% of the peak RMS."""
    f = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((f.astype(np.float64) ** 2).mean(axis=1))
    idx = np.flatnonzero(rms > 0.03 * rms.max())
    return idx[0] * 10.0, (idx[-1] + 1) * 10.0


@pytest.fixture(scope="module")
def speech(piper_voice) -> list[np.ndarray]:
    """Two Piper (joe, en-US) utterances at 16 kHz, float32 at half scale."""
    voice = piper_voice
    return [0.5 * a / np.abs(a).max() for a in (piper_16k(voice, t) for t in (TEXT_1, TEXT_2))]


def _noise(n: int, kind: str, level: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    if kind == "brown":  # integrated white noise, DC/drift removed (a low rumble)
        x = np.cumsum(x)
        x = x - np.convolve(x, np.ones(801) / 801, mode="same")
    return (x / x.std() * level).astype(np.float32)


def _signal(speech: list[np.ndarray], noise: str | None = None, level: float = 0.005):
    """1 s silence + u1 + 1 s silence + u2 + 1 s silence, and each utterance's true (on, off) ms."""
    sil = np.zeros(SR, np.float32)
    parts, truths, t = [], [], 0
    for u in speech:
        parts += [sil, u]
        on, off = _truth(u)
        truths.append((t / MS + 1000 + on, t / MS + 1000 + off))
        t += len(sil) + len(u)
    sig = np.concatenate([*parts, sil])
    if noise:
        sig = sig + _noise(len(sig), noise, level)
    return sig.astype(np.float32), truths


def _run(model, sig, frame=FRAME, options: VadOptions | None = None, vad=None):
    """Feed ``sig`` in ``frame``-sample chunks; returns [(position_ms when emitted, item)]."""
    vad = vad or StreamingVad(model, options)
    out = []
    for i in range(0, len(sig), frame):
        out += [(vad.position_ms, e) for e in vad.feed(sig[i:i + frame])]
    return out


def _key(items):
    """What must not depend on chunking: event kinds/times, utterance spans/audio/flags."""
    k = []
    for _, e in items:
        if isinstance(e, VadEvent):
            k.append((e.kind, e.t_ms))
        else:
            k.append(("utterance", e.start_ms, e.end_ms, e.forced, e.audio.tobytes()))
    return k


def _kinds(items):
    return [e.kind if isinstance(e, VadEvent) else "utterance" for _, e in items]


def _sl(sig, start_ms, end_ms):
    return sig[round(start_ms * MS):round(end_ms * MS)]


# ---------------------------------------------------------------------------------- the model
def test_model_graph_io(model: SileroModel) -> None:
    ins = {i.name: i.shape for i in model._session.get_inputs()}
    outs = {o.name: o.shape for o in model._session.get_outputs()}
    assert model.path.name == "silero_vad_v6.onnx" and model.path.parent.name == "assets"
    assert ins["input"][1] == CONTEXT + WINDOW == 576
    assert ins["h"] == ins["c"] == outs["hn"] == outs["cn"] == [1, 1, 128]
    assert set(outs) == {"speech_probs", "hn", "cn"}


def test_probs_sequence_and_cross_session_batch_equal_single_steps(model, speech) -> None:
    n = 40
    streams = [speech[0][: n * WINDOW], speech[1][: n * WINDOW],
               _noise(n * WINDOW, "white", 0.01)]
    wins = [s.reshape(n, WINDOW) for s in streams]
    # reference: one window per call
    ref = np.zeros((len(wins), n), np.float32)
    for k, w in enumerate(wins):
        st = model.new_state()
        for t in range(n):
            ref[k, t] = model.probs(st, w[t])[0]
    assert ref[0].max() > 0.9 and ref[2].max() < 0.2  # speech vs noise
    # all windows of a stream in one run
    for k, w in enumerate(wins):
        st = model.new_state()
        np.testing.assert_allclose(model.probs(st, w[:7]), ref[k, :7], atol=1e-6)
        np.testing.assert_allclose(model.probs(st, w[7:]), ref[k, 7:], atol=1e-6)
    # one window of each stream per run
    assert model.cross_session_batching  # onnx is a declared dependency: the batched graph
    states = [model.new_state() for _ in wins]
    got = np.stack([model.probs_batch(states, np.stack([w[t] for w in wins])) for t in range(n)],
                   axis=1)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    with pytest.raises(ValueError):
        model.probs_batch([states[0], states[0]], np.zeros((2, WINDOW), np.float32))


# --------------------------------------------------------------------------- the two-utterance run
@pytest.mark.parametrize("noise", [None, "white", "brown"])
def test_two_utterances(model, speech, noise) -> None:
    sig, truths = _signal(speech, noise)
    clean = _signal(speech)[0]
    opts = VadOptions()
    items = _run(model, sig, options=opts)
    assert _kinds(items) == ["speech_started", "speech_stopped", "utterance"] * 2
    for u in range(2):
        (_, start), (emitted, stop), (_, utt) = items[3 * u: 3 * u + 3]
        on, off = truths[u]
        assert abs(start.t_ms - on) <= 150, (start, on)
        assert off - 150 <= stop.t_ms <= off + 250, (stop, off)
        # the end of turn is announced end_silence_ms after the silence began (window/frame grid)
        assert opts.end_silence_ms <= emitted - stop.t_ms <= opts.end_silence_ms + 32 + 20
        assert isinstance(utt, Utterance) and not utt.forced
        assert utt.audio.dtype == np.float32
        assert utt.start_ms == pytest.approx(start.t_ms - opts.pre_roll_ms)
        assert utt.end_ms == pytest.approx(stop.t_ms + opts.post_roll_ms)
        # the utterance is exactly the input between its bounds and holds the whole speech
        np.testing.assert_array_equal(utt.audio, _sl(sig, utt.start_ms, utt.end_ms))
        assert utt.start_ms <= on - 100 and utt.end_ms >= off
        expect_ms = (off - on) + opts.pre_roll_ms + opts.post_roll_ms
        assert abs(len(utt.audio) / MS - expect_ms) <= 300
        # ... all of its energy (measured on the clean signal)
        got, whole = _sl(clean, utt.start_ms, utt.end_ms), _sl(clean, on - 50, off + 50)
        energy = [np.square(x, dtype=np.float64).sum() for x in (got, whole)]
        assert energy[0] >= 0.999 * energy[1]


@pytest.mark.parametrize("kind", ["zeros", "white", "brown"])
def test_silence_or_noise_alone_gives_nothing(model, kind) -> None:
    sig = np.zeros(4 * SR, np.float32) if kind == "zeros" else _noise(4 * SR, kind, 0.01)
    vad = StreamingVad(model)
    assert _run(model, sig, vad=vad) == []
    assert not vad.speaking and vad.commit() is None
    assert vad.position_ms == pytest.approx(4000)


def test_too_short_speech_starts_nothing(model, speech) -> None:
    on, _ = _truth(speech[0])
    blip = speech[0][round(on * MS): round(on * MS) + 150 * MS]  # 150 ms of "Hello"
    sig = np.concatenate([np.zeros(SR, np.float32), blip, np.zeros(SR, np.float32)])
    assert _run(model, sig) == []  # min_speech_ms = 250
    short = _run(model, sig, options=VadOptions(min_speech_ms=64))
    assert _kinds(short) == ["speech_started", "speech_stopped", "utterance"]


# ------------------------------------------------------------------------------------ input
def test_int16_input_is_scaled(model, speech) -> None:
    sig, truths = _signal(speech, "white")
    pcm = np.round(np.clip(sig, -1, 1) * 32767).astype(np.int16)
    as_int = _run(model, pcm)
    as_float = _run(model, pcm.astype(np.float32) / 32768.0)
    assert _key(as_int) == _key(as_float)  # int16 is exactly x / 32768
    ref = _run(model, sig)
    assert _kinds(as_int) == _kinds(ref) == ["speech_started", "speech_stopped", "utterance"] * 2
    for (_, a), (_, b) in zip(as_int, ref):
        if isinstance(a, VadEvent):
            assert abs(a.t_ms - b.t_ms) <= 32
        else:
            assert np.abs(a.audio).max() <= 1.0
            n = min(len(a.audio), len(b.audio))
            assert a.start_ms == b.start_ms
            np.testing.assert_allclose(a.audio[:n], b.audio[:n], atol=2e-4)
    with pytest.raises(TypeError):
        StreamingVad(model).feed(pcm.astype(np.int32))


def test_chunking_does_not_change_anything(model, speech) -> None:
    sig, _ = _signal(speech, "white")
    ref = _key(_run(model, sig, frame=FRAME))
    assert len(ref) == 6
    assert _key(_run(model, sig, frame=1600)) == ref  # 100 ms frames
    assert _key(_run(model, sig, frame=len(sig))) == ref  # all at once
    rng = np.random.default_rng(3)
    vad, items, i = StreamingVad(model), [], 0
    while i < len(sig):  # ragged chunks, some empty, some shorter than a window
        n = int(rng.integers(0, 2500))
        items += [(0.0, e) for e in vad.feed(sig[i:i + n])]
        i += n
    assert _key(items) == ref


def test_feed_many_equals_separate_feeds(model, speech) -> None:
    sigs = [_signal(speech)[0], _signal(speech, "brown")[0],
            _noise(len(_signal(speech)[0]) - 7000, "white", 0.01)]
    ref = [_key(_run(model, s)) for s in sigs]
    vads = [StreamingVad(model) for _ in sigs]
    got: list[list] = [[] for _ in sigs]
    for i in range(0, max(len(s) for s in sigs), FRAME):
        items = [(v, s[i:i + FRAME]) for v, s in zip(vads, sigs)]
        for k, evs in enumerate(feed_many(items)):
            got[k] += [(0.0, e) for e in evs]
    assert [_key(g) for g in got] == ref
    assert len(ref[0]) == len(ref[1]) == 6 and ref[2] == []
    with pytest.raises(ValueError):
        feed_many([(vads[0], sigs[0][:FRAME]), (vads[0], sigs[0][:FRAME])])


# ----------------------------------------------------------------------------- commit / clear
def test_commit_mid_speech(model, speech) -> None:
    sig, (truth, _) = _signal(speech)
    on, off = truth
    cut = round((on + 1500) * MS) + 123  # mid-speech, not on a window boundary
    vad = StreamingVad(model)
    items = _run(model, sig[:cut], vad=vad)
    assert _kinds(items) == ["speech_started"] and vad.speaking
    utt = vad.commit()
    assert utt is not None and not utt.forced and not vad.speaking
    assert utt.end_ms == pytest.approx(vad.position_ms) == pytest.approx(cut / MS)
    assert utt.start_ms == pytest.approx(items[0][1].t_ms - 300)
    np.testing.assert_array_equal(utt.audio, sig[round(utt.start_ms * MS):cut])
    assert vad.commit() is None
    # the speaker goes on: a new utterance, which never reaches back before the commit
    rest = _run(model, sig[cut:round((off + 1000) * MS)], vad=vad)
    assert _kinds(rest) == ["speech_started", "speech_stopped", "utterance"]
    assert rest[2][1].start_ms >= utt.end_ms


def test_commit_before_min_speech(model, speech) -> None:
    sig, ((on, _), _) = _signal(speech)
    cut = round((on + 150) * MS)  # speech began, but not yet min_speech_ms of it
    vad = StreamingVad(model)
    assert _run(model, sig[:cut], vad=vad) == [] and not vad.speaking
    utt = vad.commit()  # push-to-talk: the short speech still comes back
    assert utt is not None and utt.end_ms == pytest.approx(cut / MS)
    assert utt.start_ms <= on - 200
    np.testing.assert_array_equal(utt.audio, sig[round(utt.start_ms * MS):cut])


def test_clear_drops_the_utterance(model, speech) -> None:
    sig, (_, (on2, _)) = _signal(speech)
    cut = round((on2 + 800) * MS)  # inside the second utterance
    vad = StreamingVad(model)
    first = _run(model, sig[:cut], vad=vad)
    assert _kinds(first) == ["speech_started", "speech_stopped", "utterance", "speech_started"]
    vad.clear()
    assert not vad.speaking and vad.commit() is None
    silence = np.zeros(2 * SR, np.float32)
    assert _run(model, silence, vad=vad) == []  # no stop and no utterance for what was cleared
    after = _run(model, np.concatenate([speech[0], silence]), vad=vad)
    assert _kinds(after) == ["speech_started", "speech_stopped", "utterance"]
    assert after[2][1].start_ms >= cut / MS  # nothing from before clear() leaks in


# ------------------------------------------------------------------------- limits and memory
def test_max_utterance_forces_end(model, speech) -> None:
    sig, truths = _signal(speech)
    opts = VadOptions(max_utterance_s=1.0)
    items = _run(model, sig, options=opts)
    utts = [e for _, e in items if isinstance(e, Utterance)]
    assert sum(u.forced for u in utts) >= 3  # both utterances are longer than 1 s
    for (_, prev), (_, e) in zip(items, items[1:]):
        if isinstance(e, Utterance):  # every utterance is announced by speech_stopped
            assert isinstance(prev, VadEvent) and prev.kind == "speech_stopped"
            if e.forced:
                assert prev.t_ms == e.end_ms
    for u in utts:
        assert len(u.audio) <= opts.max_utterance_s * SR
        np.testing.assert_array_equal(u.audio, _sl(sig, u.start_ms, u.end_ms))
    for a, b in zip(utts, utts[1:]):
        assert b.start_ms >= a.end_ms
    # a forced end and the next start are seamless while the speaker keeps talking
    first = utts[0]
    assert first.forced and first.start_ms == pytest.approx(truths[0][0], abs=150 + 300)
    assert utts[1].start_ms == first.end_ms
    assert not _run(model, np.zeros(SR, np.float32))  # sanity: fresh session, silence


def test_memory_is_bounded(model, speech) -> None:
    opts = VadOptions(max_utterance_s=2.0)
    vad = StreamingVad(model, opts)
    noise = _noise(30 * SR, "white", 0.01)
    _run(model, noise, frame=8000, vad=vad)
    cap = round(opts.pre_roll_ms * MS) + 8 * WINDOW  # pre-roll + a min_speech_ms run
    assert len(vad._ring) <= cap
    talk = np.concatenate([speech[0]] * 4)  # ~12 s of speech, no pause long enough to end
    for i in range(0, len(talk), 4000):
        vad.feed(talk[i:i + 4000])
        assert sum(map(len, vad._utt)) <= opts.max_utterance_s * SR
        assert len(vad._ring) <= cap and len(vad._partial) < WINDOW


def test_configure_mid_stream_changes_pre_roll_and_end_of_turn(model, speech) -> None:
    """New options (OpenAI's turn_detection, set mid-session) apply from the next window: a
    longer end-of-turn silence joins the two utterances across their 1 s gap, and a pre-roll
    longer than the history kept so far grows it (the utterance reaches further back)."""
    import dataclasses

    sig, truths = _signal(speech)
    vad = StreamingVad(model)
    head = _run(model, sig[:SR // 2], vad=vad)  # half a second of silence
    assert head == []
    opts = dataclasses.replace(vad.options, end_silence_ms=1500, pre_roll_ms=1000)
    vad.configure(opts)
    tail = np.zeros(SR, np.float32)  # (the signal ends with 1 s of silence: 1.5 s are needed)
    items = _run(model, np.concatenate([sig[SR // 2:], tail]), vad=vad)
    assert _kinds(items) == ["speech_started", "speech_stopped", "utterance"]
    (_, start), (emitted, stop), (_, utt) = items
    assert abs(start.t_ms - truths[0][0]) <= 150 and truths[1][1] - 150 <= stop.t_ms
    assert opts.end_silence_ms <= emitted - stop.t_ms <= opts.end_silence_ms + 32 + 20
    assert utt.start_ms == pytest.approx(start.t_ms - 1000)
    np.testing.assert_array_equal(utt.audio, _sl(sig, utt.start_ms, utt.end_ms))


def test_options() -> None:
    assert VadOptions().negative == pytest.approx(0.35)
    assert VadOptions(threshold=0.6, neg_threshold=0.5).negative == 0.5
    for bad in (dict(threshold=0), dict(threshold=0.5, neg_threshold=0.6),
                dict(end_silence_ms=-1), dict(max_utterance_s=0.1)):
        with pytest.raises(ValueError):
            VadOptions(**bad)


# ------------------------------------------------------------------- another voice: espeak-ng
async def test_espeak_int16_speech(model) -> None:
    pcm = await espeak_16k("Good morning, how are you today?")
    on, off = _truth(pcm.astype(np.float32) / 32768)
    sil = np.zeros(SR, np.int16)
    items = _run(model, np.concatenate([sil, pcm, sil]))
    assert _kinds(items) == ["speech_started", "speech_stopped", "utterance"]
    assert abs(items[0][1].t_ms - (1000 + on)) <= 150
    assert abs(items[1][1].t_ms - (1000 + off)) <= 250
