"""Streaming table writers: rows go to disk in chunks, so memory stays flat for any video length,
and whatever was written before an error is a valid file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import pandas as pd

from pyfacs.errors import InputError

SUFFIXES = (".parquet", ".csv", ".jsonl")


class Sink(Protocol):
    def write(self, df: pd.DataFrame) -> None: ...
    def close(self) -> None: ...


def check_output_path(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if p.suffix.lower() not in SUFFIXES:
        raise InputError(f"output {p} must end in .parquet, .csv or .jsonl")
    if not p.parent.exists():
        raise InputError(f"output folder {p.parent} does not exist; create it first")
    return p


def _arrow_schema(columns: list[str], metadata: dict):
    import pyarrow as pa

    special = {"source": pa.string(), "frame": pa.int64(), "timestamp_s": pa.float64(),
               "face_id": pa.int64(), "expr_label": pa.string()}
    fields = [pa.field(c, special.get(c, pa.float32())) for c in columns]
    return pa.schema(fields, metadata={b"pyfacs": json.dumps(metadata).encode()})


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
            df.to_json(f, orient="records", lines=True)

    def close(self) -> None:
        pass


def open_sink(path: str | Path, columns: list[str], metadata: dict) -> Sink:
    p = check_output_path(path)
    cls = {".parquet": ParquetSink, ".csv": CsvSink, ".jsonl": JsonlSink}[p.suffix.lower()]
    return cls(p, columns, metadata)
