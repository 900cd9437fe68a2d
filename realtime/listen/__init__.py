"""Voice input: streaming voice-activity detection (Silero VAD v6) and speech-to-text."""
