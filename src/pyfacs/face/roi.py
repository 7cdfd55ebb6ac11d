"""Rotated square regions of interest and the affine crops that feed the landmark networks."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    cx: float
    cy: float
    size: float  # side of the square, pixels of the original frame
    angle: float  # radians; the face's up direction is rotated by this much from the image's

    def crop_matrix(self, out: int) -> np.ndarray:
        """2x3 affine that maps frame pixels to the ``out``x``out`` crop (upright face)."""
        s = out / self.size
        c, si = np.cos(self.angle), np.sin(self.angle)
        # rotate frame by -angle around the ROI centre so the face stands upright, then scale
        m = np.array([[c, si, 0.0], [-si, c, 0.0]]) * s
        m[:, 2] = np.array([out / 2, out / 2]) - m[:, :2] @ np.array([self.cx, self.cy])
        return m

    def crop(self, rgb: np.ndarray, out: int) -> tuple[np.ndarray, np.ndarray]:
        m = self.crop_matrix(out)
        img = cv2.warpAffine(rgb, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return img, m


def rotation_between(p_right: np.ndarray, p_left: np.ndarray) -> float:
    """Angle of the line from the subject's right eye (image left) to their left eye."""
    return float(np.arctan2(p_left[1] - p_right[1], p_left[0] - p_right[0]))


def invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def roi_from_points(pts: np.ndarray, p_right: np.ndarray, p_left: np.ndarray, scale: float) -> Roi:
    """Square ROI around ``pts`` in the face's own rotated frame, enlarged by ``scale``."""
    angle = rotation_between(p_right, p_left)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # frame → face-upright axes
    local = pts @ rot.T
    lo, hi = local.min(0), local.max(0)
    centre = rot.T @ ((lo + hi) / 2)
    size = float(max(hi - lo)) * scale
    return Roi(float(centre[0]), float(centre[1]), size, angle)
