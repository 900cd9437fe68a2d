"""Locust users of the avatar server (run headless by ``loadtest/run.py`` and ``loadtest/soak.py``).

Each WebSocket user makes visits of 3-8 turns (a session each), one after the other.

* ``WsTextUser``: a person typing in the web client: one WebSocket for the whole visit, a typed
  question (``input.text``), the answer streamed back; reads it for 2-5 s, asks again.
  Recorded: ``ws typed: first audio`` (question sent -> first audio frame received) and
  ``ws typed: done`` (-> ``response.done``).
* ``RestTextUser``: an API client: ``POST /api/chat`` (the whole answer, its audio synthesised),
  then 2-5 s. Recorded by Locust as ``REST /api/chat``.
* ``VoiceUser``: a person talking, open microphone: 20 ms PCM16 frames in real time for the whole
  visit (silence between questions, as a browser sends), a spoken question (Piper, 16 kHz), the
  answer; now and then (``LOAD_BARGE_IN`` of the turns) they ask for a story and speak over it.
  Recorded: ``voice: end of speech -> first audio``, ``voice: done``,
  ``voice: barge-in -> interrupted`` (speech onset -> ``response.interrupted``).

A turn whose ``response.done`` is not ``completed`` (or ``interrupted`` by the user's own
speech), an ``error`` event, a rejected transcript, a closed socket or a 60 s silence is a
failure. Every request is also appended to
``$LOAD_LOG`` (CSV: time, name, ms, ok, users) for the report's plot (``loadtest/report.py``).

Settings (environment): ``LOAD_MAX_TOKENS`` (60), ``LOAD_BARGE_IN`` (0.2), ``LOAD_STEPS``
("2,4,6": users per step; ``LoadShape``), ``LOAD_STEP_S`` (30), ``LOAD_LOG``.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import sys
import time
from collections import deque
from pathlib import Path

import gevent
import orjson
import websocket
from gevent.event import Event
from gevent.queue import Empty, Queue
from locust import HttpUser, LoadTestShape, User, between, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from speech import SR, interjection, questions, story  # noqa: E402

from realtime.protocol.messages import AUDIO_HEADER_BYTES  # noqa: E402

MAX_TOKENS = int(os.environ.get("LOAD_MAX_TOKENS", "60"))
BARGE_IN = float(os.environ.get("LOAD_BARGE_IN", "0.2"))
TIMEOUT_S = 60.0
VISIT_TURNS = (3, 8)  # turns per conversation, then the user leaves and another visit starts
FRAME = SR * 20 // 1000  # 20 ms at 16 kHz
SILENCE = bytes(FRAME * 2)
TYPED = ["Hi! How are you today?", "What is your favourite season?", "Tell me a fun fact.",
         "Can you recommend a good book?", "What should I cook tonight?",
         "Where would you like to travel?", "What makes you happy?", "Do you like music?"]


class TurnFailed(Exception):
    pass


def record(env, name: str, ms: float, exc: Exception | None = None, length: int = 0) -> None:
    env.events.request.fire(request_type="WS", name=name, response_time=ms,
                            response_length=length, exception=exc, context={})


class Conversation:
    """One /ws session: a reader greenlet queues what arrives (JSON or audio frames)."""

    def __init__(self, host: str) -> None:
        url = host.replace("http://", "ws://").replace("https://", "wss://") + "/ws"
        self.ws = websocket.create_connection(url, timeout=TIMEOUT_S, enable_multithread=True)
        self.inbox: Queue = Queue()
        self.reader = gevent.spawn(self._read)
        ready = self.next_json()
        if ready.get("type") != "session.ready":
            raise TurnFailed(f"no session.ready: {ready}")
        self.send({"type": "session.update", "max_tokens": MAX_TOKENS})
        self.expect("session.updated")

    def _read(self) -> None:
        try:
            while True:
                opcode, data = self.ws.recv_data()
                now = time.perf_counter()
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.inbox.put((now, orjson.loads(data)))
                elif opcode == websocket.ABNF.OPCODE_BINARY:
                    self.inbox.put((now, data))
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
        except Exception:  # noqa: BLE001 - closed or broken: the waiting task fails
            pass
        self.inbox.put((time.perf_counter(), None))

    def send(self, msg: dict) -> None:
        self.ws.send(orjson.dumps(msg).decode())

    def next(self, timeout: float = TIMEOUT_S) -> tuple[float, dict | bytes]:
        try:
            t, item = self.inbox.get(timeout=timeout)
        except Empty:
            raise TurnFailed(f"nothing for {timeout:g} s") from None
        if item is None:
            raise TurnFailed("the connection closed")
        if isinstance(item, dict) and item.get("type") == "error":
            raise TurnFailed(f"error {item.get('code')}: {item.get('message')}")
        return t, item

    def next_json(self) -> dict:
        while True:
            _, item = self.next()
            if isinstance(item, dict):
                return item

    def expect(self, type_: str) -> tuple[float, dict]:
        while True:
            t, item = self.next()
            if isinstance(item, dict) and item["type"] == type_:
                return t, item

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.reader.kill(block=False)


class WsUserBase(User):
    """A person's visits: one conversation (WebSocket session) of ``VISIT_TURNS`` turns, then a
    new one, so prompts stay as long as real visits make them (a run does not grow one endless
    conversation whose every turn re-reads a 2,000-token context on the CPU LLM)."""

    abstract = True

    def on_start(self) -> None:
        self.conv: Conversation | None = None
        self.turns_left = 0

    def on_stop(self) -> None:
        if self.conv is not None:
            self.conv.close()
            self.conv = None

    def connect(self) -> Conversation:
        if self.conv is not None and self.turns_left <= 0:
            self.on_stop()  # the visit is over; the next question starts another
        self.turns_left -= 1
        if self.conv is None:
            self.turns_left = random.randint(*VISIT_TURNS) - 1
            t0 = time.perf_counter()
            try:
                self.conv = Conversation(self.host)
            except Exception as exc:  # noqa: BLE001
                record(self.environment, "ws connect", (time.perf_counter() - t0) * 1000, exc)
                raise
        return self.conv

    def failed(self, name: str, t0: float, exc: Exception) -> None:
        record(self.environment, name, (time.perf_counter() - t0) * 1000, exc)
        self.on_stop()  # a fresh session for the next turn


class WsTextUser(WsUserBase):
    weight = 3
    wait_time = between(2, 5)

    @task
    def typed_turn(self) -> None:
        t0 = time.perf_counter()
        try:
            conv = self.connect()
            t0 = time.perf_counter()
            conv.send({"type": "input.text", "text": random.choice(TYPED)})
            first = None
            audio = 0
            while True:
                t, item = conv.next()
                if isinstance(item, bytes):
                    audio += len(item)
                    if first is None:
                        first = t
                        record(self.environment, "ws typed: first audio", (t - t0) * 1000)
                elif item["type"] == "response.done":
                    if item["status"] != "completed" or first is None:
                        raise TurnFailed(f"response {item['status']}: {item.get('error')}")
                    record(self.environment, "ws typed: done", (t - t0) * 1000, length=audio)
                    return
        except TurnFailed as exc:
            self.failed("ws typed: done", t0, exc)


class RestTextUser(HttpUser):
    weight = 1
    wait_time = between(2, 5)

    @task
    def chat(self) -> None:
        body = {"messages": [{"role": "user", "content": random.choice(TYPED)}],
                "max_tokens": MAX_TOKENS}
        with self.client.post("/api/chat", json=body, name="REST /api/chat", timeout=TIMEOUT_S,
                              catch_response=True) as r:
            if r.status_code != 200 or not r.json().get("success"):
                r.failure(f"{r.status_code}: {r.text[:200]}")
            elif not r.json()["data"].get("content"):
                r.failure("empty answer")


class Mic:
    """An open microphone: one 20 ms frame every 20 ms, silence unless something is said."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.frames: deque[tuple[bytes, Event | None, bool]] = deque()
        self.greenlet = gevent.spawn(self._run)

    def say(self, pcm, lead_s: float = 0.3, tail_s: float = 1.2) -> tuple[Event, list]:
        """Queue ``pcm`` (int16); returns an event set once its last voiced frame is sent, and a
        list receiving [first voiced frame's send time, last voiced frame's send time]."""
        done, times = Event(), []
        pcm = pcm.astype("<i2")
        frames = [SILENCE] * int(lead_s * 50)
        frames += [pcm[i:i + FRAME].tobytes().ljust(FRAME * 2, b"\0")
                   for i in range(0, len(pcm), FRAME)]
        voiced = range(int(lead_s * 50), len(frames))
        frames += [SILENCE] * int(tail_s * 50)
        for i, f in enumerate(frames):
            self.frames.append((f, (done, times) if i in voiced else None, i == voiced[-1]))
        return done, times

    def _run(self) -> None:
        t0 = time.perf_counter()
        for i in itertools.count():
            frame, mark, last = self.frames.popleft() if self.frames else (SILENCE, None, False)
            try:
                self.conv.ws.send_binary(frame)
            except Exception:  # noqa: BLE001 - the socket is gone
                return
            if mark is not None:
                done, times = mark
                now = time.perf_counter()
                if not times:
                    times.append(now)
                if last:
                    times.append(now)
                    done.set()
            gevent.sleep(max(0.0, t0 + (i + 1) * 0.02 - time.perf_counter()))

    def stop(self) -> None:
        self.greenlet.kill(block=False)


class VoiceUser(WsUserBase):
    weight = 1
    wait_time = constant(0)  # the microphone stays open: think time is streamed silence

    def on_start(self) -> None:
        super().on_start()
        self.mic: Mic | None = None
        self.questions = questions()

    def on_stop(self) -> None:
        if getattr(self, "mic", None) is not None:
            self.mic.stop()
            self.mic = None
        super().on_stop()

    @task
    def voice_turn(self) -> None:
        t0 = time.perf_counter()
        try:
            conv = self.connect()
            if self.mic is None:
                self.mic = Mic(conv)
            barge = random.random() < BARGE_IN
            pcm = story() if barge else random.choice(self.questions)[1]
            done, times = self.mic.say(pcm)
            self._answer(conv, done, times, barge)
        except TurnFailed as exc:
            self.failed("voice: done", t0, exc)
            return
        gevent.sleep(random.uniform(2, 5))  # listening, then thinking: the mic sends silence

    def _answer(self, conv: Conversation, done: Event, times: list, barge: bool) -> None:
        """Wait for the answer to the utterance (``done`` once its last voiced frame is sent,
        ``times`` = [first, last] send times). With ``barge``, speak over the answer once a
        third of a second of it has arrived, then wait for the answer to that. A reply that starts before
        the utterance has ended (the end-of-turn model took a pause for its end) is cut by the
        rest of it: that is the conversation working, not an error."""
        first = cut = None
        audio_s = 0.0
        while True:
            t, item = conv.next()
            if isinstance(item, bytes):
                if not done.is_set():
                    continue  # an early reply to part of the utterance: the rest cuts it
                if first is None:
                    first = t
                    record(self.environment, "voice: end of speech -> first audio",
                           (t - times[-1]) * 1000)
                audio_s += (len(item) - AUDIO_HEADER_BYTES) / 2 / 24000
                if barge and cut is None and audio_s > 0.3:
                    cut = self.mic.say(interjection(), lead_s=0.0)
                continue
            kind = item["type"]
            if kind == "transcript.rejected":
                raise TurnFailed(f"transcript rejected: {item.get('reason')}")
            if kind == "response.interrupted" and cut is not None and first is not None:
                onset = cut[1][0] if cut[1] else t
                record(self.environment, "voice: barge-in -> interrupted", (t - onset) * 1000)
            elif kind == "response.done":
                status = item["status"]
                if status == "completed" and first is not None:
                    record(self.environment, "voice: done", (t - times[-1]) * 1000)
                    return
                if status == "interrupted" or (status == "completed" and first is None):
                    if cut is not None:  # we spoke over it: now the answer to that
                        done, times = cut
                        cut, barge = None, False
                    first, audio_s = None, 0.0
                    continue
                raise TurnFailed(f"response {status}: {item.get('error')}")


class LoadShape(LoadTestShape):
    """Steps of ``LOAD_STEPS`` users, ``LOAD_STEP_S`` seconds each (all users start at once)."""

    abstract = not os.environ.get("LOAD_STEPS")

    def __init__(self) -> None:
        super().__init__()
        self.steps = [int(n) for n in os.environ.get("LOAD_STEPS", "2").split(",")]
        self.step_s = float(os.environ.get("LOAD_STEP_S", "30"))

    def tick(self):
        step = int(self.get_run_time() // self.step_s)
        if step >= len(self.steps):
            return None
        return self.steps[step], self.steps[step]


@events.init.add_listener
def _log_requests(environment, **_) -> None:
    path = os.environ.get("LOAD_LOG")
    if not path:
        return
    out = open(path, "w", newline="")  # noqa: SIM115 - open for the run
    writer = csv.writer(out)
    writer.writerow(["t", "name", "ms", "ok", "users"])

    def on_request(request_type, name, response_time, exception, **_kw) -> None:
        users = environment.runner.user_count if environment.runner else 0
        writer.writerow([f"{time.time():.3f}", name, f"{response_time:.1f}",
                         int(exception is None), users])
        out.flush()

    environment.events.request.add_listener(on_request)
