"""Expression label files of FER+ and RAF-DB.

* FER+ (``fer2013new.csv``): ``Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,
  contempt,unknown,NF`` — votes of 10 annotators per FER2013 image. ``majority`` labels drop images
  whose top vote is unknown/NF or tied.
* RAF-DB basic (``list_patition_label.txt``): ``train_00001.jpg 5`` lines, labels 1-7 = surprise,
  fear, disgust, happiness, sadness, anger, neutral; the split is the name's prefix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError

FERPLUS_LABELS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
RAFDB_LABELS = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")


def read_ferplus(path: str | Path, split: str = "Training") -> pd.DataFrame:
    """Rows of one split: ``image`` (e.g. fer0000000.png), vote columns, ``label`` (majority, or -1)."""
    df = pd.read_csv(path)
    need = {"Usage", "Image name", *FERPLUS_LABELS, "unknown", "NF"}
    if not need <= set(df.columns):
        raise InputError(f"{path} is not a FER+ label file: it lacks {sorted(need - set(df.columns))}")
    df = df[(df["Usage"] == split) & df["Image name"].notna()].rename(columns={"Image name": "image"})
    votes = df[list(FERPLUS_LABELS) + ["unknown", "NF"]].to_numpy()
    top = votes.max(1)
    winner = votes.argmax(1)
    tied = (votes == top[:, None]).sum(1) > 1
    df = df.assign(label=np.where(tied | (winner >= len(FERPLUS_LABELS)), -1, winner))
    return df.reset_index(drop=True)


def read_rafdb(path: str | Path) -> pd.DataFrame:
    """``image``, ``split`` (train/test), ``label`` (0-based index into RAFDB_LABELS)."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            name, lab = line.split()
            lab = int(lab)
        except ValueError:
            raise InputError(f"{path}:{n}: expected '<image> <label 1-7>', got {line!r}") from None
        if not 1 <= lab <= 7:
            raise InputError(f"{path}:{n}: label {lab} is outside 1-7")
        rows.append((name, name.split("_")[0], lab - 1))
    return pd.DataFrame(rows, columns=["image", "split", "label"])
