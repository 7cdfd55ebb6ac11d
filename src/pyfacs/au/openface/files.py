"""Readers for OpenFace 2.2's model files.

* ``AU_*.txt``: one line per AU model, ``relative/path.dat AUxx``.
* ``.dat`` (little-endian binary): int32 kind (0 static SVR, 1 dynamic SVR, 4 static SVM, 5 dynamic
  SVM); a dynamic SVR then has a float64 ``cutoff`` (the share of a video's frames taken as neutral);
  two matrices, each int32 rows, int32 cols, int32 OpenCV type (6 = float64, 5 = float32) and the data
  row-major: the feature means (1×D) and the weights (D×1); float64 bias; an SVM adds float64
  positive and negative class labels.
* PDM ``.txt``: three matrices, each after a ``#`` comment line as rows, cols, type and values: the
  mean shape (3n×1, all x then all y then all z), principal components (3n×m), eigenvalues (1×m).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = {0: ("svr", False), 1: ("svr", True), 4: ("svm", False), 5: ("svm", True)}


@dataclass(frozen=True)
class LinearAUModel:
    au: str  # "AU01"
    task: str  # "svr" (intensity) or "svm" (presence)
    dynamic: bool
    means: np.ndarray  # (D,)
    weights: np.ndarray  # (D,)
    bias: float
    cutoff: float = -1.0  # dynamic SVR only
    pos_class: float = 1.0
    neg_class: float = 0.0


def _read_mat(buf: bytes, off: int) -> tuple[np.ndarray, int]:
    rows, cols, typ = struct.unpack_from("<iii", buf, off)
    dtype = {6: "<f8", 5: "<f4"}.get(typ)
    if dtype is None:
        raise ValueError(f"unsupported matrix type {typ}")
    off += 12
    a = np.frombuffer(buf, dtype, rows * cols, off).astype(np.float64).reshape(rows, cols)
    return a, off + a.size * np.dtype(dtype).itemsize


def read_dat(path: Path, au: str) -> LinearAUModel:
    buf = Path(path).read_bytes()
    kind = struct.unpack_from("<i", buf, 0)[0]
    if kind not in KINDS:
        raise ValueError(f"{path}: unknown model kind {kind}")
    task, dynamic = KINDS[kind]
    off, cutoff = 4, -1.0
    if task == "svr" and dynamic:
        cutoff = struct.unpack_from("<d", buf, off)[0]
        off += 8
    means, off = _read_mat(buf, off)
    weights, off = _read_mat(buf, off)
    bias = struct.unpack_from("<d", buf, off)[0]
    pos, neg = (1.0, 0.0)
    if task == "svm":
        pos, neg = struct.unpack_from("<dd", buf, off + 8)
    return LinearAUModel(au, task, dynamic, means.ravel(), weights.ravel(), bias, cutoff, pos, neg)


def read_model_list(path: Path) -> list[LinearAUModel]:
    """All models named in an ``AU_*.txt`` list, paths relative to the list's folder."""
    path = Path(path)
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            rel, au = line.split()
            out.append(read_dat(path.parent / rel, au))
    return out


@dataclass(frozen=True)
class PDMFile:
    mean: np.ndarray  # (n, 3)
    components: np.ndarray  # (n, 3, m)
    eigenvalues: np.ndarray  # (m,)


def read_pdm(path: Path) -> PDMFile:
    mats, lines = [], [l for l in Path(path).read_text().splitlines() if l.strip()]
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("#"):
            rows, cols = int(lines[i + 1]), int(lines[i + 2])
            vals = " ".join(lines[i + 4: i + 4 + rows]).split()
            mats.append(np.array(vals, np.float64).reshape(rows, cols))
            i += 4 + rows
        else:
            i += 1
    mean, comps, eig = mats
    n = mean.shape[0] // 3
    return PDMFile(mean.reshape(3, n).T.copy(), comps.reshape(3, n, -1).transpose(1, 0, 2).copy(), eig.ravel())


def read_triangulation(path: Path) -> np.ndarray:
    """OpenFace's ``tris_68_full.txt``: rows, columns, an OpenCV type code, then (rows, 3) point indices."""
    tokens = Path(path).read_text().split()
    rows, cols = int(tokens[0]), int(tokens[1])
    return np.array(tokens[3:3 + rows * cols], np.int64).reshape(rows, cols)
