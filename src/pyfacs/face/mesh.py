"""MediaPipe FaceMesh (468 points + 2x5 iris points = 478) and its iBUG-68 subset, on LiteRT."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyfacs.face.roi import Roi, apply_affine, invert_affine, roi_from_points, rotation_between
from pyfacs.models import get_model
from pyfacs.models.hub import resolve_one
from pyfacs.models.runtime import TFLiteModel

# iBUG-68 (dlib/OpenFace order) as FaceMesh vertices, chosen from the mesh topology so that each
# point sits where the iBUG annotation guide puts it; pairs are mirror-symmetric in the mesh.
MESH_TO_68 = np.array([
    127, 234, 93, 132, 58, 172, 150, 176, 152, 400, 379, 397, 288, 361, 323, 454, 356,  # jaw 0-16
    70, 63, 105, 66, 107,  # right brow 17-21 (subject's right = image left)
    336, 296, 334, 293, 300,  # left brow 22-26
    168, 197, 5, 4,  # nose bridge 27-30
    98, 97, 2, 326, 327,  # nostrils 31-35
    33, 160, 158, 133, 153, 144,  # right eye 36-41
    362, 385, 387, 263, 373, 380,  # left eye 42-47
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lips 48-59
    78, 81, 13, 311, 308, 402, 14, 178,  # inner lips 60-67
])
# lower brow contour: iBUG brow points lie between the upper and lower edges of the brow
_BROW_LOWER = np.array([46, 53, 52, 65, 55, 285, 295, 282, 283, 276])

RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = (33, 133), (362, 263)


@dataclass
class MeshResult:
    points: np.ndarray  # (468 or 478, 3) x, y in frame pixels, z at the same scale (towards camera < 0)
    score: float  # face presence probability from the mesh network

    def lmk68(self) -> np.ndarray:
        pts = self.points[MESH_TO_68, :2].copy()
        pts[17:27] = 0.5 * (pts[17:27] + self.points[_BROW_LOWER, :2])
        return pts


class FaceMesh:
    """Landmarks in a rotated square ROI; the ROI comes from a detection or the previous frame's mesh."""

    ROI_SCALE = 1.5  # the network was trained on crops 1.5x the face's extent

    def __init__(self, *, with_iris: bool = False, num_threads: int = 1):
        self._net = TFLiteModel(resolve_one(get_model("facemesh.468")), num_threads=num_threads)
        self.size = self._net.input_shape[1]
        self._iris = (TFLiteModel(resolve_one(get_model("facemesh.iris")), num_threads=num_threads)
                      if with_iris else None)

    @staticmethod
    def roi_from_detection(box: np.ndarray, keypoints: np.ndarray) -> Roi:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        size = max(box[2] - box[0], box[3] - box[1]) * FaceMesh.ROI_SCALE
        return Roi(float(cx), float(cy), float(size), rotation_between(keypoints[0], keypoints[1]))

    @staticmethod
    def roi_from_mesh(points: np.ndarray) -> Roi:
        return roi_from_points(points[:, :2], points[RIGHT_EYE_OUTER, :2], points[LEFT_EYE_OUTER, :2],
                               FaceMesh.ROI_SCALE)

    def __call__(self, rgb: np.ndarray, roi: Roi) -> MeshResult:
        crop, m = roi.crop(rgb, self.size)
        outs = self._net(crop.astype(np.float32)[None] / 255.0)
        raw, flag = (outs[k] for k in sorted(outs, key=lambda k: outs[k].size, reverse=True))
        pts = raw.reshape(-1, 3).astype(np.float64)
        inv = invert_affine(m)
        xy = apply_affine(inv, pts[:, :2])
        z = pts[:, 2:] * roi.size / self.size
        points = np.concatenate([xy, z], 1)
        if self._iris is not None:
            points = np.concatenate([points, self._iris_points(rgb, points)], 0)
        return MeshResult(points, float(1 / (1 + np.exp(-np.clip(float(flag.ravel()[0]), -100, 100)))))

    def _iris_points(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """10 iris points (centre + 4 on the rim per eye; image-left eye first, as MediaPipe's 478)."""
        out = []
        for (a, b), mirror in ((RIGHT_EYE_CORNERS, False), (LEFT_EYE_CORNERS, True)):
            pa, pb = points[a, :2], points[b, :2]
            centre = (pa + pb) / 2
            roi = Roi(float(centre[0]), float(centre[1]), float(np.linalg.norm(pb - pa) * 2.3),
                      rotation_between(pa, pb))
            crop, m = roi.crop(rgb, 64)
            if mirror:  # the iris network only knows one eye; show it the other one mirrored
                crop = np.ascontiguousarray(crop[:, ::-1])
            iris = self._iris(crop.astype(np.float32)[None] / 255.0)["output_iris"].reshape(5, 3)
            iris = iris.astype(np.float64)
            if mirror:
                iris[:, 0] = 64 - iris[:, 0]
            xy = apply_affine(invert_affine(m), iris[:, :2])
            out.append(np.concatenate([xy, iris[:, 2:] * roi.size / 64], 1))
        return np.concatenate(out, 0)
