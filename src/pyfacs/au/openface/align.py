"""The 112×112 similarity-aligned, masked face that OpenFace's appearance features are computed on.

The landmarks' rigid points (eye corners, nose, face sides: points that move little with expression)
are aligned to the PDM mean shape scaled by 0.7 (rotation + uniform scale, Kabsch/Umeyama); the PDM
fit's translation centres the face. Pixels outside the face (the triangulated 68-point hull, with the
brow and top jaw points raised by 30 px so that the forehead stays in) are set to zero.
"""
from __future__ import annotations

import cv2
import numpy as np

SIZE = 112
SIM_SCALE = 0.7
RIGID = np.array([1, 2, 3, 4, 12, 13, 14, 15, 27, 28, 29, 31, 32, 33, 34, 35, 36, 39, 40, 42, 45, 47])
_RAISED = np.array([0, 16, *range(17, 27)])


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×2 scale·rotation that best maps centred ``src`` points onto centred ``dst`` points."""
    a, b = src - src.mean(0), dst - dst.mean(0)
    sa, sb = np.sqrt((a**2).sum() / len(a)), np.sqrt((b**2).sum() / len(b))
    a, b = a / sa, b / sb
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, d]) @ u.T
    return (sb / sa) * rot


class FaceAligner:
    def __init__(self, mean_shape: np.ndarray, triangles: np.ndarray):
        self.reference = mean_shape[:, :2] * SIM_SCALE
        self.triangles = triangles

    def warp_matrix(self, landmarks: np.ndarray, translation: np.ndarray) -> np.ndarray:
        a = similarity(landmarks[RIGID], self.reference[RIGID])
        t = a @ translation
        return np.hstack([a, (np.array([SIZE / 2, SIZE / 2]) - t)[:, None]])

    def __call__(self, image: np.ndarray, landmarks: np.ndarray, translation: np.ndarray) -> np.ndarray:
        m = self.warp_matrix(landmarks, translation)
        face = cv2.warpAffine(image, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
        pts = landmarks @ m[:, :2].T + m[:, 2]
        pts[_RAISED, 1] -= 30.0
        mask = np.zeros((SIZE, SIZE), np.uint8)
        for tri in self.triangles:
            cv2.fillConvexPoly(mask, np.round(pts[tri]).astype(np.int32), 1)
        return face * mask[:, :, None] if face.ndim == 3 else face * mask


def read_triangles(path) -> np.ndarray:
    """OpenFace's ``tris_68_full.txt``: count line(s) then one triangle (3 point indices) a line."""
    rows = [l.split() for l in open(path).read().splitlines() if l.strip()]
    tris = [list(map(int, r)) for r in rows if len(r) == 3]
    return np.array(tris, np.int32)
