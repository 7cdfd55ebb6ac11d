"""What OpenDR's ``FacialEmotionLearner`` methods take as images, turned into the network's input:
(n, 48, 48) grey uint8 faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pyfacs.errors import InputError


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """One image's pixels as uint8: uint8 as it is; other integers in 0..255; floats in [0, 1]
    (OpenDR's tensors) or in [0, 255]. Decided per image, so that a batch gives what its images give
    one at a time; anything else is refused rather than clipped into a confident wrong answer."""
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError("an image holds NaN or infinite pixel values")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0 or hi > 255:
        raise InputError(f"pixel values must lie in [0, 1] or [0, 255], not [{lo:.4g}, {hi:.4g}]: scale the image "
                         "(16-bit images to 8 bits; pyfacs's network input, [-0.5, 0.5]: add 0.5)")
    a = a.astype(np.float64)
    if a.dtype.kind == "f" and hi <= 1.0:
        a = a * 255.0
    return np.round(a).astype(np.uint8)


def _one_face(a: np.ndarray, *, channels_first: bool, bgr: bool = False) -> np.ndarray:
    """One image (H, W), (H, W, C) or (C, H, W) → 48×48 grey uint8."""
    import cv2

    a = _to_uint8(a)
    if a.ndim == 3:
        a = np.moveaxis(a, 0, -1) if channels_first else a
        if a.shape[-1] == 1:
            a = a[..., 0]
        elif a.shape[-1] in (3, 4):
            a = cv2.cvtColor(np.ascontiguousarray(a[..., :3]), cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY)
    if a.ndim != 2:
        raise InputError(f"an image must be (H, W) grey or have 1, 3 or 4 channels, not {a.shape}")
    if a.shape != (48, 48):
        a = cv2.resize(np.ascontiguousarray(a), (48, 48), interpolation=cv2.INTER_AREA)
    return a


def as_faces(batch) -> np.ndarray:
    """What ``infer``/``fit``/``eval`` accept → (n, 48, 48) uint8: image paths, OpenDR ``Image``s (or
    lists of them), torch tensors or arrays: (H, W) or (n, H, W) grey, (n, C, H, W) or (n, H, W, C)
    with 1, 3 (RGB; an OpenDR ``Image``: BGR) or 4 channels; uint8, other integers in 0..255, or
    floats in [0, 1] (OpenDR's tensors) or in [0, 255]. A torch tensor (1 or 3, H, W) is one image, as
    in OpenDR; a numpy array (n, H, W) is n grey faces, as pyfacs's loaders give them."""
    if isinstance(batch, (str, Path)):
        from pyfacs.io.media import read_image

        batch = read_image(Path(batch))[None]
    if isinstance(batch, (list, tuple)):
        return np.concatenate([as_faces(b) for b in batch]) if batch else np.zeros((0, 48, 48), np.uint8)
    from_image = hasattr(batch, "data") and not hasattr(batch, "detach") and not isinstance(batch, np.ndarray)
    a = getattr(batch, "data", batch) if from_image else batch
    tensor = hasattr(a, "detach")  # torch's layout: (C, H, W) is one image, as in OpenDR's examples
    if tensor:
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "uif" or a.size == 0:
        raise InputError(f"images must be non-empty numeric arrays, not {a.dtype} of shape {a.shape}")
    if from_image or a.ndim == 2 or (tensor and a.ndim == 3 and a.shape[0] in (1, 3)):
        return _one_face(a, channels_first=a.ndim == 3 and (from_image or tensor), bgr=from_image)[None]
    if a.ndim == 3:  # (n, H, W) grey; one (H, W, C) image, whose last axis is far shorter than a face
        return _one_face(a, channels_first=False)[None] if a.shape[-1] <= 4 < a.shape[0] \
            else np.stack([_one_face(f, channels_first=False) for f in a])
    if a.ndim == 4:
        first = a.shape[1] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4)
        return np.stack([_one_face(f, channels_first=first) for f in a])
    raise InputError(f"images must be (H, W), (n, H, W), (n, C, H, W) or (n, H, W, C), not {a.shape}")
