"""CK+ with FACS codes, as ``labels.csv`` + image folders (the ``ckplus48`` layout).

``labels.csv`` columns: path (relative to the folder), folder_emotion, video (sequence), frame,
subject, number.aus, AU.combination, emotion, valence, then one 0/1 column per AU (``AU1`` …
``AU27``), coded on the sequence's peak frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError


@dataclass
class AUDataset:
    root: Path
    paths: list[Path]
    subjects: np.ndarray  # (n,) subject id per image
    aus: list[int]  # AU numbers, column order of ``labels``
    labels: np.ndarray  # (n, len(aus)) 0/1
    emotions: np.ndarray  # (n,) strings

    def __len__(self) -> int:
        return len(self.paths)

    def select(self, aus: list[int]) -> np.ndarray:
        missing = [a for a in aus if a not in self.aus]
        if missing:
            raise InputError(f"this dataset has no labels for AU {missing}")
        return self.labels[:, [self.aus.index(a) for a in aus]]


def load_ckplus(root: str | Path) -> AUDataset:
    root = Path(root)
    csv = root / "labels.csv"
    if not csv.is_file():
        raise InputError(f"{root} is not a CK+ folder: it has no labels.csv")
    df = pd.read_csv(csv)
    au_cols = [c for c in df.columns if c.startswith("AU") and c[2:].isdigit()]
    return AUDataset(
        root=root,
        paths=[root / p for p in df["path"]],
        subjects=df["subject"].astype(str).to_numpy(),
        aus=[int(c[2:]) for c in au_cols],
        labels=df[au_cols].to_numpy(np.int8),
        emotions=df["emotion"].astype(str).to_numpy(),
    )


def subject_folds(subjects: np.ndarray, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``k`` test-index arrays; every subject's images fall in exactly one fold (seeded, stable)."""
    uniq = np.array(sorted(set(subjects)))
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {s: i % k for i, s in zip(range(len(uniq)), uniq[order])}
    f = np.array([fold_of[s] for s in subjects])
    return [np.nonzero(f == i)[0] for i in range(k)]
