"""The AU sequence model's tokens, without PyTorch (``analyze`` runs that model on ONNX Runtime):
each frame's features and the windows of consecutive frames around each frame."""
from __future__ import annotations

import numpy as np

_ALIGN = [36, 39, 42, 45, 30, 33]  # eye corners and nose: the points the shape is aligned on


N_GLOBAL = 136


def global_features(lmk68: np.ndarray) -> np.ndarray:
    """(136,): landmarks after a similarity transform onto a canonical eye/nose frame (unit
    inter-ocular distance)."""
    eyes_l, eyes_r = lmk68[36:42].mean(0), lmk68[42:48].mean(0)
    centre = lmk68[_ALIGN].mean(0)
    d = eyes_r - eyes_l
    scale = max(float(np.hypot(*d)), 1e-6)
    c, s = d / scale
    rot = np.array([[c, s], [-s, c]])
    shape = (lmk68 - centre) @ rot.T / scale
    return shape.ravel().astype(np.float32)


def frame_features(au_head, rgb: np.ndarray, lmk68: np.ndarray) -> np.ndarray:
    """One frame's token input: the embedded AU model's logits, then :func:`global_features`."""
    return np.concatenate([au_head.logits(rgb, lmk68), global_features(lmk68)]).astype(np.float32)


def windows(x: np.ndarray, window: int) -> np.ndarray:
    """(n, d) per-frame features → (n, window, d): each frame with its neighbours (edges repeated)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd number of frames, not {window}")
    half = window // 2
    idx = np.clip(np.arange(len(x))[:, None] + np.arange(-half, half + 1)[None], 0, len(x) - 1)
    return x[idx]


def consecutive_runs(frames: np.ndarray, step: int) -> list[np.ndarray]:
    """Positions in ``frames`` (the frame numbers a face was seen at) split where the face was missing
    (a gap starts a run of its own, as in temporal smoothing): windows and smoothing must not mix
    values from before and after a gap."""
    return np.split(np.arange(len(frames)), np.flatnonzero(np.diff(frames) != step) + 1)


def windows_within_runs(x: np.ndarray, present: np.ndarray, window: int) -> np.ndarray:
    """:func:`windows` cut within each run of consecutive frames where ``present`` (a face was seen),
    as ``analyze`` cuts them: a window never reaches across a frame without the face. Windows of
    frames without it are of the rows as given."""
    out = windows(x, window)
    seen = np.flatnonzero(present)
    for run in consecutive_runs(seen, 1):
        out[seen[run]] = windows(x[seen[run]], window)
    return out
