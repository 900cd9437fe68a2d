"""Characters and the persona builder (system prompt), after the seeds' ``format_persona_for_roleplay``.

The seeds' template: "You are {name}. {persona} / Current situation / Background / Other party /
Important guidelines". We keep that shape, fold the rich character fields into the persona block,
and add the spoken-reply rules every voice turn needs (short, no markdown, optional emotion tags).
"""

from __future__ import annotations

from realtime.characters.model import DEFAULT_CHARACTER_ID, Character, load_presets
from realtime.protocol.messages import Persona, Scenario

__all__ = ["DEFAULT_CHARACTER_ID", "Character", "build_system_prompt", "character_from_persona",
           "default_character"]


def default_character() -> Character:
    return load_presets()[DEFAULT_CHARACTER_ID]


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
_FIELDS = ("personality", "speech_style", "appearance", "likes", "dislikes", "habits",
           "thoughts", "features", "job", "age", "gender", "species", "height", "source_work",
           "worldview", "sample_dialogue", "guidelines")
_LABELS = {
    "en": {"you": "You are {name}.", "situation": "Current situation",
           "background": "Background", "opponent": "Other party", "personality": "Personality",
           "speech_style": "Speaking style", "appearance": "Appearance", "likes": "Likes",
           "dislikes": "Dislikes", "habits": "Habits", "thoughts": "Thoughts",
           "features": "Features", "job": "Job", "age": "Age", "gender": "Gender",
           "species": "Species", "height": "Height", "source_work": "From",
           "worldview": "World", "sample_dialogue": "Example of how you talk",
           "guidelines": "Character rules"},
    "ko": {"you": "당신은 {name}입니다.", "situation": "현재 상황", "background": "배경",
           "opponent": "상대방", "personality": "성격", "speech_style": "말투",
           "appearance": "외모", "likes": "좋아하는 것", "dislikes": "싫어하는 것",
           "habits": "습관", "thoughts": "생각", "features": "특징", "job": "직업",
           "age": "나이", "gender": "성별", "species": "종족", "height": "키",
           "source_work": "출처", "worldview": "세계관", "sample_dialogue": "말투 예시",
           "guidelines": "캐릭터 규칙"},
}


def character_from_persona(p: Persona) -> Character:
    lang = (p.language or "en").split("-")[0]
    return Character(id="custom", name=p.name, description=p.persona,
                     language=lang if lang in ("en", "ko") else "en")


def build_system_prompt(character: Character, scenario: Scenario | None = None,
                        language: str | None = None) -> str:
    """The seeds' roleplay template: who you are, the character sheet, the situation, rules."""
    lang = (language or character.language or "en").split("-")[0]
    labels = _LABELS.get(lang, _LABELS["en"])
    lines = [labels["you"].format(name=character.name)]
    if character.description:
        lines.append(character.description)
    for name in _FIELDS:
        value = getattr(character, name)
        if isinstance(value, list):
            value = ", ".join(value)
        if value:
            lines.append(f"{labels[name]}: {value}")
    block = []
    if scenario and scenario.situation:
        block.append(f"{labels['situation']}: {scenario.situation}")
    if scenario and scenario.background:
        block.append(f"{labels['background']}: {scenario.background}")
    if scenario and scenario.opponent:
        block.append(f"{labels['opponent']}: {scenario.opponent}")
    if block:
        lines.append("")
        lines.extend(block)
    lines.append("")
    lines.append(_RULES.get(lang, _RULES["en"]))
    return "\n".join(lines)
