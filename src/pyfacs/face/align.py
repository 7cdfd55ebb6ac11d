"""Similarity-aligned face crops for the heads that pyfacs trains itself.

The template puts the eye centres and the mouth centre where they lie, on average, in the CK+48
crops the embedded AU model was trained on (48×48): a crop made here from any image looks like those.
"""
from __future__ import annotations

import cv2
import numpy as np

# eye centres (image left, image right) and mouth centre in a 48×48 crop (mean over CK+48)
TEMPLATE_48 = np.array([[14.5, 19.0], [32.5, 18.8], [23.9, 36.9]])


def _anchors(lmk68: np.ndarray) -> np.ndarray:
    return np.stack([lmk68[36:42].mean(0), lmk68[42:48].mean(0), lmk68[48:68].mean(0)])


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×2 scale·rotation that best maps centred ``src`` points onto centred ``dst`` points
    (Umeyama/Kabsch, least squares, no reflection)."""
    a, b = src - src.mean(0), dst - dst.mean(0)
    sa, sb = np.sqrt((a**2).sum() / len(a)), np.sqrt((b**2).sum() / len(b))
    a, b = a / sa, b / sb
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return (sb / sa) * (vt.T @ np.diag([1.0, d]) @ u.T)


def align_matrix(lmk68: np.ndarray, size: int = 48) -> np.ndarray:
    """2×3 similarity transform from frame pixels to the ``size``² template crop."""
    src, dst = _anchors(lmk68), TEMPLATE_48 * size / 48
    a = similarity(src, dst)
    return np.hstack([a, (dst.mean(0) - a @ src.mean(0))[:, None]])


def aligned_gray(rgb: np.ndarray, lmk68: np.ndarray, size: int = 48) -> np.ndarray:
    """(size, size) uint8 grey face, aligned to the template."""
    gray = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.warpAffine(gray, align_matrix(lmk68, size), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


# FER2013-style crop, measured on FER2013 PublicTest faces: the 468-point mesh spans 0.88 of the image
# side (median), and its centre sits 0.032 of the side below the image centre.
FER_MESH_SPAN, FER_MESH_DROP = 0.88, 0.032


def fer_crop(rgb: np.ndarray, mesh_points: np.ndarray | None, lmk68: np.ndarray, size: int = 48) -> np.ndarray:
    """(size, size) uint8 grey crop framed like FER2013's faces, upright along the eye line."""
    pts = mesh_points[:468, :2] if mesh_points is not None else lmk68
    eye_r, eye_l = lmk68[36:42].mean(0), lmk68[42:48].mean(0)
    angle = np.arctan2(eye_l[1] - eye_r[1], eye_l[0] - eye_r[0])
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # frame → upright face axes
    local = pts @ rot.T
    lo, hi = local.min(0), local.max(0)
    side = float(max(hi - lo)) / FER_MESH_SPAN * (1.0 if mesh_points is not None else 1.15)
    centre_local = (lo + hi) / 2 - np.array([0.0, FER_MESH_DROP * side])
    centre = rot.T @ centre_local
    scale = size / side
    m = np.array([[c, s, 0.0], [-s, c, 0.0]]) * scale
    m[:, 2] = np.array([size / 2, size / 2]) - m[:, :2] @ centre
    gray = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
