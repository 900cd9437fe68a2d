"""Characters: the seeds' rich character fields, voice and avatar binding, and our presets."""

from realtime.characters.model import (  # noqa: F401
    DEFAULT_CHARACTER_ID, Character, CharacterIn, VoiceBinding, load_presets,
)
