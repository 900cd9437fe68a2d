"""The words half of the end-of-turn decision (realtime/listen/endings.py)."""

from __future__ import annotations

import pytest

from realtime.listen.endings import unfinished


@pytest.mark.parametrize("text", [
    "My favorite food is...", "My favorite food is.", "So I was thinking that.", "I would like to",
    "Can I have the", "I went there and", "It was, um", "Because I", "We could go to the beach,",
    "Do you like the?", "I think it's", "Well, I'm gonna", "Could you help me with?",
    "Can you tell me about?",
])
def test_english_that_cannot_end(text: str) -> None:
    assert unfinished(text, "en")


@pytest.mark.parametrize("text", [
    "What is the capital of France?", "Tell me about dogs.", "Yes.", "No", "Where are you from?",
    "Who are you talking to?", "What are you looking for?", "Okay",
    "", "   ", "I'm fine, thank you.", "I think so.", "Yes, I do.", "I can.", "See you then.",
])
def test_english_that_can_end(text: str) -> None:
    assert not unfinished(text, "en")


@pytest.mark.parametrize(("text", "expected"), [
    ("Do you know where it is?", False), ("I wonder who you are talking to.", False),
    ("Tell me what that is.", False), ("Can you say how old you are?", False),
    ("I know what you are thinking of", False),
    # the clause needs a word between the wh-word and the end, and never ends on "the", "and"
    ("I wonder which of", True), ("Do you know where the", True),
    ("Tell me what it is and", True),
])
def test_an_embedded_wh_clause_may_strand_its_last_word(text: str, expected: bool) -> None:
    assert unfinished(text, "en") is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("밥을 먹고", True), ("비가 오는데", True), ("저는", True), ("그리고", True),
    ("오늘은 날씨가...", True), ("네, 좋아요.", False), ("오늘 날씨가 좋네요", False),
    ("뭐 먹을까요?", False), ("저는 학생이에요", False), ("밥을 먹고 왔어요.", False),
])
def test_korean(text: str, expected: bool) -> None:
    assert unfinished(text, "ko-KR") is expected
