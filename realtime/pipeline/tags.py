"""Streaming removal of emotion/gesture tags (``[happy]``, ``[wave]``, ``[기쁨]``, ``*smiles*``).

The LLM may write tags into its reply; they must not be spoken. :class:`TagFilter` takes the
token stream and returns, in order, plain text pieces and :class:`Tag` events.

Rules:

* A tag is ``[`` inside ``]`` or ``*`` inside ``*``. The inside is 1-24 characters of letters
  (any script, Hangul included), spaces, ``_`` or ``-`` with at least one letter; no digits, so
  "[1]" and "2*3*4" stay text. A ``*`` tag has at most 3 words, no space right after the opening
  ``*`` or before the closing one ("2 * 3 * 4" is text), and its opening ``*`` must not directly
  follow a letter or digit ("a*b*c" is text). A run of two or more ``*`` is text ("**bold**").
* Only text after an unclosed ``[``/``*`` is held back, until the tag closes or can no longer be a
  tag (then it is released as text); all other text is released at once.
* Removing a tag does not leave a double space: when the text before it ends in whitespace (or
  the tag starts the stream), one space or tab right after it is dropped ("I am [happy] here" ->
  "I am here", "[wave] Hi" -> "Hi").
* Names are canonicalised through :data:`EMOTIONS` and :data:`GESTURES` (keys lower-case, spaces
  and hyphens as ``_``). Unknown tags are still removed, as gestures named by their lower-cased
  text with spaces as ``_``. "smile(s)" is the emotion *happy*; "laugh(s)" is the gesture
  *laugh*.
* The pieces (joined, with adjacent text merged) do not depend on how the stream was split.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "EMOTIONS", "EMOTION_NAMES", "GESTURES", "GESTURE_NAMES", "MAX_STAR_WORDS", "MAX_TAG_CHARS",
    "Tag", "TagFilter", "canonical_tag", "strip_tags",
]

MAX_TAG_CHARS = 24
MAX_STAR_WORDS = 3

EMOTION_NAMES = ("happy", "sad", "angry", "surprised", "relaxed", "neutral")
GESTURE_NAMES = ("wave", "nod", "shake_head", "bow", "shrug", "laugh", "think")


def _table(groups: dict[str, str]) -> dict[str, str]:
    return {syn: name for name, syns in groups.items() for syn in syns.split()}


#: Emotion synonyms -> canonical emotion.
EMOTIONS: dict[str, str] = _table({
    "happy": "happy happiness joy joyful glad cheerful excited excitement delighted pleased smile"
             " smiles smiling grin grins grinning 기쁨 기쁜 행복 행복한 신남 즐거움 嬉しい 喜び 幸せ",
    "sad": "sad sadness unhappy sorrow sorrowful crying cry cries tearful upset 슬픔 슬픈 우울"
           " 悲しい 悲しみ",
    "angry": "angry anger mad annoyed furious frustrated irritated 화남 화난 분노 짜증 怒り 怒る",
    "surprised": "surprised surprise shocked amazed astonished 놀람 놀란 驚き 驚く",
    "relaxed": "relaxed relax calm calmly relieved peaceful content 평온 편안 편안함 安心 穏やか",
    "neutral": "neutral normal serious 중립 무표정 普通",
})
#: Gesture synonyms -> canonical gesture.
GESTURES: dict[str, str] = _table({
    "wave": "wave waves waving 손인사 손흔들기 手を振る",
    "nod": "nod nods nodding 끄덕 끄덕임 끄덕끄덕 うなずく 頷く",
    "shake_head": "shake_head shakes_head shaking_head head_shake headshake 도리도리 首を振る",
    "bow": "bow bows bowing 인사 절 お辞儀",
    "shrug": "shrug shrugs shrugging 으쓱",
    "laugh": "laugh laughs laughing giggle giggles chuckle chuckles 웃음 笑い 笑う",
    "think": "think thinks thinking ponder ponders pondering hmm 생각 고민 考える",
})

_OPEN = re.compile(r"[\[*]")


@dataclass(frozen=True, slots=True)
class Tag:
    """One removed tag: ``kind`` is "emotion" or "gesture"; ``name`` is canonical."""

    kind: str
    name: str


def canonical_tag(inside: str) -> Tag:
    """Map a tag's inside text ("Happy", "shakes head", "기쁨") to its canonical :class:`Tag`."""
    words = inside.lower().split()
    key = "_".join(words).replace("-", "_")
    if key in EMOTIONS:
        return Tag("emotion", EMOTIONS[key])
    if key in GESTURES:
        return Tag("gesture", GESTURES[key])
    return Tag("gesture", "_".join(words))


def _inside_char(c: str) -> bool:
    return c.isalpha() or c in " _-" or unicodedata.category(c).startswith("M")


def _valid(inside: str, star: bool) -> bool:
    if not any(ch.isalpha() for ch in inside):
        return False
    if star:
        return not inside[-1].isspace() and len(inside.split()) <= MAX_STAR_WORDS
    return True


class TagFilter:
    """Streaming tag remover: ``push`` deltas, ``flush`` at the end (see the module doc)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._held = ""          # an open candidate: its opener and inside so far
        self._star_run = False   # inside a literal run of "*"
        self._prev = ""          # the stream's last character before the current delta
        self._last_ws = True     # the last released text ended in whitespace (or none yet)
        self._drop_space = False  # drop one leading space of the next text (a tag was removed)

    def push(self, text: str) -> list[str | Tag]:
        """Feed one delta; return the text pieces and tags it settles, in order."""
        out: list[str | Tag] = []
        i, n = 0, len(text)
        while i < n:
            if self._held:
                i = self._feed(text, i, out)
                continue
            if self._star_run:
                j = i
                while j < n and text[j] == "*":
                    j += 1
                self._text(out, text[i:j])
                i = j
                if j < n:
                    self._star_run = False
                continue
            m = _OPEN.search(text, i)
            j = m.start() if m else n
            self._text(out, text[i:j])
            if m is None:
                break
            prev = text[j - 1] if j > 0 else self._prev
            if text[j] == "*" and prev.isalnum():
                self._text(out, "*")  # "a*b": never a tag opener
            else:
                self._held = text[j]
            i = j + 1
        if text:
            self._prev = text[-1]
        return out

    def flush(self) -> list[str | Tag]:
        """End of stream: release any held text; reset for a new stream."""
        out: list[str | Tag] = []
        self._text(out, self._held)
        self._reset()
        return out

    def _feed(self, text: str, i: int, out: list[str | Tag]) -> int:
        """Give the open candidate ``text[i]``; return the next index to read."""
        c, held = text[i], self._held
        star = held[0] == "*"
        inside = held[1:]
        if star and not inside and (c == "*" or c.isspace()):
            self._held = ""
            if c == "*":  # "**": a literal run of asterisks
                self._text(out, "**")
                self._star_run = True
                return i + 1
            self._text(out, "*")
            return i  # the space is plain text
        if c == ("*" if star else "]"):
            self._held = ""
            if inside and _valid(inside, star):
                out.append(canonical_tag(inside))
                self._drop_space = self._last_ws
                return i + 1
            if star:  # the "*" may open the next candidate
                self._text(out, held)
                return i
            self._text(out, held + c)
            return i + 1
        if _inside_char(c):
            if len(inside) < MAX_TAG_CHARS:
                self._held = held + c
            else:
                self._held = ""
                self._text(out, held + c)
            return i + 1
        self._held = ""
        self._text(out, held)
        return i  # c may itself open a candidate

    def _text(self, out: list[str | Tag], s: str) -> None:
        if not s:
            return
        if self._drop_space:
            self._drop_space = False
            if s[0] in " \t":
                s = s[1:]
                if not s:
                    return
        out.append(s)
        self._last_ws = s[-1].isspace()


def strip_tags(text: str) -> tuple[str, list[Tag]]:
    """Non-streaming helper: ``text`` without its tags, and the tags in order."""
    f = TagFilter()
    pieces = f.push(text) + f.flush()
    return ("".join(p for p in pieces if isinstance(p, str)),
            [p for p in pieces if isinstance(p, Tag)])
