"""Token counting: the estimate against the real SmolLM2 tokenizer (llama.cpp, vocab only), and
the exact counter against the live llama.cpp server's tokenize endpoint."""

from __future__ import annotations

import pytest

from realtime.characters import load_presets
from realtime.engines.llm.llama_server import default_model_path
from realtime.memory.tokens import TokenCounter, estimate_tokens
from realtime.pipeline.persona import build_system_prompt

SAMPLES = ["Tell me a long story about a dragon and a baker, with many details.",
           "My name is Ana and I like tea. 42 is my lucky number!",
           "안녕하세요, 오늘 날씨가 정말 좋네요. 산책 갈까요?", "저는 부산에 사는 학생이에요.",
           "Mina: 안녕! Nice to meet you, 하늘.", ""]


@pytest.fixture(scope="module")
def vocab():
    import llama_cpp

    llm = llama_cpp.Llama(str(default_model_path()), vocab_only=True, verbose=False)
    return lambda text: len(llm.tokenize(text.encode(), add_bos=False)) if text else 0


def test_estimate_over_counts_english_and_korean_but_not_wildly(vocab):
    texts = SAMPLES + [build_system_prompt(c) for c in load_presets().values()]
    for text in texts:
        exact, est = vocab(text), estimate_tokens(text)
        assert est >= exact, (text[:40], exact, est)  # never under: prompts must fit
        assert est <= 1.6 * exact + 4, (text[:40], exact, est)


async def test_counter_uses_the_servers_tokenizer(live, vocab):
    counter = TokenCounter(live.services.llama.base_url, "smollm2-135m-instruct")
    await counter.start()
    try:
        assert counter.exact and counter.kind == "llama_cpp"
        for text in SAMPLES[:4]:
            assert await counter.count(text) == vocab(text)
        assert 0.5 <= counter.scale <= 1.0  # learned: the estimate over-counts
    finally:
        await counter.aclose()


async def test_counter_without_a_tokenizer_estimates():
    counter = TokenCounter(None, "m")
    await counter.start()
    assert not counter.exact
    assert await counter.count(SAMPLES[0]) == estimate_tokens(SAMPLES[0])


async def test_counter_counts_locally_as_the_server_does(live):
    """The embedded model's tokenizer loaded here (vocab only) gives the server's counts, without
    a request to the server (whose single slot belongs to live turns)."""
    server = TokenCounter(live.services.llama.base_url, "smollm2-135m-instruct")
    local = TokenCounter(None, "smollm2-135m-instruct", vocab_path=default_model_path())
    await server.start()
    await local.start()
    try:
        assert local.kind == "local" and local._client is None and server.kind == "llama_cpp"
        texts = SAMPLES[:5] + [build_system_prompt(c) for c in load_presets().values()]
        for text in texts:
            assert await local.count(text) == await server.count(text), text[:40]
    finally:
        await local.aclose()
        await server.aclose()
    assert live.services.counter.kind == "local"  # what the app uses for the embedded model
