"""Characters and the persona builder (system prompt), after the seeds' ``format_persona_for_roleplay``.

The seeds' template: "You are {name}. {persona} / Current situation / Background / Other party /
Important guidelines". We keep that shape, fold the rich character fields into the persona block,
and add the spoken-reply rules every voice turn needs (short, no markdown, optional emotion tags).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime.protocol.messages import Persona, Scenario


@dataclass(slots=True)
class Character:
    id: str
    name: str
    language: str = "en"
    persona: str = ""
    personality: str = ""
    speech_style: str = ""
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)
    background: str = ""
    voice: str | None = None
    greeting: str = ""


BUILTIN_CHARACTERS: dict[str, Character] = {
    c.id: c
    for c in (
        Character(
            id="mina",
            name="Mina",
            language="en",
            personality="Warm, curious and upbeat; a good listener who asks one question back.",
            speech_style="Casual, friendly, short sentences.",
            likes=["baking bread", "night walks", "old sci-fi films"],
            dislikes=["rudeness", "cold coffee"],
            background="A guide who lives in a small seaside town and loves meeting travellers.",
            greeting="Hi, I'm Mina! What brings you here today?",
        ),
        Character(
            id="haneul",
            name="하늘",
            language="ko",
            personality="차분하고 다정하며 유머 감각이 있다.",
            speech_style="부드러운 존댓말, 짧은 문장.",
            likes=["별 보기", "따뜻한 차"],
            dislikes=["소음"],
            background="서울의 작은 천문대에서 일하는 안내원.",
            greeting="안녕하세요, 하늘이에요. 오늘은 어떤 이야기를 나눠 볼까요?",
        ),
    )
}
DEFAULT_CHARACTER_ID = "mina"

_RULES = {
    "en": (
        "Important guidelines:\n"
        "- Stay in character; keep the personality and speaking style consistent.\n"
        "- Your reply is spoken aloud: one to three short sentences, no lists, no markdown, "
        "no emoji.\n"
        "- You may put one emotion tag such as [happy], [sad], [surprised] or [angry] "
        "before a sentence.\n"
        "- Take the earlier conversation into account."
    ),
    "ko": (
        "중요 지침:\n"
        "- 캐릭터의 성격과 말투를 일관되게 유지하세요.\n"
        "- 답변은 음성으로 읽힙니다: 한두 문장으로 짧게, 목록·마크다운·이모지 없이 말하세요.\n"
        "- 문장 앞에 [happy], [sad], [surprised] 같은 감정 태그를 하나 붙일 수 있습니다.\n"
        "- 이전 대화의 맥락을 고려하여 응답하세요."
    ),
}
_LABELS = {
    "en": ("You are {name}.", "Current situation", "Background", "Other party", "Personality",
           "Speaking style", "Likes", "Dislikes"),
    "ko": ("당신은 {name}입니다.", "현재 상황", "배경", "상대방", "성격", "말투", "좋아하는 것",
           "싫어하는 것"),
}


def character_from_persona(p: Persona) -> Character:
    return Character(id="custom", name=p.name, persona=p.persona, language=p.language or "en")


def build_system_prompt(character: Character, scenario: Scenario | None = None,
                        language: str | None = None) -> str:
    lang = (language or character.language or "en").split("-")[0]
    labels = _LABELS.get(lang, _LABELS["en"])
    you, situation, background, opponent, pers, style, likes, dislikes = labels
    lines = [you.format(name=character.name)]
    if character.persona:
        lines.append(character.persona)
    if character.personality:
        lines.append(f"{pers}: {character.personality}")
    if character.speech_style:
        lines.append(f"{style}: {character.speech_style}")
    if character.likes:
        lines.append(f"{likes}: {', '.join(character.likes)}")
    if character.dislikes:
        lines.append(f"{dislikes}: {', '.join(character.dislikes)}")
    if character.background and not (scenario and scenario.background):
        lines.append(f"{background}: {character.background}")
    if scenario:
        block = []
        if scenario.situation:
            block.append(f"{situation}: {scenario.situation}")
        if scenario.background:
            block.append(f"{background}: {scenario.background}")
        if scenario.opponent:
            block.append(f"{opponent}: {scenario.opponent}")
        if block:
            lines.append("")
            lines.extend(block)
    lines.append("")
    lines.append(_RULES.get(lang, _RULES["en"]))
    return "\n".join(lines)
