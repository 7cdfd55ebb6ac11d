"""One vocabulary for every column pyfacs writes, and the FACS catalogue.

Units are in the names: pixels of the original frame for ``bbox_*`` and ``lmk*``, degrees for
``pose_*_deg``, seconds for ``timestamp_s``. AU left/right follow FACS (the subject's left).
"""
from __future__ import annotations

import re

SCHEMA_VERSION = "1"

ID_COLUMNS = ["source", "frame", "timestamp_s", "face_id", "face_score"]
BBOX_COLUMNS = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]
POSE_COLUMNS = ["pose_pitch_deg", "pose_yaw_deg", "pose_roll_deg"]


def lmk68_columns() -> list[str]:
    return [f"lmk68_x_{i}" for i in range(68)] + [f"lmk68_y_{i}" for i in range(68)]


def lmk478_columns() -> list[str]:
    return [f"lmk478_{a}_{i}" for a in "xyz" for i in range(478)]


# FACS action units: number -> name (Ekman, Friesen & Hager 2002).
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    11: "nasolabial deepener", 12: "lip corner puller", 13: "sharp lip puller", 14: "dimpler",
    15: "lip corner depressor", 16: "lower lip depressor", 17: "chin raiser", 18: "lip pucker",
    20: "lip stretcher", 22: "lip funneler", 23: "lip tightener", 24: "lip pressor",
    19: "tongue show", 21: "neck tightener", 25: "lips part", 26: "jaw drop", 27: "mouth stretch",
    28: "lip suck", 32: "lip bite", 38: "nostril dilator", 39: "nostril compressor", 43: "eyes closed",
    45: "blink",
}


def au_column(au: int, kind: str) -> str:
    """``au_column(1, "r") == "AU01_r"``; kind is r (intensity 0-5), c (presence 0/1) or p (probability)."""
    if kind not in ("r", "c", "p"):
        raise ValueError(f"AU column kind must be r, c or p, not {kind!r}")
    return f"AU{au:02d}_{kind}"


def expression_column(label: str) -> str:
    return f"expr_{label}"


_AU = re.compile(r"AU\d\d[LR]?_[rcp]")  # (AU12L_r: the subject's left side)
_MEASURED = re.compile(r"frame|timestamp_s|face_id|face_score|bbox_[xy][12]|lmk(68_[xy]|478_[xyz])_\d+|pose_[a-z]+_deg"
                       rf"|{_AU.pattern}|expr_(?!label$)\w+")


def is_au_column(name: str) -> bool:
    """``AU12_r``, ``AU12_c``, ``AU12_p``, ``AU12L_r`` — not another tool's extra columns such as
    ``AU12 Evidence``."""
    return _AU.fullmatch(name) is not None


def is_expression_score(name: str) -> bool:
    """``expr_happy`` and the like: a score per class (not ``expr_label``, the chosen class)."""
    return name.startswith("expr_") and name != "expr_label"


def is_measured_column(name: str) -> bool:
    """A column of this vocabulary that holds numbers (every one but ``source`` and ``expr_label``)."""
    return _MEASURED.fullmatch(name) is not None
