"""BP4D and DISFA AU labels: the ME-GraphAU / JAA-Net list format and the datasets' raw formats.

List format (per fold): ``<DS>_<split>_img_path_fold<k>.txt`` (one relative image path a line),
``<DS>_<split>_label_fold<k>.txt`` (space-separated 0/1 per AU, one line per image, AU order below)
and ``<DS>_weight_fold<k>.txt`` (tab-separated per-AU loss weights).

Raw BP4D: one ``<subject>_<task>.csv`` per sequence from the AU occurrence release: a header row of AU
numbers (first column: frame), values 0/1, and 9 for "not coded".
Raw DISFA: ``<subject>/<subject>_au<n>.txt`` per AU with ``frame,intensity`` lines (intensity 0-5).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError

LIST_AUS = {"BP4D": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24), "DISFA": (1, 2, 4, 6, 9, 12, 25, 26)}


def read_list_fold(folder: str | Path, dataset: str, split: str, fold: int) -> tuple[list[str], np.ndarray, list[int]]:
    """(image paths, labels (n, k), AU numbers) of one ME-GraphAU list-format fold."""
    folder = Path(folder)
    if dataset not in LIST_AUS:
        raise InputError(f"dataset must be one of {sorted(LIST_AUS)}, not {dataset!r}")
    paths_file = folder / f"{dataset}_{split}_img_path_fold{fold}.txt"
    labels_file = folder / f"{dataset}_{split}_label_fold{fold}.txt"
    for f in (paths_file, labels_file):
        if not f.is_file():
            raise InputError(f"{f} is missing")
    paths = [line.strip() for line in paths_file.read_text().splitlines() if line.strip()]
    labels = np.loadtxt(labels_file, dtype=np.int8, ndmin=2)
    aus = list(LIST_AUS[dataset])
    if labels.shape[1] != len(aus):
        raise InputError(f"{labels_file.name} has {labels.shape[1]} columns; {dataset} lists have {len(aus)}")
    if len(paths) != len(labels):
        raise InputError(f"{paths_file.name} lists {len(paths)} images but {labels_file.name} has "
                         f"{len(labels)} label rows; they must pair line by line")
    return paths, labels, aus


def read_list_weights(folder: str | Path, dataset: str, fold: int) -> np.ndarray:
    return np.loadtxt(Path(folder) / f"{dataset}_weight_fold{fold}.txt", dtype=np.float64).ravel()


def read_bp4d_occurrence(csv: str | Path) -> pd.DataFrame:
    """One BP4D sequence: index = frame, one column per AU (``AU01``...), 0/1, NaN where coded 9."""
    df = pd.read_csv(csv)
    frame_col = df.columns[0]
    out = df.set_index(frame_col)
    out.index.name = "frame"
    out.columns = [f"AU{int(c):02d}" for c in out.columns]
    return out.where(out != 9).astype("float32")


def read_disfa_subject(folder: str | Path) -> pd.DataFrame:
    """One DISFA subject folder: index = frame, ``AUxx`` intensity columns (0-5)."""
    folder = Path(folder)
    files = sorted(folder.glob(f"{folder.name}_au*.txt"), key=lambda p: int(p.stem.split("_au")[1]))
    if not files:
        raise InputError(f"{folder} holds no {folder.name}_au<n>.txt files: not a DISFA label folder")
    cols = {}
    for f in files:
        au = int(f.stem.split("_au")[1])
        d = np.loadtxt(f, delimiter=",", ndmin=2)
        cols[f"AU{au:02d}"] = pd.Series(d[:, 1], index=d[:, 0].astype(int))
    out = pd.DataFrame(cols)
    out.index.name = "frame"
    return out
