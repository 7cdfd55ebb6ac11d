"""Training inputs: aligned 48×48 grey faces (the crop the embedded head sees at inference) + labels."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyfacs.data.ckplus import load_ckplus
from pyfacs.train.config import DataConfig


@dataclass
class Prepared:
    images: np.ndarray  # (n, size, size) uint8, aligned
    labels: np.ndarray  # (n, k) 0/1
    subjects: np.ndarray
    label_names: list[str]
    fingerprint: str  # SHA-256 over the label file and every image's bytes


def prepare(cfg: DataConfig, size: int) -> Prepared:
    from pyfacs.face.align import aligned_gray
    from pyfacs.io.media import read_image
    from pyfacs.pipeline import Analyzer

    ds = load_ckplus(cfg.root)
    n = len(ds) if cfg.limit is None else min(cfg.limit, len(ds))  # (load_ckplus refuses a file without rows)
    finder = Analyzer(faces_cropped=True, au_model=None)
    h = hashlib.sha256((Path(cfg.root) / "labels.csv").read_bytes())
    images = []
    for p in ds.paths[:n]:
        h.update(p.read_bytes())
        rgb = read_image(p)
        images.append(aligned_gray(rgb, finder.faces(rgb)[0].lmk68, size))
    return Prepared(np.stack(images), ds.select(cfg.aus)[:n].astype(np.float32), ds.subjects[:n],
                    [f"AU{a:02d}" for a in cfg.aus], h.hexdigest())
