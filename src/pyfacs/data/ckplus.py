"""CK+ with FACS codes, as ``labels.csv`` + image folders (the ``ckplus48`` layout).

``labels.csv`` columns: path (relative to the folder), folder_emotion, video (sequence), frame,
subject, number.aus, AU.combination, emotion, valence, then one 0/1 column per AU (``AU1`` …
``AU27``), coded on the sequence's peak frame.
"""
from __future__ import annotations

import csv as _csv
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
    emotions: np.ndarray  # (n,) pyfacs's class names (angry, happy, sad, ...; and contempt)

    def __len__(self) -> int:
        return len(self.paths)

    def select(self, aus: list[int]) -> np.ndarray:
        missing = [a for a in aus if a not in self.aus]
        if missing:
            raise InputError(f"this dataset has no labels for AU {missing}")
        return self.labels[:, [self.aus.index(a) for a in aus]]


REQUIRED_COLUMNS = ("path", "subject", "emotion")
# CK+'s emotion words under pyfacs's class names (FER2013's); contempt, not a FER2013 class, stays
EMOTION_NAMES = {"anger": "angry", "happiness": "happy", "sadness": "sad"}
_EXPECTED = "CK+ labels.csv needs the columns path, subject, emotion and one 0/1 column per AU (AU1, AU2, ...)"


def _record_lines(csv: Path) -> list[int]:
    """The line on which each data row of ``csv`` ends (blank lines skipped, as pandas does); an
    InputError for an empty file or a row with more or fewer fields than the header (pandas would
    shift such a row into its index or pad it with empty cells)."""
    try:
        with open(csv, newline="", encoding="utf-8") as fh:
            reader = _csv.reader(fh)
            header = next((r for r in reader if r), None)
            if header is None:
                raise InputError(f"{csv} is empty; {_EXPECTED}")
            names = [h.strip().lstrip("\ufeff") for h in header]
            if dup := next((h for h in names if names.count(h) > 1), None):
                raise InputError(f"{csv}: the column {dup} is named twice in the header; {_EXPECTED}")
            out = []
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(f"{csv} line {reader.line_num}: {len(row)} fields where the header has "
                                     f"{len(header)}; give every row one value per column (an empty one as ,,)")
                out.append(reader.line_num)
    except (UnicodeDecodeError, _csv.Error, OSError) as exc:
        raise InputError(f"{csv} is not a readable CSV ({' '.join(str(exc).split())}); {_EXPECTED}") from None
    return out


def load_ckplus(root: str | Path) -> AUDataset:
    """The labels and image paths of a CK+ folder, checked: every AU cell 0 or 1, every row's path,
    subject and emotion given and its image present; else an InputError naming the line and column."""
    root = Path(root)
    csv = root / "labels.csv"
    if not csv.is_file():
        raise InputError(f"{root} is not a CK+ folder: it has no labels.csv")
    lines = _record_lines(csv)  # file line of each data row; every row as wide as the header
    try:
        df = pd.read_csv(csv, index_col=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        why = " ".join(str(exc).split())
        raise InputError(f"{csv} is not a readable CSV ({why}); {_EXPECTED}") from None
    if df.empty:
        raise InputError(f"{csv} holds a header and no rows; {_EXPECTED}")
    df.columns = [str(c).strip() for c in df.columns]
    if len(lines) != len(df):  # rows the csv module and pandas count differently: number them plainly
        lines = list(range(2, len(df) + 2))
    au_cols = [c for c in df.columns if c.startswith("AU") and c[2:].isdigit()]
    numbers = [int(c[2:]) for c in au_cols]
    if twice := next((n for n in numbers if numbers.count(n) > 1), None):
        raise InputError(f"{csv} has two columns for AU {twice} "
                         f"({', '.join(c for c, n in zip(au_cols, numbers) if n == twice)}); keep one")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns] + ([] if au_cols else ["AU<n>"])
    if missing:
        raise InputError(f"{csv} has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}; {_EXPECTED}")

    def where(i: int) -> str:
        return f"{csv} line {lines[i]}"

    for c in REQUIRED_COLUMNS:
        empty = df[c].isna().to_numpy() | (df[c].astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise InputError(f"{where(int(np.argmax(empty)))}, column {c}: empty; every row needs a {c}")
    values = df[au_cols].apply(pd.to_numeric, errors="coerce")
    bad = ~values.isin([0, 1]).to_numpy()
    if bad.any():
        i, j = np.argwhere(bad)[0]
        cell = df[au_cols[j]].iloc[i]
        cell = cell.item() if isinstance(cell, np.generic) else cell
        what = "empty" if pd.isna(cell) else f"{cell!r} is not 0 or 1"
        raise InputError(f"{where(int(i))} ({df['path'].iloc[i]}), column {au_cols[j]}: {what}; AU labels must be "
                         f"0 (absent) or 1 (present): fill in or correct the cell")
    paths = [root / str(p) for p in df["path"]]
    absent = [i for i, p in enumerate(paths) if not p.is_file()]
    if absent:
        more = f" ({len(absent) - 1} more rows' images are missing too)" if len(absent) > 1 else ""
        raise InputError(f"{where(absent[0])}, column path: the image {paths[absent[0]]} does not exist{more}; "
                         f"paths are relative to {root}: fix the path or remove the row")
    return AUDataset(
        root=root,
        paths=paths,
        subjects=df["subject"].astype(str).to_numpy(),
        aus=numbers,
        labels=values.to_numpy(np.int8),
        emotions=df["emotion"].astype(str).str.strip().replace(EMOTION_NAMES).to_numpy(),
    )


def subject_folds(subjects: np.ndarray, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``k`` test-index arrays; every subject's images fall in exactly one fold (seeded, stable)."""
    uniq = np.array(sorted(set(subjects)))
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {s: i % k for i, s in zip(range(len(uniq)), uniq[order])}
    f = np.array([fold_of[s] for s in subjects])
    return [np.nonzero(f == i)[0] for i in range(k)]
