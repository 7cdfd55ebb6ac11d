"""The 112×112 similarity-aligned, masked face that OpenFace's appearance features are computed on.

The landmarks' rigid points (eye corners, nose, face sides: points that move little with expression)
are aligned to the PDM mean shape scaled by 0.7 (rotation + uniform scale, Kabsch/Umeyama); the PDM
fit's translation centres the face. Pixels outside the face (the hull of the 68 points, with the brow
and top jaw points raised by 30 px so that the forehead stays in) are set to zero.
"""
from __future__ import annotations

import cv2
import numpy as np

from pyfacs.face.align import similarity

SIZE = 112
SIM_SCALE = 0.7
RIGID = np.array([1, 2, 3, 4, 12, 13, 14, 15, 27, 28, 29, 31, 32, 33, 34, 35, 36, 39, 40, 41, 42, 45, 46, 47])
_RAISED = np.array([0, 16, *range(17, 27)])


class FaceAligner:
    def __init__(self, mean_shape: np.ndarray):
        self.reference = mean_shape[:, :2] * SIM_SCALE

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
        # OpenFace fills each triangle of its 68-point triangulation; their union is the convex hull
        # of the points up to ~3 border pixels a frame (measured on the reference clip), and one hull
        # fill costs a hundredth of 111 triangle fills.
        fixed = np.round(pts * 256).astype(np.int32)  # sub-pixel vertices (shift=8)
        cv2.fillConvexPoly(mask, cv2.convexHull(fixed), 1, lineType=cv2.LINE_8, shift=8)
        return face * mask[:, :, None] if face.ndim == 3 else face * mask
