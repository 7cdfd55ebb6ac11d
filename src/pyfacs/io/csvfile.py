"""Reading other people's CSV files with one-line errors: the file named, the cell where it can be."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pyfacs.errors import InputError


def existing_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: give the file inside it")
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    return path


def read_csv(path: str | Path, what: str, **kw) -> pd.DataFrame:
    """The file as a DataFrame with stripped column names; pandas's own errors become InputErrors."""
    path = existing_file(path)
    try:
        df = pd.read_csv(path, skipinitialspace=True, low_memory=False, **kw)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty: expected {what}") from None
    except (OSError, ValueError) as exc:  # ParserError and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path} is not a readable {what} ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df
