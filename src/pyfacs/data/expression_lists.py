"""Expression label files of FER+ and RAF-DB.

* FER+ (``fer2013new.csv``): ``Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,
  contempt,unknown,NF`` — votes of 10 annotators per FER2013 image. ``majority`` labels drop images
  whose top vote is unknown/NF or tied.
* RAF-DB basic (``list_patition_label.txt``): ``train_00001.jpg 5`` lines, labels 1-7 = surprise,
  fear, disgust, happiness, sadness, anger, neutral; the split is the name's prefix.

The class names are pyfacs's (FER2013's: angry, happy, sad, ...), whatever the file calls them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError

# the classes under pyfacs's names (FER2013's: angry, happy, sad, ...), in each file's own order
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
FERPLUS_LABELS = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
RAFDB_LABELS = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")


def read_ferplus(path: str | Path, split: str = "Training") -> pd.DataFrame:
    """Rows of one split (the file's Training, PublicTest, PrivateTest, or pyfacs's train, val, test):
    ``image`` (e.g. fer0000000.png), vote columns (the file's names), ``label`` (FER+'s majority: an
    index into FERPLUS_LABELS, or -1 where FER+ gives none: no class with more than half the votes once
    single votes are dropped, or unknown / not a face)."""
    from pyfacs.data.fer2013 import USAGE, _usage
    from pyfacs.io.csvfile import read_csv

    split = split if split in USAGE.values() else _usage(split)
    df = read_csv(path, "FER+ label file (fer2013new.csv)")
    need = {"Usage", "Image name", *FERPLUS_COLUMNS, "unknown", "NF"}
    if not need <= set(df.columns):
        raise InputError(f"{path} is not a FER+ label file: it lacks {sorted(need - set(df.columns))}")
    df = df[(df["Usage"].astype(str).str.strip() == split) & df["Image name"].notna()]
    if df.empty:
        raise InputError(f"{path} has no {split} rows with an image name")
    df = df.rename(columns={"Image name": "image"})
    cols = list(FERPLUS_COLUMNS) + ["unknown", "NF"]
    votes = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64, copy=True)
    bad = ~np.isfinite(votes) | (votes < 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{path}, data row {df.index[r] + 1}: vote {cols[c]!r} is {df[cols[c]].iloc[r]!r}, "
                         "not a count of annotators")
    # FER+'s own "majority" rule (its _process_data): single votes are dropped as outliers, then the
    # top class needs more than half of the remaining votes (unknown and NF count); else no label
    votes[votes <= 1] = 0
    top, winner = votes.max(1), votes.argmax(1)
    clear = (top > 0) & (top > 0.5 * votes.sum(1)) & (winner < len(FERPLUS_LABELS))
    df = df.assign(label=np.where(clear, winner, -1))
    return df.reset_index(drop=True)


def read_rafdb(path: str | Path) -> pd.DataFrame:
    """``image``, ``split`` (train/test), ``label`` (0-based index into RAFDB_LABELS)."""
    from pyfacs.io.csvfile import read_text

    text = read_text(path, "RAF-DB list_patition_label.txt")
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            name, lab = line.split()
            lab = int(lab)
        except ValueError:
            raise InputError(f"{path}:{n}: expected '<image> <label 1-7>', got {line!r}") from None
        if not 1 <= lab <= 7:
            raise InputError(f"{path}:{n}: label {lab} is outside 1-7")
        split = name.split("_")[0]
        if split not in ("train", "test"):
            raise InputError(f"{path}:{n}: {name} does not start with train_ or test_, which gives RAF-DB's split")
        rows.append((name, split, lab - 1))
    if not rows:
        raise InputError(f"{path} lists no images; expected '<image> <label 1-7>' lines")
    return pd.DataFrame(rows, columns=["image", "split", "label"])
