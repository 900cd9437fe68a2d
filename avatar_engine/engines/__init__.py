"""Engines behind the steps: the style on ComfyUI (:mod:`.comfyui`) or the CPU toon filter
(:mod:`.toon`), and the experimental image-to-3D sidecar (:mod:`.gpu3d`)."""
