"""``check``: every file the job made passes the Khronos glTF-Validator (0 errors, 0 warnings;
VRM's own extension is an info) and our rules (names, bones, clips, budgets: see
:mod:`avatar_engine.checks.rules`). A failure on the experimental ``gpu3d`` engine falls back to
the template; on the template it fails the job (``CHECK_FAILED``)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from avatar_engine.checks import rules
from avatar_engine.checks.gltf_validator import ValidatorUnavailable
from avatar_engine.errors import JobError
from avatar_engine.stages import Fallback

log = logging.getLogger(__name__)


def judge(data: bytes, vrm: bool, gpu: bool) -> dict:
    return rules.check(data, rules.GPU if gpu else rules.TEMPLATE, vrm=vrm)


async def _khronos(ctx, name: str, data: bytes) -> dict | None:
    mode = ctx.settings.avatar_validator
    if mode == "off":
        return None
    if not ctx.validator.available:
        if mode == "required":
            raise JobError("CHECK_FAILED", "the glTF-Validator is required but not installed "
                                           "(bash scripts/web.sh)")
        log.warning("glTF-Validator not installed: %s checked by our rules only", name)
        return None
    with tempfile.TemporaryDirectory(prefix="avatar-check-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return await ctx.validator.validate(path)
        except ValidatorUnavailable as exc:
            if mode == "required":
                raise JobError("CHECK_FAILED", str(exc)) from exc
            log.warning("glTF-Validator: %s", exc)
            return None


async def run(ctx) -> None:
    gpu = ctx.job.get("engine") == "gpu3d"
    report, problems = {}, []
    for name in ("model.glb", "model.vrm"):
        data = await ctx.file(name)
        if data is None:
            continue
        verdict = await ctx.cpu(judge, data, name.endswith(".vrm"), gpu)
        khronos = await _khronos(ctx, name, data)
        entry = {"rules": verdict["problems"], "stats": verdict["stats"]}
        if khronos is not None:
            entry["validator"] = {k: khronos[k] for k in ("errors", "warnings", "infos")}
            if khronos["errors"] or khronos["warnings"]:
                problems.append(f"{name}: glTF-Validator {khronos['errors']} errors, "
                                f"{khronos['warnings']} warnings: " + "; ".join(
                                    m["code"] for m in khronos["messages"][:5]))
        problems += [f"{name}: {p}" for p in verdict["problems"]]
        report[name] = entry
    await ctx.set(checks=report)
    if problems:
        if gpu:
            raise Fallback("; ".join(problems))
        raise JobError("CHECK_FAILED", "; ".join(problems)[:500])
