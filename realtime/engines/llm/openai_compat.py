"""Streaming client for OpenAI-compatible ``/v1/chat/completions`` (vLLM, Ollama, llama.cpp).

One ``httpx.AsyncClient`` per app. A turn's stream lives inside ``async with client.stream``: when
the turn is cancelled the generator is closed, which closes the HTTP response and its connection,
so the server stops generating.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson

from realtime.engines.llm.base import LLM, ChatRequest, LLMError, StreamStats


class OpenAICompatLLM(LLM):
    name = "openai_compat"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        connect_timeout_s: float = 5.0,
        first_token_timeout_s: float = 30.0,
        idle_timeout_s: float = 15.0,
        model_alias: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._connect_timeout = connect_timeout_s
        self._first_token_timeout = first_token_timeout_s
        self._idle_timeout = idle_timeout_s
        self._alias = model_alias or {}
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(self._first_token_timeout, connect=self._connect_timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("LLM client not started")
        return self._client

    async def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        body: dict[str, object] = {
            "model": self._alias.get(request.model, request.model),
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = request.stop
        if request.priority is not None:
            body["priority"] = request.priority
        url = f"{self.base_url}/chat/completions"
        streaming = False  # the answer has begun: a break from here on is a failed generation
        try:
            resp = await self._send(url, body)
            try:
                if resp.status_code != 200:
                    detail = (await resp.aread())[:300].decode("utf-8", "replace")
                    raise LLMError(f"LLM server answered {resp.status_code}: {detail}")
                lines = resp.aiter_lines()
                timeout = self._first_token_timeout
                # asyncio.timeout, not wait_for: 3.11's wait_for swallows an outer cancel
                # when the read completes at the same moment (then a cancelled turn would
                # stream on to the end).
                while True:
                    try:
                        async with asyncio.timeout(timeout):
                            line = await anext(lines)
                    except StopAsyncIteration:
                        break
                    except TimeoutError as exc:
                        raise LLMError(f"LLM stream stalled for {timeout:.0f}s",
                                       code="GENERATION_FAILED" if streaming
                                       else "SERVICE_UNAVAILABLE") from exc
                    timeout = self._idle_timeout
                    streaming = True
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        if stats.finish_reason is None:
                            stats.finish_reason = "stop"
                        return
                    delta = self._parse(payload, stats)
                    if delta:
                        yield delta
            finally:
                await resp.aclose()  # on cancel too: the server sees the disconnect and stops
        except httpx.TimeoutException as exc:
            raise LLMError(f"LLM server timed out: {exc!r}", code="SERVICE_UNAVAILABLE") from exc
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if streaming:  # the model server died mid-answer (the seeds: GENERATION_FAILED)
                raise LLMError(f"LLM stream broke mid-answer: {exc!r}") from exc
            raise LLMError(f"LLM server unreachable: {exc!r}",
                           code="SERVICE_UNAVAILABLE") from exc
        if stats.finish_reason is None:
            raise LLMError("LLM stream ended without finishing (connection dropped mid-turn)")

    async def _send(self, url: str, body: dict[str, object]) -> httpx.Response:
        """Open the stream; retry once if the connection fails before any response arrives
        (a pooled keep-alive connection to a server that has since restarted)."""
        request = self.client.build_request("POST", url, json=body)
        try:
            return await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            request = self.client.build_request("POST", url, json=body)
            return await self.client.send(request, stream=True)

    @staticmethod
    def _parse(payload: str, stats: StreamStats) -> str:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise LLMError(f"LLM sent malformed stream data: {payload[:100]!r}") from exc
        if "error" in data:
            raise LLMError(f"LLM error: {str(data['error'])[:300]}")
        usage = data.get("usage")
        if usage:
            stats.prompt_tokens = usage.get("prompt_tokens")
            stats.completion_tokens = usage.get("completion_tokens") or stats.completion_tokens
        out = []
        for choice in data.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                out.append(content)
                if not usage:
                    stats.completion_tokens += 1
            if choice.get("finish_reason"):
                stats.finish_reason = choice["finish_reason"]
        return "".join(out)

    async def health(self) -> bool:
        try:
            resp = await self.client.get(f"{self.base_url}/models", timeout=5.0)
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def list_models(self) -> list[str]:
        resp = await self.client.get(f"{self.base_url}/models", timeout=5.0)
        resp.raise_for_status()
        return [m.get("id", "") for m in resp.json().get("data", [])]
