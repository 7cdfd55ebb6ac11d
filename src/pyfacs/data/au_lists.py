"""BP4D and DISFA AU labels: the ME-GraphAU / JAA-Net list format and the datasets' raw formats.

List format (per fold): ``<DS>_<split>_img_path_fold<k>.txt`` (one relative image path a line),
``<DS>_<split>_label_fold<k>.txt`` (space-separated 0/1 per AU, one line per image, AU order below)
and ``<DS>_weight_fold<k>.txt`` (tab-separated per-AU loss weights).

Raw BP4D: one ``<subject>_<task>.csv`` per sequence from the AU occurrence release: a header row of AU
numbers (first column: frame), values 0/1, and 9 for "not coded".
Raw DISFA: ``<subject>/<subject>_au<n>.txt`` per AU with ``frame,intensity`` lines (intensity 0-5).

Every reader checks its file as it reads it: a malformed file is an :class:`InputError` naming the
file, the line and (where there is one) the column, never a silently altered value.
"""
from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError

LIST_AUS = {"BP4D": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24), "DISFA": (1, 2, 4, 6, 9, 12, 25, 26)}


def _lines(path: Path, fix: str) -> list[str]:
    """The file's lines; an InputError when it is missing, unreadable, not text or holds no data."""
    if not path.is_file():
        raise InputError(f"{path} is missing{' (it is a folder)' if path.is_dir() else ''}; {fix}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a byte-order mark, as Windows editors write, dropped)
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file; {fix}") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror or exc}); {fix}") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise InputError(f"{path} is empty; {fix}")
    return lines


def _table(path: Path, lines: list[str], parse: Callable[[str], float], kind: str, fix: str,
           width: int | None = None, sep: str | None = None) -> tuple[list[int], list[list]]:
    """(line numbers, rows) of a delimited table of numbers; blank lines are skipped. ``width``: the
    values a line must hold (None: as many as the first line). ``parse`` raises ValueError on a bad
    value; ``kind`` says what a value must be."""
    numbers, rows = [], []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(sep)] if sep else line.split()
        if width is None:
            width = len(fields)
        if len(fields) != width:
            raise InputError(f"{path}, line {no}: {len(fields)} values where {width} are expected; {fix}")
        row = []
        for col, tok in enumerate(fields, 1):
            try:
                row.append(parse(tok))
            except (ValueError, OverflowError):
                raise InputError(f"{path}, line {no}, column {col}: {tok!r} is not {kind}; {fix}") from None
        numbers.append(no)
        rows.append(row)
    return numbers, rows


def _int8(tok: str) -> int:
    v = int(tok)
    if not -128 <= v <= 127:
        raise ValueError(tok)
    return v


def _whole(tok: str) -> int:
    """An integer, also written as a float ("12.0")."""
    v = float(tok)
    if not v.is_integer():
        raise ValueError(tok)
    return int(v)


def _finite(tok: str) -> float:
    v = float(tok)
    if not math.isfinite(v):
        raise ValueError(tok)
    return v


def _fast_ints(lines: list[str], width: int) -> np.ndarray | None:
    """int8 (n, width) of a well-formed whitespace-separated integer table, None when anything is
    off (ragged, not integers, out of int8's range): ``_table`` then says where."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. NumPy's "parsing an integer via a float"
            a = np.loadtxt(lines, dtype=np.int64, ndmin=2, comments=None)  # (no comments in a list)
    except Exception:  # noqa: BLE001 - any failure falls back to the checking parser
        return None
    if a.shape[1] != width or a.size and (a.min() < -128 or a.max() > 127):
        return None
    return a.astype(np.int8)


def _check_dataset(dataset: str) -> tuple[int, ...]:
    if dataset not in LIST_AUS:
        raise InputError(f"dataset must be one of {sorted(LIST_AUS)}, not {dataset!r}")
    return LIST_AUS[dataset]


def read_list_fold(folder: str | Path, dataset: str, split: str, fold: int) -> tuple[list[str], np.ndarray, list[int]]:
    """(image paths, labels (n, k), AU numbers) of one ME-GraphAU list-format fold."""
    folder = Path(folder)
    aus = list(_check_dataset(dataset))
    paths_file = folder / f"{dataset}_{split}_img_path_fold{fold}.txt"
    labels_file = folder / f"{dataset}_{split}_label_fold{fold}.txt"
    pair = f"a {dataset} list fold is {paths_file.name} (one image path a line) with {labels_file.name}"
    for f in (paths_file, labels_file):
        if not f.is_file():
            raise InputError(f"{f} is missing; {pair}")
    paths = [line.strip() for line in _lines(paths_file, pair) if line.strip()]
    fix = (f"each line of a {dataset} label list holds {len(aus)} space-separated labels (0/1), "
           f"AUs {', '.join(map(str, aus))} in that order")
    lines = _lines(labels_file, fix)
    labels = _fast_ints(lines, len(aus))
    if labels is None:  # something is wrong: find the line and column
        _, rows = _table(labels_file, lines, _int8, "an integer label", fix, width=len(aus))
        labels = np.array(rows, dtype=np.int8).reshape(len(rows), len(aus))
    if bad := np.argwhere((labels != 0) & (labels != 1)).tolist():  # (ME-GraphAU's lists hold 0/1 only)
        row, col = bad[0]
        line_no = [no for no, line in enumerate(lines, 1) if line.strip()][row]  # (the file's line: blanks count)
        raise InputError(f"{labels_file}, line {line_no}, column {col + 1}: label {labels[row, col]} (AU{aus[col]}) "
                         f"is not 0 or 1; {fix}")
    if len(paths) != len(labels):
        raise InputError(f"{paths_file.name} lists {len(paths)} images but {labels_file.name} has "
                         f"{len(labels)} label rows; they must pair line by line")
    return paths, labels, aus


def read_list_weights(folder: str | Path, dataset: str, fold: int) -> np.ndarray:
    """The fold's per-AU loss weights, one per AU of ``LIST_AUS[dataset]``, in that order."""
    aus = _check_dataset(dataset)
    path = Path(folder) / f"{dataset}_weight_fold{fold}.txt"
    fix = (f"a {dataset} weights file holds {len(aus)} tab-separated per-AU loss weights (AUs "
           f"{', '.join(map(str, aus))}), as ME-GraphAU's tool/{dataset}_calculate_AU_class_weights.py writes them")
    numbers, rows = _table(path, _lines(path, fix), _finite, "a finite number", fix)
    w = np.array(rows, dtype=np.float64).ravel()
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        width = len(rows[0])
        raise InputError(f"{path}, line {numbers[i // width]}, column {i % width + 1}: {w[i]} is negative; "
                         f"loss weights are >= 0")
    if len(w) != len(aus):
        raise InputError(f"{path} holds {len(w)} weights but {dataset} labels have {len(aus)} AUs "
                         f"({', '.join(map(str, aus))}); give one weight per AU, in that order")
    return w


def read_bp4d_occurrence(csv: str | Path) -> pd.DataFrame:
    """One BP4D sequence: index = frame, one column per AU (``AU01``...), 0/1, NaN where coded 9."""
    csv = Path(csv)
    fix = ("a BP4D AU occurrence CSV has a header row of AU numbers after the frame column "
           "(e.g. 0,1,2,4,...) and one row per frame of 0 (absent), 1 (present) or 9 (not coded)")
    lines = _lines(csv, fix)
    head_no = next(no for no, line in enumerate(lines, 1) if line.strip())
    header = [f.strip() for f in lines[head_no - 1].split(",")]
    aus: list[int] = []
    for col, name in enumerate(header[1:], 2):
        if not name.isdigit():
            raise InputError(f"{csv}, line {head_no}, column {col}: header {name!r} is not an AU number; {fix}")
        if int(name) in aus:
            raise InputError(f"{csv}, line {head_no}, column {col}: AU {int(name)} appears twice in the header; "
                             f"{fix}")
        aus.append(int(name))
    if not aus:
        raise InputError(f"{csv}, line {head_no}: the header names no AU columns; {fix}")

    def code(tok: str) -> float:
        v = float(tok)
        if v not in (0, 1, 9):
            raise ValueError(tok)
        return v

    numbers, frames, values = [], [], []
    seen: dict[int, int] = {}
    for no, line in enumerate(lines[head_no:], head_no + 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(header):
            raise InputError(f"{csv}, line {no}: {len(fields)} values where the header has {len(header)}; {fix}")
        try:
            frame = _whole(fields[0])
        except ValueError:
            raise InputError(f"{csv}, line {no}, column 1: {fields[0]!r} is not a frame number; {fix}") from None
        if frame in seen:
            raise InputError(f"{csv}, line {no}: frame {frame} is already on line {seen[frame]}; "
                             f"one row per frame")
        seen[frame] = no
        row = []
        for col, tok in enumerate(fields[1:], 2):
            try:
                row.append(code(tok))
            except ValueError:
                raise InputError(f"{csv}, line {no}, column {col} (AU {aus[col - 2]}): {tok!r} is not 0, 1 or 9; "
                                 f"{fix}") from None
        numbers.append(no)
        frames.append(frame)
        values.append(row)
    if not values:
        raise InputError(f"{csv} has a header but no frames; {fix}")
    out = pd.DataFrame(np.array(values, dtype=np.float64), index=pd.Index(np.array(frames, np.int64), name="frame"),
                       columns=[f"AU{a:02d}" for a in aus])
    return out.where(out != 9).astype("float32")


def read_disfa_subject(folder: str | Path) -> pd.DataFrame:
    """One DISFA subject folder: index = frame, ``AUxx`` intensity columns (0-5)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give a DISFA subject folder (<subject>/<subject>_au<n>.txt)")
    name_re = re.compile(re.escape(folder.name) + r"_au(\d+)")
    files: dict[int, Path] = {}
    for f in sorted(folder.glob(f"{folder.name}_au*.txt")):
        m = name_re.fullmatch(f.stem)
        if not m:
            raise InputError(f"{f}: the name does not end in _au<AU number>.txt; rename it or move it out of {folder}")
        au = int(m.group(1))
        if au in files:
            raise InputError(f"{f} and {files[au].name} both hold AU {au}; keep one of them")
        files[au] = f
    if not files:
        raise InputError(f"{folder} holds no {folder.name}_au<n>.txt files: not a DISFA label folder")

    def intensity(tok: str) -> float:
        v = float(tok)
        if not 0 <= v <= 5:
            raise ValueError(tok)
        return v

    fix = "a DISFA label file holds one 'frame,intensity' line per frame (frame number, intensity 0-5)"
    cols = {}
    first: tuple[Path, set[int]] | None = None
    for au in sorted(files):
        f = files[au]
        lines = _lines(f, fix)
        numbers, rows = _table(f, lines, str, "text", fix, width=2, sep=",")  # values checked below
        frames, values = [], []
        seen: dict[int, int] = {}
        for no, (fr, v) in zip(numbers, rows):
            try:
                frame = _whole(fr)
            except ValueError:
                raise InputError(f"{f}, line {no}, column 1: {fr!r} is not a frame number; {fix}") from None
            try:
                values.append(intensity(v))
            except ValueError:
                raise InputError(f"{f}, line {no}, column 2: {v!r} is not an intensity 0-5; {fix}") from None
            if frame in seen:
                raise InputError(f"{f}, line {no}: frame {frame} is already on line {seen[frame]}; one line per frame")
            seen[frame] = no
            frames.append(frame)
        if first is None:
            first = (f, set(frames))
        elif set(frames) != first[1]:
            odd = sorted(set(frames) ^ first[1])[0]
            has, lacks = (f, first[0]) if odd in seen else (first[0], f)
            raise InputError(f"{has} has frame {odd} but {lacks} has not; all of a subject's AU files must cover "
                             f"the same frames")
        cols[f"AU{au:02d}"] = pd.Series(np.array(values, dtype=np.float64), index=np.array(frames, dtype=np.int64))
    out = pd.DataFrame(cols)
    out.index.name = "frame"
    return out
