"""Story generation (the seeds' ``POST /api/story/generate``, 000 §5.9) on an OpenAI-compatible LLM.

The seeds send it to Gemini; here it goes to the configured chat LLM, or to its own endpoint
(``AVATAR_STORY_LLM_*``: Gemini's OpenAI-compatible API, or any other). The text streams as the
model writes it; ``word_count`` and ``chapters`` are counted from what it wrote.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from realtime.engines.llm.base import LLM, ChatRequest, LLMError, StreamStats
from realtime.pipeline.language import detect_language

Length = Literal["short", "medium", "long"]
# words asked for, chapters asked for, share of story_max_tokens
LENGTHS: dict[str, tuple[int, int, float]] = {
    "short": (150, 1, 0.25), "medium": (500, 3, 0.5), "long": (1000, 5, 1.0)}

_SYSTEM = {
    "ko": ("당신은 이야기 작가입니다. 요청에 맞는 {style}이야기를 한국어로 씁니다. "
           "이야기를 {chapters}개의 장으로 나누고, 각 장은 '제N장: 제목' 한 줄로 시작하세요. "
           "마크다운 없이 본문만 쓰세요. 길이는 약 {words}단어입니다."),
    "en": ("You are a storyteller. Write a {style}story in English for the request below. "
           "Split it into {chapters} chapter(s), each starting with a line 'Chapter N: Title'. "
           "Plain text, no markdown. Length: about {words} words."),
}
_STYLE = {"ko": "{style} 장르의 ", "en": "{style} "}
_HEADING = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:chapter\s+[0-9ivxlc]+\b|제\s*[0-9一二三四五六七八九十]+\s*장|"
    r"[0-9]+\s*장\b|第\s*[0-9一二三四五六七八九十]+\s*[章話])", re.IGNORECASE | re.MULTILINE)


@dataclass
class StoryRequest:
    prompt: str
    length: Length = "medium"
    style: str = ""


@dataclass
class Story:
    parts: list[str] = field(default_factory=list)
    language: str = "ko"
    model: str = ""
    stats: StreamStats = field(default_factory=StreamStats)

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def result(self) -> dict:
        text = self.text
        return {"story": text, "word_count": len(text.split()),
                "chapters": count_chapters(text), "model": self.model,
                "language": self.language,
                "usage": {"prompt_tokens": self.stats.prompt_tokens,
                          "completion_tokens": self.stats.completion_tokens}}


def count_chapters(text: str) -> int:
    """Chapter headings the model wrote ("Chapter 2: ...", "제2장 ..."); a story without any
    is one chapter (none if empty)."""
    if not text.strip():
        return 0
    return max(1, len(_HEADING.findall(text)))


def build_messages(req: StoryRequest, language: str) -> list[dict[str, str]]:
    words, chapters, _ = LENGTHS[req.length]
    lang = language if language in _SYSTEM else "en"
    style = _STYLE[lang].format(style=req.style.strip()) if req.style.strip() else ""
    system = _SYSTEM[lang].format(style=style, chapters=chapters, words=words)
    return [{"role": "system", "content": system}, {"role": "user", "content": req.prompt}]


async def write_story(llm: LLM, model: str, req: StoryRequest, max_tokens: int,
                      story: Story, temperature: float = 0.8) -> AsyncIterator[str]:
    """Stream the story's text as the model writes it (also kept in ``story``).
    Raises :class:`LLMError` (its ``code``: GENERATION_FAILED or SERVICE_UNAVAILABLE)."""
    story.language = detect_language(req.prompt, "ko")
    story.model = model
    share = LENGTHS[req.length][2]
    request = ChatRequest(messages=build_messages(req, story.language), model=model,
                          temperature=temperature, max_tokens=max(16, int(max_tokens * share)))
    stream = llm.stream(request, story.stats)
    try:
        async for delta in stream:
            story.parts.append(delta)
            yield delta
    finally:
        await stream.aclose()
    if not story.text:
        raise LLMError("the model returned an empty story")
