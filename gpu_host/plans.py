"""Plans: the state each service should be in. The seeds' four modes are plans; so is the
``conversation`` plan the automatic scheduler keeps by default.

=============  =======  ======  =======  =======  =======
plan           vllm     sovits  whisper  comfyui  gen3d
=============  =======  ======  =======  =======  =======
conversation   resident resident resident stopped  stopped   (the seeds' ``chat``)
tts            asleep   resident resident stopped  stopped
style          asleep   resident resident resident stopped
gen3d          asleep   resident resident stopped  resident
=============  =======  ======  =======  =======  =======

A service that is not deployed is left out; one that cannot reach a state is held at the
nearest one it can (``Service.nearest``): GPT-SoVITS without a sleep verb stays resident.
"""

from __future__ import annotations

from dataclasses import dataclass

CONVERSATION = "conversation"


@dataclass(frozen=True)
class Plan:
    name: str
    targets: dict[str, str]
    background: bool  # an avatar plan that borrows the GPU (preempted by live signals)


_KEEP = {"sovits": "resident", "whisper": "resident"}
PLANS: dict[str, Plan] = {
    p.name: p for p in (
        Plan(CONVERSATION, {"vllm": "resident", "comfyui": "stopped", "gen3d": "stopped", **_KEEP},
             background=False),
        Plan("tts", {"vllm": "asleep", "comfyui": "stopped", "gen3d": "stopped", **_KEEP},
             background=True),
        Plan("style", {"vllm": "asleep", "comfyui": "resident", "gen3d": "stopped", **_KEEP},
             background=True),
        Plan("gen3d", {"vllm": "asleep", "comfyui": "stopped", "gen3d": "resident", **_KEEP},
             background=True),
    )
}

#: the seeds' ``POST /api/system/mode`` values -> plans (``auto``: back to automatic scheduling)
MODES = {"chat": CONVERSATION, "tts": "tts", "style": "style", "gen3d": "gen3d"}
MODE_OF_PLAN = {v: k for k, v in MODES.items()}


def plan_need_mb(plan: Plan, services: dict) -> dict[str, int]:
    """MB each deployed service holds once ``plan`` is applied (declared figures)."""
    out = {}
    for name, svc in services.items():
        target = svc.nearest(plan.targets.get(name, "resident"))
        out[name] = svc.mb(target)
    return out


def active_services(services: dict) -> list[str]:
    """The seeds' ``active_services``: services resident now (``llm`` is vLLM's name there)."""
    rename = {"vllm": "llm", "sovits": "tts", "whisper": "stt", "comfyui": "style"}
    return [rename.get(n, n) for n, s in services.items() if s.state == "resident"]
