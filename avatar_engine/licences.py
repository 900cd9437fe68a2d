"""Which models may run where. A model whose licence excludes the deployment's region
(``AVATAR_AVATAR_REGION``) is refused with ``LICENSE_RESTRICTED`` (451) before any work starts;
a non-commercial model is refused unless ``AVATAR_AVATAR_ALLOW_NONCOMMERCIAL`` is set. Sources
are in docs/avatars.md ("Licences")."""

from __future__ import annotations

from dataclasses import dataclass

from avatar_engine.errors import JobError

EU = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
      "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")
HUNYUAN_EXCLUDED = ("KR", "GB", *EU)  # "DOES NOT APPLY IN THE EUROPEAN UNION, UNITED KINGDOM
# AND SOUTH KOREA" (Tencent-Hunyuan/Hunyuan3D-2 LICENSE)


@dataclass(frozen=True)
class Licence:
    name: str
    commercial: bool = True
    excluded: tuple[str, ...] = ()


MODELS: dict[str, Licence] = {
    # image -> 3D (the gen3d sidecar)
    "trellis": Licence("MIT (models and most code)"),
    "triposr": Licence("MIT"),
    "hunyuan3d-2": Licence("Tencent Hunyuan 3D 2.0 Community License", excluded=HUNYUAN_EXCLUDED),
    "hunyuan3d-2mini": Licence("Tencent Hunyuan 3D 2.0 Community License",
                               excluded=HUNYUAN_EXCLUDED),
    "hunyuan3d-2.1": Licence("Tencent Hunyuan 3D 2.1 Community License",
                             excluded=HUNYUAN_EXCLUDED),
    # auto-riggers
    "unirig": Licence("MIT"),
    "make-it-animatable-v1": Licence("MIT"),
    "make-it-animatable-v2": Licence("MIT code on a Hunyuan3D 2.1 backbone (a Model Derivative)",
                                     excluded=HUNYUAN_EXCLUDED),
    # style (ComfyUI)
    "sdxl-base-1.0": Licence("CreativeML Open RAIL++-M"),
    "ip-adapter-plus-face-sdxl": Licence("Apache-2.0"),
    "clip-vit-h-14-laion2b": Licence("MIT"),
    "instantid": Licence("Apache-2.0 code; InsightFace antelopev2 models non-commercial",
                         commercial=False),
    "ip-adapter-faceid": Licence("InsightFace models: non-commercial research only",
                                 commercial=False),
    "smpl-x": Licence("SMPL-X: non-commercial research only", commercial=False),
}


def check(model: str, region: str, allow_noncommercial: bool = False) -> Licence:
    """The model's licence; ``LICENSE_RESTRICTED`` when it may not run here."""
    lic = MODELS.get(model)
    if lic is None:
        raise JobError("LICENSE_RESTRICTED", f"model {model!r} has no licence on record here "
                                             f"(see docs/avatars.md); it is not run")
    if region.upper() in lic.excluded:
        raise JobError("LICENSE_RESTRICTED", f"{model}: its licence ({lic.name}) does not apply "
                                             f"in {region.upper()}, where this server runs")
    if not lic.commercial and not allow_noncommercial:
        raise JobError("LICENSE_RESTRICTED", f"{model}: {lic.name}; set "
                                             f"AVATAR_AVATAR_ALLOW_NONCOMMERCIAL=true to use it")
    return lic
