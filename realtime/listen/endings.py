"""Does a transcript read as unfinished? The words half of the end-of-turn decision.

Smart Turn judges the *sound* of a pause, and a speaker who trails off with a falling voice
sounds finished to it: "My favourite food is ..." scores 0.87-0.98 as Piper speaks it. The
speculative transcript is usually ready when the model answers (``listen/transcription.py``),
so the words can veto an early end: a turn whose text stops on a word that cannot end a
sentence ("to", "with", "is", "the", "and", ...; a wh-question may end on a preposition: "Where
are you from?" is finished, "Could you help me with?" is not, and so may a wh-clause with its
own subject: "Do you know where it is?", "I wonder who you are talking to.") or trails off
("...") waits for more speech or for the long silence. The veto only ever delays a turn (a false
"unfinished" costs the ``smart_turn_max_silence_ms`` wait, a false "finished" cuts the speaker
off), so the lists are generous ("I wonder which one of" ends early, a rare miss; "which of"
waits). Korean: a connective ending (-고, -는데, -서, -면, -지만, -니까) or a case/topic particle
on the last word, when Whisper wrote no final punctuation.
"""

from __future__ import annotations

import re

__all__ = ["unfinished"]

# never the last word of an English sentence, question or not
_EN_NEVER = frozenset("""
a an the my your his her our their every
and or but because if although though unless whether nor than
i i'm i'd i'll i've you're we're they're he's she's it's there's gonna wanna
um uh er erm
""".split())
# cannot end a statement, but can end a question ("Where are you from?", "Who are they?")
# ("I think so.", "Yes, I do.", "I can." end: elliptical answers keep their last word)
_EN_OPEN = _EN_NEVER | frozenset("""
that to of in on at for with from by about into onto over under after before between through
during without within as while is are was were
""".split())
_WH = frozenset("who whom whose what which where when why how".split())
_KO_CONNECTIVE = ("는데", "은데", "지만", "니까", "면서", "거나", "고", "서", "면")
_KO_PARTICLE = ("에서", "에게", "한테", "으로", "하고", "이랑", "은", "는", "을", "를", "이", "가",
                "에", "의", "와", "과", "도", "로", "랑")
_KO_CONJUNCTION = frozenset("그리고 그래서 그런데 근데 하지만 그러니까 그러면 그럼 또 아니면".split())
_TRAIL = re.compile(r"(\.\.\.|…|-|—|,)\s*$")
_WORD = re.compile(r"[\w']+")


def unfinished(text: str, language: str = "en") -> bool:
    """True when ``text`` stops where a sentence cannot end (see the module docstring)."""
    text = text.strip()
    if not text:
        return False
    if _TRAIL.search(text):
        return True
    words = _WORD.findall(text.lower().replace("’", "'"))
    if not words:
        return False
    last = words[-1]
    if language.split("-")[0] == "ko":
        if text[-1] in ".?!。？！":
            return False
        return last in _KO_CONJUNCTION or last.endswith(_KO_CONNECTIVE + _KO_PARTICLE)
    # a wh-question may strand its preposition ("Where are you from?"); a yes/no question that
    # stops on one was cut short ("Could you help me with?", as Whisper writes it); a wh-clause
    # with a word between it and the end may strand one or its verb ("... where it is?")
    stranded = text.endswith("?") and words[0] in _WH or _WH.intersection(words[1:-2])
    return last in (_EN_NEVER if stranded else _EN_OPEN)
