"""A wall-clock budget for training: stop cleanly at an epoch's end once the time is spent, so that a
run under a time limit (a shared machine, a batch queue, a borrowed GPU) never loses work; the same
command resumes from the checkpoint and ends with the same model as an uninterrupted run."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pyfacs.errors import InputError, PyfacsError


class TrainingPaused(PyfacsError):
    """The budget ran out; the run directory holds a checkpoint to resume from."""


def epoch_saver(path: Path, epochs: int, deadline: float | None) -> Callable[[int, dict], None]:
    """The ``on_epoch`` callback of the trainers: checkpoint ``{"epoch", "state"}`` to ``path``, then
    pause if ``deadline`` (a ``time.monotonic()`` value) has passed and epochs remain."""
    import torch

    def save(epoch: int, state: dict) -> None:
        save_atomically(path, lambda f: torch.save({"epoch": epoch, "state": state}, f))
        if deadline is not None and time.monotonic() > deadline and epoch + 1 < epochs:
            raise TrainingPaused(f"paused after epoch {epoch + 1} of {epochs}: the time budget is spent; "
                                 f"the same command resumes from {path}")

    return save


def pause_if_spent(deadline: float | None, done: str) -> None:
    """Between two stages (cross-validation folds, then the final model): pause once the budget is
    spent rather than start the next stage's first epoch."""
    if deadline is not None and time.monotonic() > deadline:
        raise TrainingPaused(f"paused after {done}: the time budget is spent; the same command resumes "
                             "with the next stage")


@contextmanager
def _staged(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write, renamed to ``path`` once the block ends whole: an
    interrupt or a full disk mid-write leaves the previous file whole, not a cut one."""
    part = path.with_name(f".{path.name}.part")
    try:
        yield part
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def save_atomically(path: Path, write: Callable, advice: str = "free some space or choose another --run-dir") -> None:
    """``write(file)`` staged (a cut checkpoint would block the resume); a failure is one line."""
    try:
        with _staged(path) as part, open(part, "wb") as f:
            write(f)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror or exc}); {advice}") from None


def write_text_atomically(path: Path, text: str) -> None:
    """``path``'s new text, staged (a run's config, provenance and metrics: a cut one would be taken
    for a damaged run, or skip the check that a resume sees the same inputs). Errors are the file
    system's own, for the run to report with what it keeps."""
    with _staged(path) as part:
        part.write_text(text)


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by :func:`epoch_saver`; a damaged one is named, with what to do."""
    import torch

    try:
        return torch.load(path, weights_only=False, map_location="cpu")
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise InputError(f"the checkpoint {path} is damaged ({str(exc).splitlines()[0]}); delete it to "
                         f"train that stage again from its start") from None


def deadline_in(minutes: float | None) -> float | None:
    return None if minutes is None else time.monotonic() + 60.0 * minutes
