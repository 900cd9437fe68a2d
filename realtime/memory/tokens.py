"""Token counting with the serving model's own tokenizer, or a calibrated estimate.

OpenAI-compatible servers expose tokenizers outside the OpenAI API: llama-cpp-python's server
``POST /extras/tokenize/count {"input"}`` -> ``{"count"}``, vLLM ``POST /tokenize {"model",
"prompt"}`` -> ``{"count", "max_model_len"}``. :class:`TokenCounter` probes for either once;
with neither (Ollama, hosted APIs) it estimates from UTF-8 bytes, with a ratio calibrated on the
exact counts it did get and conservative defaults otherwise (``exact`` says which is in use).

Exact counts go through the model server, which may be busy generating; turns therefore count
the new user text with the estimate and get exact counts after the answer, off the critical path.
"""

from __future__ import annotations

import asyncio
import logging
import math

import httpx

log = logging.getLogger(__name__)

# Bytes per token, measured with SmolLM2's tokenizer on the presets' prompts and short dialogues:
# English 3.80 (short lines nearer 2.7), Korean 1.14-1.18 (few Korean tokens; multilingual models
# do better). The defaults sit below these, so the estimate over-counts rather than overflows
# (tests/test_tokens.py checks it on the presets and on mixed Korean-English lines).
ASCII_BYTES_PER_TOKEN = 3.2
OTHER_BYTES_PER_TOKEN = 0.9
MESSAGE_OVERHEAD = 5  # chat-template tokens around each message (<|im_start|>role ... <|im_end|>)


def estimate_tokens(text: str, scale: float = 1.0) -> int:
    digits = sum(1 for ch in text if ch.isascii() and ch.isdigit())  # one token each (SmolLM2)
    ascii_n = sum(1 for ch in text if ord(ch) < 128) - digits
    other = len(text.encode("utf-8")) - ascii_n - digits
    return math.ceil((digits + ascii_n / ASCII_BYTES_PER_TOKEN
                      + other / OTHER_BYTES_PER_TOKEN) * scale)


class TokenCounter:
    def __init__(self, base_url: str | None, model: str, *, timeout_s: float = 2.0,
                 vocab_path=None) -> None:
        self.root = (base_url or "").rstrip("/").removesuffix("/v1")
        self.model = model
        self.timeout_s = timeout_s
        self.vocab_path = vocab_path  # a GGUF: count with its tokenizer here (vocab only)
        self.kind: str | None = None  # "local" | "llama_cpp" | "vllm" | None (estimate)
        self._vocab = None  # llama_cpp.Llama(vocab_only=True)
        self._pool = None
        self.max_model_len: int | None = None
        self.scale = 1.0  # estimate correction learned from exact counts
        self._client: httpx.AsyncClient | None = None
        self._probed = False

    @property
    def exact(self) -> bool:
        return self.kind is not None

    async def start(self) -> None:
        if self.vocab_path is not None and await self._load_vocab():
            return
        if self.root:
            self._client = httpx.AsyncClient(timeout=self.timeout_s)
            await self._probe()

    async def _load_vocab(self) -> bool:
        """The model's own tokenizer in this process (0.1 s, ~5 MB; a count takes ~0.1 ms), in
        one worker thread: exact counts never queue behind the model server's generation."""
        from concurrent.futures import ThreadPoolExecutor

        def load():
            import llama_cpp

            return llama_cpp.Llama(model_path=str(self.vocab_path), vocab_only=True,
                                   verbose=False)

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenizer")
        try:
            self._vocab = await asyncio.get_running_loop().run_in_executor(self._pool, load)
        except Exception as exc:  # noqa: BLE001 - fall back to the server or the estimate
            log.warning("local tokenizer unavailable (%s)", exc)
            return False
        self.kind = "local"
        log.info("token counting: the model's tokenizer, in process (%s)", self.vocab_path)
        return True

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool, self._vocab = None, None

    async def _probe(self) -> None:
        self._probed = True
        for kind in ("llama_cpp", "vllm"):
            self.kind = kind
            try:
                await self._exact("Hello there")
                log.info("token counting: the model server's tokenizer (%s)", kind)
                return
            except Exception:  # noqa: BLE001 - try the next flavour
                continue
        self.kind = None
        log.warning("token counting: no tokenize endpoint on %s; using a calibrated estimate",
                    self.root)

    async def _exact(self, text: str) -> int:
        if self.kind == "local":  # as llama.cpp's /extras/tokenize/count counts
            vocab = self._vocab
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, lambda: len(vocab.tokenize(text.encode("utf-8"), add_bos=False)))
        assert self._client is not None
        if self.kind == "llama_cpp":
            r = await self._client.post(f"{self.root}/extras/tokenize/count",
                                        json={"input": text, "model": self.model})
            r.raise_for_status()
            return int(r.json()["count"])
        r = await self._client.post(f"{self.root}/tokenize",
                                    json={"model": self.model, "prompt": text,
                                          "add_special_tokens": False})
        r.raise_for_status()
        data = r.json()
        if data.get("max_model_len"):
            self.max_model_len = int(data["max_model_len"])
        return int(data["count"])

    def estimate(self, text: str) -> int:
        return estimate_tokens(text, self.scale)

    async def count(self, text: str) -> int:
        """Exact when the server can tell (falls back to the estimate on any failure)."""
        if self.kind is None or not text:
            return self.estimate(text)
        try:
            n = await self._exact(text)
        except Exception as exc:  # noqa: BLE001 - a busy or restarting server: estimate
            log.debug("tokenize failed (%s); estimating", exc)
            return self.estimate(text)
        raw = estimate_tokens(text)
        if raw >= 8:  # learn how far the estimate is off, slowly, never below the truth
            self.scale = min(2.0, max(0.5, 0.9 * self.scale + 0.1 * (n / raw)))
        return n

    async def count_message(self, message: dict) -> int:
        return MESSAGE_OVERHEAD + await self.count(message.get("content", ""))

    async def fill(self, messages: list[dict]) -> None:
        """Set ``tokens`` on messages that lack an exact count."""
        for m in messages:
            if m.get("tokens_exact"):
                continue
            m["tokens"] = await self.count_message(m)
            m["tokens_exact"] = self.exact
