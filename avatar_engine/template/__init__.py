"""The template engine: our parametric avatar (numpy + pygltflib), coloured and textured from a
photo. ``python -m avatar_engine.template`` writes the default avatar
(``client-web/public/avatars/default.glb``). See :mod:`.avatar` for the steps."""

from avatar_engine.template.avatar import Avatar, build, clips, export, face, make, rig
from avatar_engine.template.spec import Look, Proportions, Spec

__all__ = ["Avatar", "Look", "Proportions", "Spec", "build", "clips", "export", "face", "make",
           "rig"]
