"""Reading a GLB back (pygltflib): accessors as numpy arrays, dense, sparse or all zeros."""

from __future__ import annotations

import numpy as np
import pygltflib as g

DTYPES = {g.FLOAT: np.float32, g.UNSIGNED_SHORT: np.uint16, g.UNSIGNED_BYTE: np.uint8,
          g.UNSIGNED_INT: np.uint32, g.SHORT: np.int16, g.BYTE: np.int8}
SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def load(data: bytes) -> g.GLTF2:
    return g.GLTF2.load_from_bytes(data)


def accessor(gl: g.GLTF2, index: int) -> np.ndarray:
    acc = gl.accessors[index]
    blob = gl.binary_blob()
    n = SIZES[acc.type]

    def view(bv_index, comp, count, offset=0):
        bv = gl.bufferViews[bv_index]
        return np.frombuffer(blob, DTYPES[comp], count, (bv.byteOffset or 0) + (offset or 0))

    if acc.bufferView is None:
        out = np.zeros((acc.count, n), np.float32)
    else:
        out = view(acc.bufferView, acc.componentType, acc.count * n,
                   acc.byteOffset).reshape(acc.count, n).copy()
    if acc.sparse:
        s = acc.sparse
        idx = view(s.indices.bufferView, s.indices.componentType, s.count, s.indices.byteOffset)
        vals = view(s.values.bufferView, acc.componentType, s.count * n, s.values.byteOffset)
        out[idx.astype(int)] = vals.reshape(-1, n)
    return out


def image_size(gl: g.GLTF2, image: g.Image) -> tuple[int, int]:
    """(width, height) of an embedded PNG or JPEG, from its header."""
    import io

    from PIL import Image

    bv = gl.bufferViews[image.bufferView]
    data = gl.binary_blob()[bv.byteOffset or 0:(bv.byteOffset or 0) + bv.byteLength]
    with Image.open(io.BytesIO(data)) as im:
        return im.size
