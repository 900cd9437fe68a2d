"""GPU host: mode scheduler for the single production GPU (chat / tts / gen3d / style).

Not built yet; the realtime core reaches GPU engines only over HTTP (vLLM, GPT-SoVITS).
"""
