"""TagFilter / strip_tags: exact outputs for each rule, and properties over arbitrary splits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.pipeline.tags import (
    EMOTION_NAMES, EMOTIONS, GESTURE_NAMES, GESTURES, Tag, TagFilter, canonical_tag, strip_tags)

HAPPY, SAD, WAVE, NOD, BOW = (Tag("emotion", "happy"), Tag("emotion", "sad"),
                              Tag("gesture", "wave"), Tag("gesture", "nod"), Tag("gesture", "bow"))


def run(deltas: list[str]) -> list[str | Tag]:
    f = TagFilter()
    return [p for d in deltas for p in f.push(d)] + f.flush()


def merged(pieces: list[str | Tag]) -> list[str | Tag]:
    """Adjacent text pieces joined: the split-independent form of a piece list."""
    out: list[str | Tag] = []
    for p in pieces:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return out


def check(text: str, expected: list[str | Tag]) -> None:
    """Merged pieces are ``expected`` whether fed whole, char by char or in 2-char deltas."""
    for step in (len(text) or 1, 1, 2):
        pieces = run([text[k:k + step] for k in range(0, len(text), step)])
        assert all(p != "" for p in pieces)
        assert merged(pieces) == expected, f"step={step}"


# ---------------------------------------------------------------------- recognition
def test_bracket_tags() -> None:
    check("I am [happy] here", ["I am ", HAPPY, "here"])
    check("Hello! [wave] Nice to meet you.", ["Hello! ", WAVE, "Nice to meet you."])


def test_star_tags() -> None:
    check("Hello *smiles* friend", ["Hello ", HAPPY, "friend"])
    check("*nods* Sure thing.", [NOD, "Sure thing."])
    check("*shakes head* No way.", [Tag("gesture", "shake_head"), "No way."])


def test_korean_tags() -> None:
    check("[기쁨] 안녕하세요! [인사]", [HAPPY, "안녕하세요! ", BOW])
    check("[슬픔]정말요?", [SAD, "정말요?"])
    assert strip_tags("[화남] [놀람] [평온] [행복] [분노] [끄덕]")[1] == [
        Tag("emotion", "angry"), Tag("emotion", "surprised"), Tag("emotion", "relaxed"),
        HAPPY, Tag("emotion", "angry"), NOD]


def test_not_tags_stay_text() -> None:
    for text in ["See note [1] below.", "2*3*4 = 24", "2 * 3 * 4", "a*b*c", "**bold** text",
                 "[] and [ ] and [-]", "x = [a1]", "* not closed", "[unclosed tag",
                 "*a b c d*", "*trailing *"]:
        check(text, [text])


def test_too_long_is_text() -> None:
    long = "[" + "a" * 25 + "]"
    check(f"x {long} y", [f"x {long} y"])
    ok = "[" + "a" * 24 + "]"
    check(f"x {ok} y", ["x ", Tag("gesture", "a" * 24), "y"])


def test_failed_candidate_rescans_its_last_char() -> None:
    check("[oops [happy] done", ["[oops ", HAPPY, "done"])
    check("[[happy]]", ["[", HAPPY, "]"])
    check("*a **wave* x", ["*a **wave* x"])  # "**" is a literal run
    check("*a *wave* x", ["*a ", WAVE, "x"])


def test_space_collapse() -> None:
    check("I am [happy] [wave] here", ["I am ", HAPPY, WAVE, "here"])
    check("Hello[happy] world", ["Hello", HAPPY, " world"])
    check("Hello [happy]world", ["Hello ", HAPPY, "world"])
    check("Bye. [wave]", ["Bye. ", WAVE])
    check("[happy]  two spaces", [HAPPY, " two spaces"])  # only one space is dropped
    check("Line [nod]\nnext", ["Line ", NOD, "\nnext"])


def test_unknown_tags_are_gestures() -> None:
    check("[Big Grin] ok", [Tag("gesture", "big_grin"), "ok"])
    check("*raises eyebrow* hm", [Tag("gesture", "raises_eyebrow"), "hm"])


# ---------------------------------------------------------------------- names
@pytest.mark.parametrize("inside,tag", [
    ("happy", HAPPY), ("Joy", HAPPY), ("joyful", HAPPY), ("excited", HAPPY), ("smiles", HAPPY),
    ("sad", SAD), ("angry", Tag("emotion", "angry")), ("surprised", Tag("emotion", "surprised")),
    ("relaxed", Tag("emotion", "relaxed")), ("neutral", Tag("emotion", "neutral")),
    ("waves", WAVE), ("nods", NOD), ("laughs", Tag("gesture", "laugh")),
    ("thinking", Tag("gesture", "think")), ("shrug", Tag("gesture", "shrug")), ("bow", BOW),
    ("shake head", Tag("gesture", "shake_head")), ("shake-head", Tag("gesture", "shake_head")),
    ("shake_head", Tag("gesture", "shake_head")), ("기쁨", HAPPY), ("행복", HAPPY), ("슬픔", SAD),
    ("인사", BOW), ("끄덕", NOD), (" Happy ", HAPPY),
])
def test_canonical_names(inside: str, tag: Tag) -> None:
    assert canonical_tag(inside) == tag


def test_tables_cover_the_canonical_names() -> None:
    assert set(EMOTIONS.values()) == set(EMOTION_NAMES)
    assert set(GESTURES.values()) == set(GESTURE_NAMES)
    assert all(EMOTIONS[n] == n for n in EMOTION_NAMES)
    assert all(GESTURES[n] == n for n in GESTURE_NAMES)
    assert not set(EMOTIONS) & set(GESTURES)


# ---------------------------------------------------------------------- streaming
def test_split_tag_is_held_then_removed() -> None:
    f = TagFilter()
    assert f.push("Hello [ha") == ["Hello "]
    assert f.push("ppy] Hi") == [HAPPY, "Hi"]
    assert f.push(" *wa") == [" "]
    assert f.push("ves* there") == [WAVE, "there"]
    assert f.push(" [1") == [" ", "[", "1"]
    assert f.flush() == []


def test_plain_text_is_released_at_once() -> None:
    f = TagFilter()
    assert f.push("Hello there, ") == ["Hello there, "]
    assert f.push("friend.") == ["friend."]
    assert f.push(" [") == [" "]
    assert f.push("not a tag because 1") == ["[not a tag because ", "1"]


def test_unclosed_candidate_released_at_flush() -> None:
    f = TagFilter()
    assert f.push("Wait [hap") == ["Wait "]
    assert f.flush() == ["[hap"]
    assert f.push("[happy] again") == [HAPPY, "again"]  # flush reset the filter


def test_strip_tags() -> None:
    assert strip_tags("I am [happy] here *waves*") == ("I am here ", [HAPPY, WAVE])
    assert strip_tags("") == ("", [])


def test_tag_is_frozen() -> None:
    with pytest.raises(AttributeError):
        HAPPY.name = "sad"  # type: ignore[misc]


# ---------------------------------------------------------------------- properties
@st.composite
def split(draw, text_strategy):
    text = draw(text_strategy)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in zip(bounds, bounds[1:])]


PLAIN = st.text(st.characters(blacklist_characters="[]*"), max_size=200)
PIECES = st.lists(st.sampled_from([
    "[happy]", "[wave]", "[기쁨]", "*smiles*", "*nods*", "[1]", "[", "]", "*", "**", " ", "  ",
    "\n", "Hi", "there", "2*3*4", "a", "1", "[big grin]", "[ha", "ppy]", "*a b c d*", "-", "_",
    "안녕", ".", "!",
]), max_size=50).map("".join)


@settings(max_examples=200, deadline=None)
@given(split(PLAIN))
def test_property_plain_text_passes_through(case) -> None:
    text, deltas = case
    f = TagFilter()
    for d in deltas:
        assert f.push(d) == ([d] if d else [])  # released at once, unchanged
    assert f.flush() == []


@settings(max_examples=200, deadline=None)
@given(split(st.one_of(PIECES, st.text(max_size=120))))
def test_property_split_independent(case) -> None:
    text, deltas = case
    pieces = run(deltas)
    assert all(p != "" for p in pieces)
    assert merged(pieces) == merged(run([text]))
    spoken, tags = strip_tags(text)
    assert "".join(p for p in pieces if isinstance(p, str)) == spoken
    assert [p for p in pieces if isinstance(p, Tag)] == tags
    assert all(t.kind in ("emotion", "gesture") and t.name for t in tags)
    if not tags:
        assert spoken == text
