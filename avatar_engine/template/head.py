"""The head's geometry for a :class:`~.spec.Spec`: the skull, where the face sits, the hair for
each hairstyle, and the mouth as a function of its parameters (open, wide, round, press, tuck,
tongue, smile, frown) -- the visemes are the same mouth with other parameters."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from avatar_engine.template.shapes import ellipsoid, sphere_dir, surface
from avatar_engine.template.spec import Spec

HEAD_C = np.array([0.0, 1.615, 0.0])
HEAD_R = np.array([0.112, 0.132, 0.118])
EYE_Y = 1.634
EYE_X = 0.045
MOUTH_Y = 1.556
MOUTH_HALF_W = 0.027


class Head:
    def __init__(self, spec: Spec) -> None:
        p = spec.proportions
        self.spec = spec
        self.c = HEAD_C
        self.r = HEAD_R * np.array([p.head_width, 1.0, (1.0 + p.head_width) / 2])
        self.eye_x = EYE_X * p.eye_spacing * p.head_width
        self.eye_y = EYE_Y
        self.mouth_y = EYE_Y - (EYE_Y - MOUTH_Y) * p.mouth_drop
        self.mouth_half_w = MOUTH_HALF_W * p.mouth_width
        self.taper = 0.15 * p.jaw

    # ------------------------------------------------------------------ the skull
    def skull(self, uu, vv):
        p = sphere_dir(uu, vv)
        y = p[..., 1]
        # narrower towards the chin, a touch fuller at the cheeks
        taper = 1.0 - self.taper * np.clip(-y, 0, 1) ** 1.5 + 0.03 * np.exp(-((y + 0.25) / 0.2) ** 2)
        chin = 1.0 + 0.06 * np.clip(-y - 0.5, 0, 1)  # the chin forward a little
        return np.stack([p[..., 0] * self.r[0] * taper, y * self.r[1],
                         p[..., 2] * self.r[2] * np.where(p[..., 2] > 0, chin, 1.0)],
                        axis=-1) + self.c

    @cached_property
    def _front(self) -> np.ndarray:
        uu, vv = np.meshgrid(np.linspace(0.3, 0.8, 300), np.linspace(-0.25, 0.25, 300),
                             indexing="ij")
        return self.skull(uu, vv % 1.0).reshape(-1, 3)

    def front_z(self, x: float, y: float) -> float:
        """z of the skull's surface in front of (x, y) (the face is where features sit)."""
        p = self._front
        i = np.argmin((p[:, 0] - x) ** 2 + (p[:, 1] - y) ** 2)
        return float(p[i, 2])

    @cached_property
    def mouth_z(self) -> float:
        return self.front_z(0.0, self.mouth_y)

    # ------------------------------------------------------------------ hair
    def hair(self) -> list[tuple[str, tuple]]:
        """(part name, mesh) of the hairstyle: a cap, and locks, a bun or long hair behind."""
        style = self.spec.hair
        cover = {"bun": 0.38, "bob": 0.46, "short": 0.3, "long": 0.42}[style]
        top = 0.3 if style != "short" else 0.27
        r, c = self.r, self.c

        def cap(uu, vv):
            ph = vv * 2 * np.pi
            back = ((1 - np.cos(ph)) / 2) ** 0.8
            front = np.clip(np.cos(ph), 0, 1)
            th_max = np.pi * (top + cover * back + 0.04 * front * np.abs(np.sin(4.5 * ph)))
            th = uu * th_max
            d = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], axis=-1)
            scale = r * np.array([1.1, 1.08, 1.09])
            puff = 1.0 + 0.03 * np.sin(uu * np.pi)  # a little volume in the middle
            return d * scale * puff[..., None] + c + np.array([0.0, 0.012, -0.006])

        out = [("hair", surface(cap, 22, 72, 0.0, 0.999))]
        if style in ("bun", "bob", "long"):
            length = {"bun": 0.075, "bob": 0.1, "long": 0.13}[style]
            for side in (1, -1):  # locks framing the face, in front of the ears
                out.append((f"lock{side}", surface(ellipsoid(
                    (side * r[0] * 0.875, 1.6 - (length - 0.075), 0.03),
                    (0.028, length, 0.05), rot_z=side * 0.12), 12, 20)))
        if style == "bun":
            out.append(("bun", surface(ellipsoid((0, 1.735, -0.085), (0.052, 0.05, 0.05)),
                                       12, 20)))
        if style == "long":  # hair down the back to the shoulders
            out.append(("back_hair", surface(ellipsoid((0, 1.5, -0.07),
                                                       (r[0] * 1.12, 0.19, 0.075)), 18, 32)))
        return out

    # ------------------------------------------------------------------ mouth
    def mouth(self, p: dict[str, float]):
        """Every mouth part for the parameters ``p``; the same vertex order for any ``p``."""
        open_, wide, rnd = p.get("open", 0.0), p.get("wide", 0.0), p.get("round", 0.0)
        press, tuck = p.get("press", 0.0), p.get("tuck", 0.0)
        smile, frown = p.get("smile", 0.0), p.get("frown", 0.0)
        half_w = self.mouth_half_w * (1 + 0.22 * wide - 0.36 * rnd + 0.1 * smile)
        up = 0.0035 + 0.004 * open_ + 0.004 * rnd - 0.0015 * press
        down = 0.0035 + 0.019 * open_ + 0.006 * rnd - 0.0015 * press
        pout = 0.007 * rnd
        tube_y = 0.0052 * (1 - 0.45 * press)
        my, mz = self.mouth_y, self.mouth_z

        def lips(uu, vv):
            a, b = vv * 2 * np.pi, uu * 2 * np.pi
            ca, sa = np.cos(a), np.sin(a)
            x = ca * half_w
            y = np.where(sa >= 0, sa * up, sa * down)
            corner = ca ** 2
            y = y + corner * (0.0045 * smile - 0.004 * frown)
            lower = np.clip(-sa, 0, 1)
            y = y + lower * 0.004 * tuck
            z = mz + 0.003 - 2.4 * x ** 2 + pout * (1 - corner * 0.6) - lower * 0.004 * tuck
            cb, sb = np.cos(b), np.sin(b)
            return np.stack([x + cb * ca * 0.0052, y + cb * sa * tube_y + my,
                             z + sb * 0.0058], axis=-1)

        mid_y = my + (up - down) / 2
        gap = up + down
        tongue_up, tongue_out = p.get("tongue_up", 0.0), p.get("tongue_out", 0.0)
        return {
            "lips": surface(lips, 12, 40, 0.0, 1.0),
            "mouth": surface(ellipsoid((0, mid_y, mz - 0.004),
                                       (half_w * 0.92, max(0.0025, gap * 0.55), 0.008)), 8, 20),
            "teeth_up": surface(ellipsoid((0, my + up - 0.006, mz - 0.0008),
                                          (half_w * 0.62, 0.004, 0.0045)), 6, 16),
            "teeth_down": surface(ellipsoid((0, my - down + 0.004, mz - 0.0045 - 0.003 * tuck),
                                            (half_w * 0.5, 0.0026, 0.004)), 6, 16),
            "tongue": surface(ellipsoid((0, my - down + 0.0045 + 0.007 * tongue_up
                                         + 0.004 * tongue_out, mz - 0.009 + 0.013 * tongue_out),
                                        (0.012, 0.0042, 0.009)), 6, 16),
        }
