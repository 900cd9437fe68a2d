"""Build the default avatar: a stylised, friendly head-and-shoulders character.

    .venv/bin/python -m avatar_engine.template                 # client-web/public/avatars/default.glb
    .venv/bin/python -m avatar_engine.template OUT_DIR --vrm   # elsewhere, plus default.vrm

The same engine as the avatar jobs' template path (no photo: the default colours and a plain
skin texture with blush): a skeleton with Ready Player Me bone names, one skinned mesh with a
primitive per material (``Skin``, ``Hair``, ``Eyes``, ``EyeWhite``, ``Lips``, ``Mouth``,
``Clothes``), the morph targets of :mod:`avatar_engine.template.morphs` on every primitive, and
the ``idle`` and ``talk`` clips. ``default.vrm`` is the same model with a ``VRMC_vrm`` 1.0
extension. ``tests/test_avatar_template.py`` regenerates the GLB and compares it with the
committed one, and runs the Khronos glTF-Validator on both.
"""

from __future__ import annotations

import sys
from pathlib import Path

from avatar_engine.template.avatar import export, make
from avatar_engine.template.spec import Spec

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "client-web" / "public" / "avatars"


def write(out_dir: Path, vrm_too: bool = False) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    avatar = make(Spec())
    written = []
    for name, vrm in (("default.glb", False), ("default.vrm", True))[:2 if vrm_too else 1]:
        path = out_dir / name
        path.write_bytes(export(avatar, vrm=vrm, permissive=True))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    out = Path(args[0]) if args else OUT_DIR
    for path in write(out, vrm_too="--vrm" in argv):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
