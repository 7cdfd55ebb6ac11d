"""FER2013 in its two on-disk forms.

* Image folders: ``<root>/labels.csv`` with ``path,emotion,fer2013_label,usage`` and the images under
  ``train/<emotion>/`` and ``val/<emotion>/`` (48×48 grey).
* The original CSV: ``emotion,pixels,Usage`` (label 0-6, 2304 space-separated grey values, the split).
Labels are FER2013's order: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError
from pyfacs.io.csvfile import read_csv

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def _usage(split: str) -> str:
    if split not in USAGE:
        raise InputError(f"split must be one of {', '.join(USAGE)}, not {split!r}")
    return USAGE[split]


def _labels(values: pd.Series, where: str) -> np.ndarray:
    """FER2013 class indices 0-6; an InputError naming the first bad one."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(v) | (v != np.round(v)) | (v < 0) | (v >= len(LABELS))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{where}: label {values.iloc[i]!r} in data row {values.index[i] + 1} is not a class 0-6 "
                         f"({', '.join(LABELS)})")
    return v.astype(np.int64)


def load_fer2013_folder(root: str | Path, split: str = "train", limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 48, 48) uint8, labels (n,) int64) of one split."""
    from PIL import Image, UnidentifiedImageError

    usage = _usage(split)
    root = Path(root)
    if not (root / "labels.csv").is_file():
        raise InputError(f"{root} is not a FER2013 folder: it has no labels.csv")
    df = read_csv(root / "labels.csv", "FER2013 labels.csv (path,emotion,fer2013_label,usage)")
    if not {"path", "fer2013_label", "usage"} <= set(df.columns):
        raise InputError(f"{root / 'labels.csv'} needs the columns path, fer2013_label and usage")
    df = df[df["usage"].astype(str).str.strip() == usage]
    if df.empty:
        raise InputError(f"{root / 'labels.csv'} has no {usage} rows (split {split!r})")
    if limit is not None and not (isinstance(limit, (int, np.integer)) and limit >= 1):
        raise InputError(f"limit must be a whole number of images, at least 1, not {limit!r}")
    if limit is not None:  # a fixed random subset (the file is sorted by class)
        df = df.sample(n=min(limit, len(df)), random_state=0).sort_index()
    labels = _labels(df["fer2013_label"], str(root / "labels.csv"))
    blank = df["path"].isna() | (df["path"].astype(str).str.strip() == "")
    if blank.any():
        raise InputError(f"{root / 'labels.csv'}, data row {df.index[int(np.argmax(blank.to_numpy()))] + 1}: the "
                         "path cell is empty; give the image's path relative to the folder")
    images = np.zeros((len(df), 48, 48), np.uint8)
    for i, rel in enumerate(df["path"]):
        try:
            with Image.open(root / rel) as im:
                face = _grey(im)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"{root / rel} cannot be read as an image ({exc.strerror or type(exc).__name__}); "
                             "labels.csv names it") from None
        if face.shape != (48, 48):
            raise InputError(f"{root / rel} is {face.shape[1]}×{face.shape[0]}, FER2013 faces are 48×48")
        images[i] = face
    return images, labels


def _grey(im) -> np.ndarray:
    """A PIL image as grey uint8; 16-bit and float images scaled as a viewer shows them (PIL's own
    convert("L") clips them to black and white)."""
    from pyfacs.io.media import WIDE_MODES, pil_to_rgb

    return pil_to_rgb(im)[..., 0] if im.mode in WIDE_MODES else np.asarray(im.convert("L"))


def load_fer2013_csv(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    usage = _usage(split)
    df = read_csv(path, "FER2013 CSV (emotion,pixels,Usage)", dtype={"pixels": str})
    if not {"emotion", "pixels", "Usage"} <= set(df.columns):
        raise InputError(f"{path} is not the FER2013 CSV: it needs emotion, pixels and Usage columns")
    df = df[df["Usage"].astype(str).str.strip() == usage]
    if df.empty:
        raise InputError(f"{path} has no {usage} rows (split {split!r})")
    images = np.zeros((len(df), 48, 48), np.uint8)
    for i, (row, pixels) in enumerate(df["pixels"].items()):
        try:
            values = np.array(str(pixels).split(), np.int64)
        except (ValueError, OverflowError):
            values = None
        if values is None or values.size != 48 * 48 or values.min() < 0 or values.max() > 255:
            raise InputError(f"{path}, data row {row + 1}: pixels must be 2304 whole numbers 0-255 (48×48), "
                             f"space-separated; got {str(pixels)[:40]!r}")
        images[i] = values.reshape(48, 48)
    return images, _labels(df["emotion"], str(path))


def crop_landmarks(images: np.ndarray, progress=None) -> np.ndarray:
    """(n, 68, 2) float32 landmarks of face crops (n, H, W) uint8, in crop pixels (FaceMesh, no detection)."""
    from pyfacs.face.faces import FaceFinder

    finder = FaceFinder(max_faces=1)
    out = np.zeros((len(images), 68, 2), np.float32)
    for i, im in enumerate(images):
        out[i] = finder.cropped(np.repeat(im[:, :, None], 3, 2)).lmk68
        if progress:
            progress(i + 1, len(images))
    return out


def cached_landmarks(cache: str | Path, images: np.ndarray) -> np.ndarray:
    """Landmarks of ``images`` from the cache file, keyed by the images' SHA-256 (computed and added
    when absent, so that a cache never answers for other images)."""
    import hashlib
    import logging
    import os

    cache = Path(cache)
    key = "lmk_" + hashlib.sha256(images.tobytes()).hexdigest()[:24]
    stored = dict(np.load(cache)) if cache.is_file() else {}
    if key not in stored:
        logging.getLogger(__name__).info("landmarks of %d images → %s", len(images), cache)
        stored[key] = crop_landmarks(images)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")  # concurrent runs: no clash
        np.savez_compressed(tmp, **stored)
        tmp.replace(cache)
    return stored[key].astype(np.float32)
