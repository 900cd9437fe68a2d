"""The GPU host: the single authority over the one GPU (service control, VRAM ledger, plans,
live-conversation-first scheduling with preemption). Runs as its own service
(``python -m gpu_host``) or embedded in the realtime server; both are reached through
:mod:`gpu_host.client`. See ``docs/gpu.md``."""
