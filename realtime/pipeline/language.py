"""Which language a text is written in, from its script (Korean first: Hangul -> ``ko``).

A pure function used wherever a request gives no ``language``: ``POST /api/tts``,
``POST /api/chat`` (and a persona without a character) and the WebSocket's ``input.text``.
It tells scripts apart, not languages that share one: every Latin-script text is ``en`` (the
one Latin-script language the bundled voices speak), Han without kana is ``zh``.
"""

from __future__ import annotations

__all__ = ["detect_language"]


def _script(ch: str) -> str | None:
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F \
            or 0xA960 <= o <= 0xA97F or 0xD7B0 <= o <= 0xD7FF:
        return "ko"  # Hangul syllables and jamo
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D:
        return "ja"  # hiragana, katakana (full and half width)
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if ch.isalpha() and (o < 0x250 or 0x1E00 <= o <= 0x1EFF):
        return "en"  # Latin letters, with accents
    return None


def detect_language(text: str, default: str = "ko") -> str:
    """``ko`` / ``ja`` / ``zh`` / ``en`` by the script most of ``text``'s letters are in.

    Han characters count towards Japanese when the text has kana and towards Korean when it has
    Hangul (mixed-script writing); a text with no letters at all (digits, emoji, punctuation)
    gets ``default``.
    """
    counts = {"ko": 0, "ja": 0, "han": 0, "en": 0}
    for ch in text:
        script = _script(ch)
        if script is not None:
            counts[script] += 1
    han = counts.pop("han")
    if han:
        if counts["ja"]:
            counts["ja"] += han
        elif counts["ko"]:
            counts["ko"] += han
        else:
            counts["zh"] = han
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else default
