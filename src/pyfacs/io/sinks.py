"""Streaming table writers: rows go to disk in chunks, so memory stays flat for any video length,
and whatever was written before an error is a valid file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from pyfacs.errors import InputError
from pyfacs.table import JSON_DIGITS

SUFFIXES = (".parquet", ".csv", ".jsonl")


def check_output_path(path: str | Path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"output must be a file's path (.parquet, .csv or .jsonl), not {path!r}")
    p = Path(path).expanduser()
    if p.suffix.lower() not in SUFFIXES:
        raise InputError(f"output {p} must end in .parquet, .csv or .jsonl")
    return check_writable(p, "output")


def check_writable(path: str | Path, what: str) -> Path:
    """``path`` can be written (its folder exists and takes a new file; it is not a folder itself),
    found before any work is done; an existing file there is left as it is."""
    import tempfile

    p = Path(path).expanduser()
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder; name a file")
    if not p.parent.exists():
        raise InputError(f"{what} folder {p.parent} does not exist; create it first")
    if not p.parent.is_dir():
        raise InputError(f"{what} folder {p.parent} is a file, not a folder; choose another path")
    try:
        with tempfile.NamedTemporaryFile(dir=p.parent, prefix=f".{p.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise InputError(f"{what} folder {p.parent} cannot be written ({exc.strerror or exc}); "
                         "choose another path") from None
    return p


def metadata_json(metadata: dict) -> bytes:
    """The metadata as JSON bytes; NumPy scalars and arrays and paths given as options are written too."""
    def plain(o):
        if hasattr(o, "tolist"):  # NumPy scalars and arrays
            return o.tolist()
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        raise TypeError(f"metadata value {o!r} ({type(o).__name__}) cannot be written as JSON")

    return json.dumps(metadata, default=plain).encode()


def _arrow_schema(columns: list[str], metadata: dict):
    import pyarrow as pa

    special = {"source": pa.string(), "frame": pa.int64(), "timestamp_s": pa.float64(),
               "face_id": pa.int64(), "expr_label": pa.string()}
    fields = [pa.field(c, special.get(c, pa.float32())) for c in columns]
    return pa.schema(fields, metadata={b"pyfacs": metadata_json(metadata)})


class ParquetSink:
    def __init__(self, path: Path, columns: list[str], metadata: dict):
        import pyarrow.parquet as pq

        self._schema = _arrow_schema(columns, metadata)
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa

        self._writer.write_table(pa.Table.from_pandas(df, schema=self._schema, preserve_index=False))

    def close(self) -> None:
        self._writer.close()


class CsvSink:
    def __init__(self, path: Path, columns: list[str], metadata: dict):
        self._path, self._columns = path, columns
        pd.DataFrame(columns=columns).to_csv(path, index=False)  # header, even when no row comes

    def write(self, df: pd.DataFrame) -> None:
        df[self._columns].to_csv(self._path, mode="a", header=False, index=False)

    def close(self) -> None:
        pass


class JsonlSink:
    def __init__(self, path: Path, columns: list[str], metadata: dict):
        self._path = path
        path.write_text("")

    def write(self, df: pd.DataFrame) -> None:
        with open(self._path, "a") as f:
            df.to_json(f, orient="records", lines=True, double_precision=JSON_DIGITS)

    def close(self) -> None:
        pass


def part_path(target: Path) -> Path:
    """Where :class:`StagedSink` writes ``target`` until it is complete."""
    name = target.name
    return target.with_name((name if len(name) <= 250 else name[:200]) + ".part")


class StagedSink:
    """Writes to ``<output>.part`` and puts it in place on ``close``: an existing file is replaced
    only by a complete table with rows, never by an empty one from a run that analysed nothing or
    stopped on a bad option, nor by the part of one that an interrupted run wrote (that goes beside
    it, as ``<stem>.partial<suffix>``)."""

    def __init__(self, path: str | Path, columns: list[str], metadata: dict):
        self.path = check_output_path(path)
        self.target = self.path.resolve() if self.path.is_symlink() else self.path  # (written through a link)
        self.part = part_path(self.target)
        cls = {".parquet": ParquetSink, ".csv": CsvSink, ".jsonl": JsonlSink}[self.path.suffix.lower()]
        try:
            self._sink = cls(self.part, columns, metadata)
        except OSError as exc:
            raise InputError(f"cannot write {self.path} (via {self.part.name}: {exc.strerror or exc}); "
                             "choose another --output") from None
        self.rows = 0

    def write(self, df: pd.DataFrame) -> None:
        try:
            self._sink.write(df)
        except OSError as exc:  # a full disk, a lost network drive: the rows written so far stay
            raise InputError(f"cannot write more of {self.path} ({exc.strerror or exc})") from None
        self.rows += len(df)

    def close(self, keep: bool | None = None, *, interrupted: bool = False, place: bool = True) -> Path | None:
        """Put the output in place if ``keep`` (default: if it has rows); the path written, or None.
        ``place=False`` leaves a kept table under its temporary name (:func:`part_path`) for the caller
        to put in place."""
        self._sink.close()
        keep = self.rows > 0 if keep is None else keep
        if not keep:
            self.part.unlink(missing_ok=True)
            return None
        if not place:
            return self.part
        target = self.target
        if interrupted and target.exists():  # an earlier, perhaps complete, table is worth more than part of one
            # (and an earlier interrupted run's part too: the first free name of .partial, .partial-2, ...)
            names = (f"{target.stem}.partial{'' if n == 1 else f'-{n}'}{target.suffix}" for n in range(1, 10_000))
            target = next(target.with_name(n) for n in names if not target.with_name(n).exists())
        os.replace(self.part, target)
        return target
