"""The checks every produced GLB/VRM passes (the ``check`` step): the Khronos glTF-Validator
(:mod:`.gltf_validator`) and our own rules (:mod:`.rules`: names, bones, clips, budgets)."""
