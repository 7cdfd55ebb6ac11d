"""A wall-clock budget for training: stop cleanly at an epoch's end once the time is spent, so that a
run under a time limit (a shared machine, a batch queue, a borrowed GPU) never loses work; the same
command resumes from the checkpoint and ends with the same model as an uninterrupted run."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pyfacs.errors import PyfacsError


class TrainingPaused(PyfacsError):
    """The budget ran out; the run directory holds a checkpoint to resume from."""


def epoch_saver(path: Path, epochs: int, deadline: float | None) -> Callable[[int, dict], None]:
    """The ``on_epoch`` callback of the trainers: checkpoint ``{"epoch", "state"}`` to ``path``, then
    pause if ``deadline`` (a ``time.monotonic()`` value) has passed and epochs remain."""
    import torch

    def save(epoch: int, state: dict) -> None:
        torch.save({"epoch": epoch, "state": state}, path)
        if deadline is not None and time.monotonic() > deadline and epoch + 1 < epochs:
            raise TrainingPaused(f"paused after epoch {epoch + 1} of {epochs}: the time budget is spent; "
                                 f"the same command resumes from {path}")

    return save


def deadline_in(minutes: float | None) -> float | None:
    return None if minutes is None else time.monotonic() + 60.0 * minutes
