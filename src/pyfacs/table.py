"""FaceTable: the columnar result, one row per face per analysed frame.

A frame in which no face was found still has a row, with ``face_id`` empty, so that "no face" can be
told from "not analysed". Metadata (schema version, models, options) travels inside Parquet files.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pyfacs import schema

if TYPE_CHECKING:
    from pyfacs.face.faces import Face  # (not at run time: reading a table needs no face models)

_META_KEY = b"pyfacs"
JSON_DIGITS = 15  # decimal places in JSONL (pandas's most; its default of 10 cut times to 0.1 ns steps)


def frame_rows(source: str, frame: int, timestamp_s: float, faces: Sequence[Face], *,
               landmarks: int = 68) -> dict[str, np.ndarray]:
    """Columns for one frame: a row per face, or one empty row when there is none."""
    n = max(len(faces), 1)
    cols: dict[str, np.ndarray] = {
        "source": np.array([source] * n, dtype=object),
        "frame": np.full(n, frame, np.int64),
        "timestamp_s": np.full(n, timestamp_s, np.float64),
    }
    if not faces:
        cols["face_id"] = np.array([pd.NA], dtype=object)
        return cols
    cols["face_id"] = np.array([f.face_id for f in faces], dtype=object)
    cols["face_score"] = np.array([f.score for f in faces], np.float32)
    boxes = np.stack([f.box for f in faces]).astype(np.float32)
    for k, name in enumerate(schema.BBOX_COLUMNS):
        cols[name] = boxes[:, k]
    lmk = np.stack([f.lmk68 for f in faces]).astype(np.float32)  # (n, 68, 2)
    for i in range(68):
        cols[f"lmk68_x_{i}"] = lmk[:, i, 0]
    for i in range(68):
        cols[f"lmk68_y_{i}"] = lmk[:, i, 1]
    pose = np.array([f.pose_deg for f in faces], np.float32)
    for k, name in enumerate(schema.POSE_COLUMNS):
        cols[name] = pose[:, k]
    if landmarks == 478 and all(f.mesh is not None for f in faces):
        mesh = np.stack([f.mesh.points for f in faces]).astype(np.float32)  # (n, 478, 3)
        for a, axis in enumerate("xyz"):
            for i in range(mesh.shape[1]):
                cols[f"lmk478_{axis}_{i}"] = mesh[:, i, a]
    return cols


_NOT_FLOAT = {"source": object, "frame": np.int64, "timestamp_s": np.float64, "face_id": object, "expr_label": object}


def columns_to_frame(batches: Sequence[dict[str, np.ndarray]], column_order: Sequence[str]) -> pd.DataFrame:
    """Stack per-frame column dicts into a DataFrame with a fixed column order and dtypes (a column a
    frame lacks is NaN, or None for ``expr_label``). The float32 columns are filled into one block:
    a DataFrame of hundreds of separate arrays costs milliseconds, which a folder of images pays per image."""
    if not batches:
        return _typed(pd.DataFrame({c: [] for c in column_order}))
    sizes = [len(b["frame"]) for b in batches]
    floats = [c for c in column_order if c not in _NOT_FLOAT]
    where = {c: j for j, c in enumerate(floats)}
    block = np.full((sum(sizes), len(floats)), np.nan, np.float32)
    start = 0
    for b, n in zip(batches, sizes):
        for c, v in b.items():
            if c in where:
                block[start:start + n, where[c]] = v
        start += n
    df = pd.DataFrame(block, columns=floats, copy=False)
    for c in column_order:
        if c in _NOT_FLOAT:
            parts = [b[c] if c in b else np.full(n, None, object) for b, n in zip(batches, sizes)]
            df.insert(column_order.index(c), c, np.concatenate(parts).astype(_NOT_FLOAT[c], copy=False))
    return _typed(df)


def _check_numbers(df: pd.DataFrame, path: Path) -> None:
    """Every measured column of the vocabulary holds numbers (a hand-edited cell would fail later,
    in a plot, with an error that names neither file nor cell); ``frame`` is never empty, ``face_id``
    a whole number. Columns of other names (a ``participant`` added by hand, another tool's file
    name) are the user's and left as they are."""
    from pyfacs.errors import InputError
    from pyfacs.io.csvfile import numbers

    text = [c for c in df.columns if schema.is_measured_column(str(c)) and not pd.api.types.is_numeric_dtype(df[c])]
    if text:
        df[text] = numbers(df, text, path)
    if df["frame"].isna().any():
        row = int(np.argmax(df["frame"].isna().to_numpy()))
        raise InputError(f"{path}: data row {row + 1} has no frame number (was the file cut short?)")
    frames = df["frame"].to_numpy(np.float64)
    if (bad := frames != np.round(frames)).any():
        row = int(np.argmax(bad))
        raise InputError(f"{path}: frame {frames[row]} in data row {row + 1} is not a whole number")
    ids = df["face_id"].to_numpy(np.float64, na_value=np.nan)
    if (bad := np.isfinite(ids) & (ids != np.round(ids))).any() or np.isinf(ids).any():
        row = int(np.argmax(bad | np.isinf(ids)))
        raise InputError(f"{path}: face_id {ids[row]} in data row {row + 1} is not a whole number")


def _warn_if_cut(path: Path) -> None:
    """pyfacs ends every CSV/JSONL row with a line end: a last row without one was most likely cut
    short (a copy or a run stopped mid-write), and its missing cells read as empty."""
    import logging

    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            return
        f.seek(-1, 2)
        if f.read(1) != b"\n":
            logging.getLogger(__name__).warning("%s: its last line has no line end, so its last row may be cut "
                                                "short (its missing cells read as empty)", path)


_TEXT = ("source", "expr_label")  # the text columns of a table pyfacs writes


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df["source"] = df["source"].astype("string")
    df["frame"] = df["frame"].astype("int64")
    df["timestamp_s"] = df["timestamp_s"].astype("float64")
    df["face_id"] = pd.array(df["face_id"].tolist(), dtype="Int64")
    if "expr_label" in df:  # text, None where no face (a CSV without faces reads an empty column as floats)
        df["expr_label"] = df["expr_label"].astype(object).where(df["expr_label"].notna(), None)
    return df


def output_columns(*, landmarks: int = 68, extra: Sequence[str] = ()) -> list[str]:
    cols = schema.ID_COLUMNS + schema.BBOX_COLUMNS + schema.lmk68_columns() + schema.POSE_COLUMNS
    if landmarks == 478:
        cols += schema.lmk478_columns()
    return cols + list(extra)


def _rederive(data: pd.DataFrame, smoothed: list[str], votes: list[str]) -> None:
    """After smoothing: presence and the expression label follow the smoothed values they come from."""
    for c in votes:
        data[c] = (data[c] >= 0.5).astype(np.float32).where(data[c].notna())
        if (p := f"{c[:-2]}_p") in data:  # presence follows the probability on the rows that have one
            # (rows without, from another head in a combined table, keep their vote)
            data[c] = (data[p] >= 0.5).astype(np.float32).where(data[p].notna(), data[c])
    probs = [c for c in data.columns if schema.is_expression_score(c)]
    if "expr_label" in data and probs and set(probs) <= set(smoothed):
        seen = data[probs].notna().all(axis=1).to_numpy()  # (by position: the index may repeat)
        data.loc[seen, "expr_label"] = data.loc[seen, probs].idxmax(axis=1).str[len("expr_"):].to_numpy()


@dataclass(eq=False)  # (tables compare by identity: compare ``.data`` with DataFrame.equals)
class FaceTable:
    """Analysis results: a pandas DataFrame plus the metadata that says how they were made."""

    data: pd.DataFrame
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        faces = int(self.data["face_id"].notna().sum())
        return f"FaceTable({faces} faces in {self.data[['source', 'frame']].drop_duplicates().shape[0]} frames)"

    # views ---------------------------------------------------------------------------------------
    @property
    def faces(self) -> pd.DataFrame:
        """Only the rows that hold a face."""
        return self.data[self.data["face_id"].notna()]

    def _select(self, prefixes: tuple[str, ...]) -> pd.DataFrame:
        return self.data[[c for c in self.data.columns if c.startswith(prefixes)]]

    @property
    def landmarks(self) -> pd.DataFrame:
        return self._select(("lmk68_",))

    @property
    def landmarks_array(self) -> np.ndarray:
        """(rows, 68, 2) pixel coordinates, by column name (whatever order the columns are in)."""
        from pyfacs.errors import InputError

        names = [f"lmk68_{a}_{i}" for a in "xy" for i in range(68)]
        if missing := [c for c in names if c not in self.data.columns]:
            raise InputError(f"the table has no 68-point landmarks (no column {missing[0]})")
        xy = self.data[names].to_numpy(np.float32)
        return np.stack([xy[:, :68], xy[:, 68:]], -1)

    @property
    def pose(self) -> pd.DataFrame:
        from pyfacs.errors import InputError

        if missing := [c for c in schema.POSE_COLUMNS if c not in self.data.columns]:
            raise InputError(f"the table has no head pose (no column {missing[0]})")
        return self.data[schema.POSE_COLUMNS]

    @property
    def aus(self) -> pd.DataFrame:
        """The ``AUxx_r``/``AUxx_c``/``AUxx_p`` columns."""
        return self.data[[c for c in self.data.columns if schema.is_au_column(c)]]

    @property
    def expressions(self) -> pd.DataFrame:
        return self._select(("expr_",))

    def summary(self) -> pd.DataFrame:
        """One row per person (``source``, ``face_id``): frames seen, ``seconds`` from the first to
        the last of them (gaps included), AU occurrence rates
        (mean of ``AUxx_c``), mean AU intensities/probabilities (``AUxx_r``/``AUxx_p``), and the share
        of frames with each expression label (``share_<label>``)."""
        faces = self.faces
        if faces.empty:
            return pd.DataFrame(columns=["source", "face_id", "frames", "seconds"])
        faces = faces.reset_index(drop=True)  # (live frames' tables concatenated repeat their row numbers)
        g = faces.groupby(["source", "face_id"], sort=True)
        out = g.agg(frames=("frame", "size"), seconds=("timestamp_s", lambda t: float(t.max() - t.min())))
        au_cols = [c for c in faces.columns if schema.is_au_column(c)]
        if au_cols:
            means = g[au_cols].mean()
            means.columns = [c.replace("_c", "_rate") if c.endswith("_c") else c.replace("_r", "_mean_r")
                             .replace("_p", "_mean_p") for c in au_cols]
            out = out.join(means)
        if "expr_label" in faces:
            shares = pd.crosstab([faces["source"], faces["face_id"]], faces["expr_label"], normalize="index")
            shares.columns = [f"share_{c}" for c in shares.columns]
            out = out.join(shares)
        return out.reset_index()

    def smoothed(self, *, window: int = 5, method: str = "centered", columns: Sequence[str] | None = None
                 ) -> "FaceTable":
        """A copy with AU intensities/probabilities and expression probabilities (or ``columns``)
        smoothed over time per person; ``method`` ``centered`` (lag 0, offline) or ``causal`` (lag
        (window - 1) / 2 frames). See :mod:`pyfacs.temporal.smoothing`."""
        from pyfacs.temporal.smoothing import smooth_columns

        from pyfacs.errors import InputError

        if columns is None:
            columns = [c for c in self.data.columns
                       if (schema.is_au_column(c) and c[-2:] in ("_r", "_p")) or schema.is_expression_score(c)]
        if isinstance(columns, str):
            raise InputError(f"columns must be a list of column names, not the string {columns!r}")
        columns = list(dict.fromkeys(columns))
        if missing := [c for c in columns if c not in self.data.columns]:
            raise InputError(f"the table has no column {missing[0]!r} to smooth")
        if text := [c for c in columns if not pd.api.types.is_numeric_dtype(self.data[c])]:
            raise InputError(f"only number columns can be smoothed, not {text[0]!r}")
        if ids := [c for c in columns if c in schema.ID_COLUMNS and c != "face_score"]:
            raise InputError(f"{ids[0]!r} says which frame and face a row is: it cannot be smoothed")
        if isinstance(window, (bool, np.bool_)) or not isinstance(window, (int, np.integer)) or window < 1:
            raise InputError(f"window must be a whole number of frames, at least 1, not {window!r}")
        if method not in ("centered", "causal"):
            raise InputError(f"method must be 'centered' or 'causal', not {method!r}")
        if method == "centered" and window % 2 == 0:
            raise InputError(f"a centred window needs an odd number of frames, not {window}")
        # presence (0/1) stays 0/1: named, or beside a smoothed intensity or probability, it is smoothed
        # as a majority vote, then follows its probability (smoothed or not) on the rows that have one
        # (OpenFace's SVMs give presence without a probability; a combined table may have both kinds of rows)
        named, votes = columns, [c for c in columns if schema.is_au_column(c) and c.endswith("_c")]
        columns = [c for c in columns if c not in votes]
        votes = list(dict.fromkeys(votes + [f"{c[:-2]}_c" for c in columns
                                            if c[-2:] in ("_r", "_p") and f"{c[:-2]}_c" in self.data]))
        meta = {**copy.deepcopy(self.metadata), "smoothing": {"window": window, "method": method, "columns": named}}
        data = smooth_columns(self.data, columns + votes, window=window, method=method)
        _rederive(data, columns, votes)
        return FaceTable(data, meta)

    def to_pandas(self) -> pd.DataFrame:
        return self.data.copy()

    # plots (matplotlib Figures) -------------------------------------------------------------------
    def _check_person(self, face_id: int, source: str | None) -> None:
        """One person's rows exist: a face_id is a person only within a source."""
        from pyfacs.errors import InputError

        rows = self.data[self.data["face_id"] == face_id] if isinstance(face_id, (int, np.integer)) \
            and not isinstance(face_id, bool) else self.data.iloc[:0]
        if source is not None:
            rows = rows[rows["source"] == source]
        if rows.empty:
            raise InputError(f"the table has no face_id {face_id!r}" + (f" in source {source!r}" if source else "")
                             + "; see table.summary() for the people in it")
        if source is None and (n := rows["source"].nunique()) > 1:
            raise InputError(f"face_id {face_id} is a different person in each of {n} sources; "
                             f"pass source= (one of: {', '.join(map(str, rows['source'].unique()[:3]))}, ...)")

    def plot_aus(self, face_id: int, *, source: str | None = None):
        from pyfacs.viz.plots import plot_au_timeseries

        self._check_person(face_id, source)
        return plot_au_timeseries(self.data, face_id, source=source)

    def plot_expressions(self, face_id: int, *, source: str | None = None):
        from pyfacs.viz.plots import plot_expression_timeseries

        self._check_person(face_id, source)
        return plot_expression_timeseries(self.data, face_id, source=source)

    def plot_au_occurrence(self):
        from pyfacs.viz.plots import plot_au_occurrence

        return plot_au_occurrence(self.data)

    def plot_au_map(self, face_id: int, *, source: str | None = None):
        from pyfacs.viz.plots import plot_au_map

        self._check_person(face_id, source)
        return plot_au_map(self.data, face_id, source=source)

    def report(self, path: str | Path) -> Path:
        """Write the HTML report (see ``pyfacs report``)."""
        from pyfacs.viz.report import write_report

        return write_report(self, path)

    # files ---------------------------------------------------------------------------------------
    def to_parquet(self, path: str | Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        t = pa.Table.from_pandas(self.data, preserve_index=False)
        meta = dict(t.schema.metadata or {})
        from pyfacs.io.sinks import metadata_json

        meta[_META_KEY] = metadata_json(self.metadata)
        pq.write_table(t.replace_schema_metadata(meta), path)

    def to_csv(self, path: str | Path) -> None:
        self.data.to_csv(path, index=False)

    def to_jsonl(self, path: str | Path) -> None:
        self.data.to_json(path, orient="records", lines=True, double_precision=JSON_DIGITS)

    def save(self, path: str | Path) -> None:
        """Write by extension: .parquet, .csv or .jsonl."""
        suffix = Path(path).suffix.lower()
        writer = {".parquet": self.to_parquet, ".csv": self.to_csv, ".jsonl": self.to_jsonl}.get(suffix)
        if writer is None:
            from pyfacs.errors import InputError

            raise InputError(f"output {path} must end in .parquet, .csv or .jsonl")
        writer(path)

    @classmethod
    def read(cls, path: str | Path) -> "FaceTable":
        """Read a table that pyfacs wrote (Parquet keeps the metadata; CSV/JSONL do not)."""
        from pyfacs.errors import InputError

        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv", ".jsonl"):
            raise InputError(f"{path} is not a results table: give a .parquet, .csv or .jsonl that pyfacs wrote")
        if not path.is_file():
            raise InputError(f"{path} does not exist")
        meta = {}
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                t = pq.read_table(path)
                meta = json.loads((t.schema.metadata or {}).get(_META_KEY, b"{}"))
                df = t.to_pandas()
            else:
                # (exact floats; CSV: the text columns as written, so that a source named 001 or NA stays
                # one; JSON: no column taken for dates, none narrowed to integers)
                df = pd.read_csv(path, float_precision="round_trip", converters=dict.fromkeys(_TEXT, str)) \
                    if suffix == ".csv" else \
                    pd.read_json(path, lines=True, dtype=False, convert_dates=False, precise_float=True)
                if suffix == ".csv" and "expr_label" in df:  # (an empty cell: no face, no label)
                    df["expr_label"] = df["expr_label"].where(df["expr_label"] != "")
        except (ValueError, OSError) as exc:  # pyarrow's and pandas's parse errors are ValueErrors
            raise InputError(f"{path} cannot be read as a {suffix[1:]} table ({str(exc).splitlines()[0]})") from None
        if df.columns.empty and suffix == ".jsonl":  # a run that analysed no frame writes no line
            df = pd.DataFrame(columns=["source", "frame", "timestamp_s", "face_id"])
        missing = [c for c in ("source", "frame", "timestamp_s", "face_id") if c not in df.columns]
        if missing:
            raise InputError(f"{path} is not a table pyfacs analyze wrote (no {missing[0]} column); another "
                             "tool's results (OpenFace, py-feat, iMotions, Affectiva) are read by "
                             "pyfacs.io.interop.read_table")
        if suffix != ".parquet":
            _warn_if_cut(path)  # (a file of ours: another tool's is not ours to judge)
        _check_numbers(df, path)
        if suffix != ".parquet":  # analyze's float32, so that values read back compare equal to the original
            measured = [c for c in df.columns if schema.is_measured_column(str(c))
                        and c not in ("frame", "timestamp_s", "face_id")]
            df[measured] = df[measured].astype(np.float32)
        return cls(_typed(df), meta)  # (Parquet too: face_id with gaps would come back as floats)
