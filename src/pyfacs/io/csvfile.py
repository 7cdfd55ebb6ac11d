"""Reading other people's files (CSV, text) with one-line errors: the file named, the cell where it can be."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError


def existing_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: give a file")
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    return path


def read_text(path: str | Path, what: str) -> str:
    """The file's text (UTF-8, a byte-order mark as Windows editors write it dropped); ``what`` names
    the kind of file the error lines ask for."""
    path = existing_file(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a readable {what}: not a text file (UTF-8)") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror or exc})") from None


def read_csv(path: str | Path, what: str, **kw) -> pd.DataFrame:
    """The file as a DataFrame with stripped column names; pandas's own errors become InputErrors, and so
    does a row longer than the header (pandas would silently take its first cells as an index)."""
    import warnings

    path = existing_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(path, skipinitialspace=True, low_memory=False, **({"index_col": False} | kw))
    except pd.errors.ParserWarning:  # (pandas: "Length of header or names does not match length of data")
        raise InputError(f"{path} is not a readable {what}: a row holds more cells than the header names") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty: expected {what}") from None
    except (OSError, ValueError) as exc:  # ParserError and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path} is not a readable {what} ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def numbers(df: pd.DataFrame, cols: Sequence[str], path: str | Path) -> pd.DataFrame:
    """``cols`` as float64. A cell that is not a number is named in an InputError: left alone, pandas
    keeps the column as text and NumPy fails later with an error that names neither file nor cell."""
    cols = list(cols)
    raw = df[cols]
    num = raw.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    bad = num.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]  # (row by index label: the file's data row even after filtering)
        raise InputError(f"{path}: column {cols[c]!r} holds {raw.iat[r, c]!r} in data row {raw.index[r] + 1}, "
                         f"not a number")
    return num
