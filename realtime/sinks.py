"""Where response events go: a WebSocket, an SSE queue, or a collector for REST."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
from fastapi import WebSocket
from pydantic import BaseModel

from realtime.protocol.messages import AudioPayload, pack_audio_frame


class WebSocketSink:
    """Serialises all writes to one socket (responses and the receive loop share it)."""

    def __init__(self, ws: WebSocket, metrics=None) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()
        self.metrics = metrics

    async def json(self, msg: BaseModel) -> None:
        data = msg.model_dump_json(exclude_none=False)
        if self.metrics is not None and getattr(msg, "type", "") == "error":
            self.metrics.errors.labels(msg.code).inc()  # type: ignore[attr-defined]
        async with self._lock:
            await self.ws.send_text(data)

    async def audio(self, response_id: int, chunk_index: int, sample_offset: int,
                    pcm: np.ndarray) -> None:
        frame = pack_audio_frame(response_id, chunk_index, sample_offset,
                                 np.asarray(pcm, dtype="<i2").tobytes())
        async with self._lock:
            await self.ws.send_bytes(frame)


class CollectSink:
    """Keeps every event and the audio (REST ``/api/chat`` and ``/api/tts``)."""

    def __init__(self) -> None:
        self.events: list[BaseModel] = []
        self.pcm: list[np.ndarray] = []

    async def json(self, msg: BaseModel) -> None:
        self.events.append(msg)

    async def audio(self, response_id: int, chunk_index: int, sample_offset: int,
                    pcm: np.ndarray) -> None:
        self.pcm.append(np.asarray(pcm, dtype=np.int16))

    def of_type(self, type_: str) -> list[BaseModel]:
        return [e for e in self.events if getattr(e, "type", None) == type_]

    def audio_array(self) -> np.ndarray:
        return np.concatenate(self.pcm) if self.pcm else np.zeros(0, dtype=np.int16)


class QueueSink:
    """SSE: every event (audio as base64 ``response.audio``) into a bounded queue."""

    def __init__(self, rate: int, maxsize: int = 256) -> None:
        self.rate = rate
        self.queue: asyncio.Queue[BaseModel | None] = asyncio.Queue(maxsize=maxsize)
        self.closed = False

    def close(self) -> None:
        """Nobody reads any more (the client left): drop what is queued and what comes."""
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()

    async def json(self, msg: BaseModel) -> None:
        if not self.closed:
            await self.queue.put(msg)

    async def audio(self, response_id: int, chunk_index: int, sample_offset: int,
                    pcm: np.ndarray) -> None:
        if self.closed:
            return
        data = base64.b64encode(np.asarray(pcm, dtype="<i2").tobytes()).decode("ascii")
        await self.queue.put(AudioPayload(response_id=response_id, chunk_index=chunk_index,
                                          sample_offset=sample_offset, sample_rate=self.rate,
                                          pcm=data))
