"""Model engines (LLM, TTS) behind small base classes, swapped by configuration."""
