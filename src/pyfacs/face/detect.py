"""BlazeFace face detection (MediaPipe's short- and full-range tflite models) on LiteRT.

Decoding follows the published model cards: SSD anchors on a square, letterboxed input, box and six
keypoints (right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion) regressed per
anchor, weighted non-maximum suppression.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pyfacs.models import get_model
from pyfacs.models.hub import resolve_one
from pyfacs.models.runtime import TFLiteModel


@dataclass
class Detection:
    box: np.ndarray  # x1, y1, x2, y2 in frame pixels
    keypoints: np.ndarray  # (6, 2) frame pixels
    score: float


def _anchors(size: int, strides: list[int], per_cell: list[int]) -> np.ndarray:
    out = []
    for stride, n in zip(strides, per_cell):
        g = size // stride
        ys, xs = np.mgrid[0:g, 0:g]
        centres = np.stack([(xs + 0.5) / g, (ys + 0.5) / g], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, n, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


_VARIANTS = {
    # name: (input size, strides, anchors per cell, score threshold)
    "blazeface.short-range": (128, [8, 16], [2, 6], 0.5),
    "blazeface.full-range": (192, [4], [1], 0.6),
}


class FaceDetector:
    def __init__(self, model: str = "blazeface.short-range", *, min_score: float | None = None,
                 num_threads: int = 1):
        size, strides, per_cell, thr = _VARIANTS[model]
        self.size = size
        self.min_score = thr if min_score is None else min_score
        self._net = TFLiteModel(resolve_one(get_model(model)), num_threads=num_threads)
        self._anchors = _anchors(size, strides, per_cell)

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        side = max(h, w)
        scale = side / self.size
        pad_x, pad_y = (side - w) / 2, (side - h) / 2
        # letterbox to a square (the networks were trained on undistorted faces)
        m = np.array([[1 / scale, 0, pad_x / scale], [0, 1 / scale, pad_y / scale]], np.float64)
        img = cv2.warpAffine(rgb, m, (self.size, self.size), flags=cv2.INTER_LINEAR)
        x = img.astype(np.float32)[None] / 127.5 - 1.0
        outs = list(self._net(x).values())
        reg, cls = (outs if outs[0].shape[-1] == 16 else outs[::-1])
        reg, cls = reg[0], cls[0, :, 0]
        scores = 1 / (1 + np.exp(-np.clip(cls.astype(np.float64), -100, 100)))
        keep = np.nonzero(scores >= self.min_score)[0]
        if keep.size == 0:
            return []
        a = self._anchors[keep]
        r = reg[keep] / self.size
        cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)
        kps = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
        dets = _weighted_nms(boxes, kps, scores[keep], iou_thr=0.3)
        for d in dets:  # back to frame pixels
            d.box = d.box * side - np.array([pad_x, pad_y, pad_x, pad_y])
            d.keypoints = d.keypoints * side - np.array([pad_x, pad_y])
        return dets


def _area(z: np.ndarray) -> np.ndarray:
    return (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    return np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box ``a`` against many ``b`` (x1, y1, x2, y2)."""
    inter = _intersection(a, b)
    return inter / np.maximum(_area(a) + _area(b) - inter, 1e-9)


def containment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection of one box ``a`` with many ``b``, over the smaller box's area: near 1 when one
    lies inside the other, however different their sizes (where IoU stays low)."""
    return _intersection(a, b) / np.maximum(np.minimum(_area(a), _area(b)), 1e-9)


def _weighted_nms(boxes, kps, scores, iou_thr) -> list[Detection]:
    order = np.argsort(-scores)
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    out: list[Detection] = []
    alive = np.ones(len(scores), bool)
    for i in range(len(scores)):
        if not alive[i]:
            continue
        group = alive & (iou(boxes[i], boxes) > iou_thr)
        group[i] = True
        wts = scores[group][:, None]
        out.append(Detection(
            box=(boxes[group] * wts).sum(0) / wts.sum(),
            keypoints=(kps[group] * wts[:, :, None]).sum(0) / wts.sum(),
            score=float(scores[i]),
        ))
        alive &= ~group
    return out
