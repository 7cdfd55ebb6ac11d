"""Head pose from the 3D face mesh.

The mesh network returns a weak-perspective 3D face in its crop's frame. We read the face's own axes
off the mesh (ear-to-ear from mirror-symmetric vertex pairs, brow-to-chin orthogonalised to it), then
turn that crop-frame rotation into the camera frame by the rotation that carries the optical axis onto
the ray through the face, with OpenFace's default camera (focal length the mean of 500 px per 640 px of
width and 500 px per 480 px of height, principal point at the image centre) so that angles are
comparable with OpenFace's. Angles are OpenFace's convention: R = Rx(pitch) · Ry(yaw) · Rz(roll),
camera x right, y down, z forward.
"""
from __future__ import annotations

import numpy as np

_SYMMETRIC_PAIRS = np.array([(33, 263), (133, 362), (61, 291), (234, 454), (127, 356), (70, 300), (58, 288)])
_UPPER = np.array([168, 6, 9])  # between the brows
_LOWER = np.array([152, 17, 0])  # chin and lip centres


def face_axes(points: np.ndarray) -> np.ndarray:
    """3x3 rotation whose columns are the face's x (towards its left), y (down), z (backwards)."""
    d = points[_SYMMETRIC_PAIRS[:, 1], :3] - points[_SYMMETRIC_PAIRS[:, 0], :3]
    ex = (d / np.linalg.norm(d, axis=1, keepdims=True)).sum(0)
    ex /= np.linalg.norm(ex)
    down = points[_LOWER, :3].mean(0) - points[_UPPER, :3].mean(0)
    ey = down - ex * (down @ ex)
    ey /= np.linalg.norm(ey)
    return np.stack([ex, ey, np.cross(ex, ey)], 1)


def _ray_rotation(px: float, py: float, focal: float, cx: float, cy: float) -> np.ndarray:
    d = np.array([(px - cx) / focal, (py - cy) / focal, 1.0])
    d /= np.linalg.norm(d)
    v = np.cross([0.0, 0.0, 1.0], d)
    s, c = np.linalg.norm(v), d[2]
    if s < 1e-12:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * ((1 - c) / s**2)  # Rodrigues


def openface_focal(width: int, height: int) -> float:
    """OpenFace's default focal length in pixels (SequenceCapture): the mean of its 4:3 guesses."""
    return (500.0 * width / 640.0 + 500.0 * height / 480.0) / 2.0


def head_pose_deg(points: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(pitch, yaw, roll) in degrees for one face's mesh in frame pixels."""
    focal = openface_focal(width, height)
    centre = points[:468, :2].mean(0)  # (the mesh's: the 10 iris points of --landmarks 478 left out)
    r = _ray_rotation(centre[0], centre[1], focal, width / 2, height / 2) @ face_axes(points)
    pitch = np.arctan2(-r[1, 2], r[2, 2])
    yaw = np.arcsin(np.clip(r[0, 2], -1.0, 1.0))
    roll = np.arctan2(-r[0, 1], r[0, 0])
    return tuple(float(np.degrees(a)) for a in (pitch, yaw, roll))
