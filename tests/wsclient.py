"""A small protocol-v1 client for tests and benchmarks (speaks the real wire format)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
import orjson
import websockets

from realtime.protocol.messages import AUDIO_HEADER_BYTES, unpack_audio_header
from tests.speech import to_pcm16


@dataclass
class Frame:
    kind: int
    version: int
    response_id: int
    chunk_index: int
    sample_offset: int
    pcm: np.ndarray
    t: float  # perf_counter when received


@dataclass
class Turn:
    """Everything received for one response, in arrival order."""

    response_id: int | None = None
    items: list[dict | Frame] = field(default_factory=list)

    def events(self, type_: str | None = None) -> list[dict]:
        return [i for i in self.items if isinstance(i, dict) and (type_ is None or i["type"] == type_)]

    @property
    def frames(self) -> list[Frame]:
        return [i for i in self.items if isinstance(i, Frame)]

    @property
    def done(self) -> dict:
        return self.events("response.done")[-1]

    def audio(self) -> np.ndarray:
        f = self.frames
        return np.concatenate([x.pcm for x in f]) if f else np.zeros(0, np.int16)

    def index(self, pred) -> int:
        for i, item in enumerate(self.items):
            if pred(item):
                return i
        return -1


class Client:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.ready: dict = {}
        self.backlog: list[dict | Frame] = []

    @classmethod
    async def connect(cls, url: str, **update) -> Client:
        ws = await websockets.connect(url, max_size=8 * 1024 * 1024, open_timeout=10)
        c = cls(ws)
        c.ready = await c.next_json()
        assert c.ready["type"] == "session.ready", c.ready
        if update:
            await c.send({"type": "session.update", **update})
            msg = await c.next_json()
            assert msg["type"] == "session.updated", msg
        return c

    @property
    def rate(self) -> int:
        return int(self.ready["output_sample_rate"])

    async def send(self, msg: dict) -> None:
        await self.ws.send(orjson.dumps(msg).decode())

    async def recv(self, timeout: float = 60.0) -> dict | Frame:
        if self.backlog:
            return self.backlog.pop(0)
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(raw, bytes):
            kind, version, rid, idx, off = unpack_audio_header(raw)
            pcm = np.frombuffer(raw[AUDIO_HEADER_BYTES:], dtype="<i2").copy()
            return Frame(kind, version, rid, idx, off, pcm, time.perf_counter())
        return orjson.loads(raw)

    async def next_json(self, timeout: float = 60.0) -> dict:
        while True:
            item = await self.recv(timeout)
            if isinstance(item, dict):
                return item

    async def expect(self, type_: str, timeout: float = 30.0) -> dict:
        """Next JSON message of ``type_`` (others are kept for later)."""
        kept: list[dict | Frame] = []
        try:
            while True:
                item = await self.recv(timeout)
                if isinstance(item, dict) and item["type"] == type_:
                    return item
                kept.append(item)
        finally:
            self.backlog = kept + self.backlog

    async def collect(self, until_done: bool = True, timeout: float = 90.0) -> Turn:
        """Receive until ``response.done`` (of the response that started first)."""
        turn = Turn()
        deadline = time.monotonic() + timeout
        while True:
            item = await self.recv(max(0.1, deadline - time.monotonic()))
            turn.items.append(item)
            if isinstance(item, dict):
                if item["type"] == "response.started" and turn.response_id is None:
                    turn.response_id = item["response_id"]
                if item["type"] == "response.done" and item["response_id"] == turn.response_id:
                    return turn

    async def turn(self, text: str, timeout: float = 90.0) -> Turn:
        self.backlog = [i for i in self.backlog if isinstance(i, dict) and i["type"] == "error"
                        and i.get("response_id") is None]  # earlier responses' leftovers
        await self.send({"type": "input.text", "text": text})
        return await self.collect(timeout=timeout)

    async def stream_audio(self, pcm: np.ndarray, rate: int = 16000, frame_ms: int = 20,
                           speed: float = 1.0) -> float:
        """Send int16 ``pcm`` as binary microphone frames of ``frame_ms``, paced at ``speed`` x
        real time (``float('inf')``: as fast as possible). Returns perf_counter after the last."""
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16:
            pcm = to_pcm16(pcm)
        step = rate * frame_ms // 1000
        t0 = time.perf_counter()
        for i, a in enumerate(range(0, len(pcm), step)):
            frame = pcm[a:a + step]
            if len(frame) < rate // 100:  # the protocol's 10 ms minimum: pad the tail
                frame = np.concatenate([frame, np.zeros(rate // 100 - len(frame), np.int16)])
            if speed != float("inf"):
                delay = t0 + i * frame_ms / 1000.0 / speed - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.ws.send(frame.astype("<i2").tobytes())
        return time.perf_counter()

    async def drain(self, quiet_s: float = 0.3) -> list[dict | Frame]:
        """Whatever arrives until ``quiet_s`` passes with nothing."""
        out = list(self.backlog)
        self.backlog = []
        while True:
            try:
                out.append(await self.recv(quiet_s))
            except (TimeoutError, asyncio.TimeoutError):
                return out

    async def close(self) -> None:
        await self.ws.close()
