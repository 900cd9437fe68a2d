"""Build the default avatar: a stylised, friendly head-and-shoulders character as a skinned glTF.

    .venv/bin/python scripts/build_avatar.py                  # writes client-web/public/avatars/default.glb
    .venv/bin/python scripts/build_avatar.py OUT_DIR --vrm    # elsewhere, plus default.vrm (the tests)

Everything is made here from parametric surfaces (numpy) and written with pygltflib; nothing is
downloaded. The model (metres, +Y up, facing +Z as glTF expects):

* a skeleton Hips > Spine > Chest > Neck > Head (+ LeftEye, RightEye) and one skinned mesh with a
  primitive per material (skin, hair, shirt, collar, eyes, irises, brows, lips, mouth, teeth,
  tongue, blush);
* 21 morph targets on every primitive (zero where a part does not move): the 15 Oculus visemes
  ``viseme_sil PP FF TH DD kk CH SS nn RR aa E I O U``, ``eyeBlinkLeft``/``eyeBlinkRight`` and
  ``mouthSmile``, ``mouthFrown``, ``browInnerUp``, ``browDown`` for emotions. The mouth is a
  parametric shape (open, wide, round, press, tuck, tongue) evaluated per viseme;
* ``default.vrm`` (with ``--vrm``, not committed) is the same model with a ``VRMC_vrm`` 1.0
  extension (humanoid bones and the expressions ``aa ih ou ee oh``, blinks and emotions bound to
  those morph targets), so the client's VRM path has a model to load in the tests.

The code: avatar_shapes.py (surfaces, mouth), avatar_model.py (parts, skin, morphs), avatar_gltf.py
(glTF/VRM output). ``tests/test_web_avatar.py`` regenerates the GLB and checks it against the
committed one.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from avatar_gltf import add_vrm, build_gltf  # noqa: E402
from avatar_model import build_parts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "client-web" / "public" / "avatars"


def write(out_dir: Path, vrm_too: bool = False) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, vrm in (("default.glb", False), ("default.vrm", True))[:2 if vrm_too else 1]:
        gl, blob = build_gltf(build_parts())
        if vrm:
            add_vrm(gl)
        gl.set_binary_blob(blob)
        path = out_dir / name
        gl.save_binary(str(path))
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
