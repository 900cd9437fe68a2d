"""Streaming sentence chunker: cut speakable chunks out of an LLM token stream as early as possible.

:class:`SentenceChunker` is a one-pass, character-at-a-time state machine. Each character is
examined exactly once (a scan position survives between pushes), so ``push`` is amortised
O(len(delta)); the buffer only ever holds the current, not-yet-emitted chunk.

Rules (the tests in ``tests/test_chunker.py`` pin each one down):

* Exactness: ``"".join(push chunks + flush chunks)`` is the input, character for character.
  Whitespace after a chunk's end belongs to that chunk, so every chunk but the first starts with
  a non-space character, and a whitespace-only chunk happens only when the whole input is
  whitespace.
* A cut is made only once the next non-space character proves it, and every decision depends
  on the text alone, never on where the deltas were split: the chunks are fully independent of
  the split (property-tested).
* Sentence ends: a run of ``.?!…`` (plus closing quotes/brackets) followed by whitespace ends a
  sentence unless the next character is lower-case ("wait... what"), or the run is a single ``.``
  after an abbreviation ("Mr.", "e.g.", "U.S.", "J."), after "No."-style words before a digit,
  or after a list marker ("1." at the start of a line). Without whitespace after it ("3.14",
  "example.com/x", "v1.2.3") there is no end. Korean adds full-width ``。！？．``; Japanese and
  Chinese add ``。！？``; those end a sentence with no space needed (``．`` not between digits).
  In ``ja``/``zh`` a ``?``/``!`` run directly followed by a CJK character ends one too.
* A newline after text ends a chunk.
* ``min_chars``: an end whose chunk would be shorter is skipped, merging it with the next one
  (only the final chunk from ``flush`` may be shorter).
* ``max_chars``: a chunk's text (without its trailing whitespace) never grows past ``max_chars``
  (a trailing run of terminators/closers may overhang by :data:`RUN_SLACK`). The cut goes after
  the last clause mark (``,;:、，；：``, not inside a number like "1,000") if that is at least
  half-way, else at the last whitespace, else at the last clause mark, else hard at
  ``max_chars`` (only for text with no space or clause mark, e.g. a long URL or CJK run).
* ``first_clause``: in the first chunk of the stream only, a ``,;:`` followed by whitespace (or a
  full-width ``、，；：``, no space needed) cuts once ``first_clause_min_chars`` characters of
  text precede it, so speech can start early.

Unknown languages behave like English. ``flush`` resets the chunker for a new stream.
"""

from __future__ import annotations

import re

__all__ = [
    "ABBREVIATIONS", "CLAUSE_MARKS", "CLOSERS", "IMMEDIATE_TERMINATORS", "NUMBER_ABBREVIATIONS",
    "RUN_SLACK", "SPACED_TERMINATORS", "SentenceChunker",
]

#: Terminators that need whitespace after them (all languages).
SPACED_TERMINATORS = frozenset(".?!…")
#: Per-language terminators that end a sentence with no space after them.
IMMEDIATE_TERMINATORS: dict[str, frozenset[str]] = {
    "ko": frozenset("。！？．"),
    "ja": frozenset("。！？"),
    "zh": frozenset("。！？"),
}
#: Closing quotes/brackets that stay with the sentence they follow.
CLOSERS = frozenset("\"')]}”’」』）】》〉»")
#: Clause boundaries for the max-length cut and the first-clause cut.
CLAUSE_MARKS = frozenset(",;:、，；：")
_FULLWIDTH_CLAUSE_MARKS = frozenset("、，；：")
#: Words that a single "." does not end (compared lower-case, without the dot).
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "rev", "hon", "sr", "jr", "st", "mt", "ft", "vs",
    "cf", "al", "approx", "dept", "gen", "gov", "lt", "col", "capt", "sgt", "jan", "feb", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
#: Words that a single "." does not end when a digit follows ("No. 5", "p. 12").
NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "vol", "p", "pp", "fig", "ch", "sec", "art", "op"})
#: How far a trailing run of terminators/closers may overhang ``max_chars``.
RUN_SLACK = 8

_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # U.S, e.g, i.e, a.m
_OPENERS = "\"'“‘([{「『（【《〈«"
_NEWLINES = "\n\r\u2028\u2029"

# pending-candidate kinds and phases
_NONE, _TERM, _CLAUSE, _WS = 0, 1, 2, 3
_RUN, _NEEDWS, _SPACED = 0, 1, 2


def _base_language(language: str) -> str:
    return (language or "en").lower().replace("_", "-").split("-")[0]


class SentenceChunker:
    """Turn a stream of text deltas into sentence-sized chunks for TTS (see the module doc)."""

    def __init__(self, language: str = "en", *, min_chars: int = 12, max_chars: int = 220,
                 first_clause: bool = True, first_clause_min_chars: int = 8,
                 first_max_chars: int = 0) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        if min_chars < 0 or first_clause_min_chars < 0:
            raise ValueError("min_chars and first_clause_min_chars must not be negative")
        self.language = _base_language(language)
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.first_clause = first_clause
        self.first_clause_min_chars = first_clause_min_chars
        # A tighter max_chars for the first chunk only (0: off), so speech starts sooner
        # even when the first sentence is long and has no comma.
        self.first_max_chars = first_max_chars
        self._immediate = IMMEDIATE_TERMINATORS.get(self.language, frozenset())
        self._terms = SPACED_TERMINATORS | self._immediate
        self._cjk = self.language in ("ja", "zh")
        self._reset()

    def _reset(self) -> None:
        self._buf = ""          # the current chunk: emitted text is cut off the front
        self._i = 0             # scan position in _buf
        self._cstart = -1       # index of the chunk's first non-space character (-1: none yet)
        self._first = True      # still in the stream's first chunk
        self._line_start = True  # the chunk starts at the start of a line
        self._spaces: list[int] = []   # whitespace positions (word ends) after _cstart
        self._clauses: list[int] = []  # positions just after a clause mark
        self._pk = _NONE        # pending candidate: kind, phase, run start/end, saw a newline
        self._pphase = _RUN
        self._prs = self._pre = 0
        self._pnl = False

    # ------------------------------------------------------------------ public API
    def push(self, text: str) -> list[str]:
        """Feed one delta; return the chunks it completes (often none)."""
        if not text:
            return []
        self._buf += text
        out: list[str] = []
        while self._i < len(self._buf):
            self._step(out)
        return out

    def flush(self) -> list[str]:
        """End of stream: return the rest (at most one chunk) and reset for a new stream."""
        rest = self._buf
        self._reset()
        return [rest] if rest else []

    # ------------------------------------------------------------------ the scanner
    def _step(self, out: list[str]) -> None:
        i, buf = self._i, self._buf
        c = buf[i]
        if (i >= 1 and self._cstart >= 0 and i - 1 >= self._cstart and buf[i - 1] in CLAUSE_MARKS
                and not (i >= 2 and buf[i - 2].isdigit() and c.isdigit())):
            self._clauses.append(i)
        if c.isspace():
            if self._cstart >= 0:
                self._spaces.append(i)
                nl = c in _NEWLINES
                if self._pk == _NONE:
                    self._open(_WS, _SPACED, i, i, nl)
                else:
                    self._pphase = _SPACED
                    self._pnl = self._pnl or nl
            self._i = i + 1
            return
        if self._cstart < 0:
            self._cstart = i
        run_char = c in self._terms or c in CLOSERS
        if self._pk != _NONE and not (self._pk == _TERM and self._pphase == _RUN and run_char):
            cut, newline = self._decide(i, c), self._pnl
            self._pk = _NONE
            if cut:
                self._cut(i, out, newline)
                i = 0
        slack = RUN_SLACK if run_char else 0
        while i - self._cstart >= self._max() + slack:  # _max() changes after the first cut
            self._pk = _NONE  # only a terminator run can be pending here; it is too long
            i = self._max_cut(i, out)
        if self._pk == _TERM:
            self._pre = i + 1  # extend the terminator run
        elif c in self._terms:
            self._open(_TERM, _RUN, i, i + 1)
        elif (self._first and self.first_clause and c in CLAUSE_MARKS
              and i - self._cstart >= self.first_clause_min_chars):
            self._open(_CLAUSE, _SPACED if c in _FULLWIDTH_CLAUSE_MARKS else _NEEDWS, i, i + 1)
        self._i = i + 1

    def _open(self, kind: int, phase: int, start: int, end: int, newline: bool = False) -> None:
        """Start a pending candidate: a cut decided at the next non-space character."""
        self._pk, self._pphase, self._prs, self._pre, self._pnl = kind, phase, start, end, newline

    def _decide(self, i: int, c: str) -> bool:
        """Is there a cut before ``c`` (non-space, at ``i``) for the pending candidate?"""
        buf, rs, re_ = self._buf, self._prs, self._pre
        if self._pk == _WS:
            return self._pnl and rs - self._cstart >= self.min_chars
        if self._pk == _CLAUSE:
            if self._pphase == _NEEDWS:
                return False
            return not (i == re_ and rs > 0 and buf[rs - 1].isdigit() and c.isdigit())
        if re_ - self._cstart < self.min_chars:
            return False
        if self._pnl:
            return True
        run = buf[rs:re_]
        spaced = i > re_
        if any(ch in self._immediate for ch in run):
            return spaced or not (run[0] == "．" and rs > 0 and buf[rs - 1].isdigit()
                                  and c.isdigit())
        if not spaced:
            return self._cjk and ord(c) >= 0x2E80 and any(ch in "?!" for ch in run)
        if c.islower():
            return False
        if run.rstrip("".join(CLOSERS)) == ".":
            return not self._is_abbreviation(rs, c)
        return True

    def _is_abbreviation(self, rs: int, c: str) -> bool:
        """Is the single "." at ``rs`` part of an abbreviation, an initial or a list marker?"""
        buf = self._buf
        k = rs
        while k > 0 and not buf[k - 1].isspace():
            k -= 1
        word = buf[k:rs].lstrip(_OPENERS)
        low = word.lower()
        if not word:
            return False
        if low in ABBREVIATIONS or (low in NUMBER_ABBREVIATIONS and c.isdigit()):
            return True
        if _DOTTED.fullmatch(word) or (len(word) == 1 and "A" <= word <= "Z" and word != "I"):
            return True
        if word.isascii() and word.isdigit() and len(word) <= 3:
            m = k
            while m > 0 and buf[m - 1] in " \t":
                m -= 1
            return self._line_start if m == 0 else buf[m - 1] in _NEWLINES
        return False

    def _max(self) -> int:
        if self._first and 0 < self.first_max_chars < self.max_chars:
            return self.first_max_chars
        return self.max_chars

    # ------------------------------------------------------------------ cutting
    def _cut(self, q: int, out: list[str], line_start: bool) -> None:
        """Emit ``_buf[:q]`` (``_buf[q]`` is non-space) and start the next chunk at ``q``."""
        out.append(self._buf[:q])
        self._buf = self._buf[q:]
        self._i -= q
        self._cstart = 0
        self._first = False
        self._line_start = line_start
        self._spaces = [p - q for p in self._spaces if p > q]
        self._clauses = [p - q for p in self._clauses if p > q]

    def _max_cut(self, i: int, out: list[str]) -> int:
        """The chunk is too long before ``_buf[i]`` (non-space): cut it; return the new ``i``."""
        max_chars = self._max()
        cs, limit = self._cstart, self._cstart + max_chars
        punct = next((p for p in reversed(self._clauses) if p <= limit), -1)
        space = next((p for p in reversed(self._spaces) if p <= limit), -1)
        if punct > cs and punct - cs >= max_chars // 2:
            p = punct
        elif space > cs:
            p = space
        elif punct > cs:
            p = punct
        else:
            p = limit
        buf, q = self._buf, p
        while q < i and buf[q].isspace():
            q += 1
        self._i = i
        self._cut(q, out, any(ch in _NEWLINES for ch in buf[p:q]))
        return self._i
