"""Simulated model services on the simulated device: the behaviour of vLLM's sleep mode,
ComfyUI's prompt worker and the gen3d sidecar, with latencies from ``gpu_host.figures``.

Used by ``bench/gpu_day.py`` and the scheduler tests (in process, on a virtual clock) and by the
stand-in servers under ``tests/stand_ins/`` (behind the real HTTP APIs, in real time). Never
used to serve a real deployment.
"""
