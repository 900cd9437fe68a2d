"""VRM 1.0 (``VRMC_vrm``) on top of the glTF: humanoid bones, the expressions ``aa ih ou ee oh``,
blinks and emotions bound to the morph targets, look-at by the eye bones, and the meta.

VRM requires arms and legs; a bust has none, so for it they are bare nodes (no vertex follows
them) in the T-pose VRM expects, named as Ready Player Me names them.
"""

from __future__ import annotations

import numpy as np
import pygltflib as g

from avatar_engine.template.morphs import TARGETS

EXPRESSIONS = {  # VRM 1.0 preset -> {morph target: weight}
    "aa": {"viseme_aa": 1.0}, "ih": {"viseme_I": 1.0}, "ou": {"viseme_U": 1.0},
    "ee": {"viseme_E": 1.0}, "oh": {"viseme_O": 1.0},
    "blink": {"eyesClosed": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0}, "blinkRight": {"eyeBlinkRight": 1.0},
    "happy": {"mouthSmile": 1.0}, "relaxed": {"mouthSmile": 0.5},
    "sad": {"mouthFrown": 1.0, "browInnerUp": 0.8}, "angry": {"browDown": 1.0, "mouthFrown": 0.5},
    "surprised": {"browInnerUp": 1.0, "viseme_O": 0.35},
}
# VRM humanoid bone -> Ready Player Me / Mixamo name
HUMANOID = {
    "hips": "Hips", "spine": "Spine", "chest": "Spine1", "upperChest": "Spine2", "neck": "Neck",
    "head": "Head", "leftEye": "LeftEye", "rightEye": "RightEye",
    "leftShoulder": "LeftShoulder", "rightShoulder": "RightShoulder",
    "leftUpperArm": "LeftArm", "leftLowerArm": "LeftForeArm", "leftHand": "LeftHand",
    "rightUpperArm": "RightArm", "rightLowerArm": "RightForeArm", "rightHand": "RightHand",
    "leftUpperLeg": "LeftUpLeg", "leftLowerLeg": "LeftLeg", "leftFoot": "LeftFoot",
    "leftToes": "LeftToeBase", "rightUpperLeg": "RightUpLeg", "rightLowerLeg": "RightLeg",
    "rightFoot": "RightFoot", "rightToes": "RightToeBase",
}
REQUIRED = ("hips", "spine", "head", "leftUpperArm", "leftLowerArm", "leftHand",
            "rightUpperArm", "rightLowerArm", "rightHand", "leftUpperLeg", "leftLowerLeg",
            "leftFoot", "rightUpperLeg", "rightLowerLeg", "rightFoot")
# bare limbs for a bust: name, parent, world position (T-pose)
_LIMBS = [(f"{side}{part}", f"{side}{parent}" if parent != "Hips" else "Hips", (s * x, y, z))
          for side, s in (("Left", 1), ("Right", -1))
          for part, parent, x, y, z in (
              ("Arm", "Shoulder", 0.16, 1.4, -0.01), ("ForeArm", "Arm", 0.42, 1.4, -0.01),
              ("Hand", "ForeArm", 0.66, 1.4, -0.01), ("UpLeg", "Hips", 0.09, 0.9, 0.0),
              ("Leg", "UpLeg", 0.09, 0.5, 0.0), ("Foot", "Leg", 0.09, 0.08, -0.01))]


PERMISSIVE = {"avatarPermission": "everyone", "commercialUsage": "corporation",
              "allowRedistribution": True, "modification": "allowModificationRedistribution",
              "creditNotation": "unnecessary",
              "otherLicenseUrl": "https://www.apache.org/licenses/LICENSE-2.0"}
# a likeness made from someone's photo: theirs alone unless they choose otherwise
PERSONAL = {"avatarPermission": "onlyAuthor", "commercialUsage": "personalNonProfit",
            "allowRedistribution": False, "modification": "prohibited",
            "creditNotation": "required"}


def add_vrm(gl: g.GLTF2, nodes: dict[str, int], world: dict[str, np.ndarray], name: str,
            look_offset: tuple[float, float, float], permissive: bool = False) -> None:
    """Add the ``VRMC_vrm`` extension (and any missing limb nodes) to ``gl``."""
    nodes = dict(nodes)
    for bone, parent, pos in _LIMBS:
        if bone in nodes:
            continue
        world[bone] = np.asarray(pos, float)
        gl.nodes.append(g.Node(name=bone, translation=[round(float(v), 6)
                                                       for v in world[bone] - world[parent]]))
        nodes[bone] = len(gl.nodes) - 1
        par = gl.nodes[nodes[parent]]
        par.children = (par.children or []) + [nodes[bone]]
    mesh_node = nodes["AvatarMesh"]
    preset = {
        expr: {"isBinary": False, "overrideBlink": "none", "overrideLookAt": "none",
               "overrideMouth": "none",
               "morphTargetBinds": [{"node": mesh_node, "index": TARGETS.index(t), "weight": wt}
                                    for t, wt in binds.items()]}
        for expr, binds in EXPRESSIONS.items()}
    bones = {vrm: {"node": nodes[rpm]} for vrm, rpm in HUMANOID.items() if rpm in nodes}
    gl.extensionsUsed = sorted(set(gl.extensionsUsed or []) | {"VRMC_vrm"})
    gl.extensions = {**(gl.extensions or {}), "VRMC_vrm": {
        "specVersion": "1.0",
        "meta": {"name": name, "version": "1", "authors": ["avatar-realtime"],
                 "licenseUrl": "https://vrm.dev/licenses/1.0/",
                 **(PERMISSIVE if permissive else PERSONAL)},
        "humanoid": {"humanBones": bones},
        "expressions": {"preset": preset},
        "lookAt": {"type": "bone", "offsetFromHeadBone": list(look_offset)},
    }}
