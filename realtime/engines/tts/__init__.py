"""TTS engines behind :class:`realtime.engines.tts.base.TTSEngine`."""
