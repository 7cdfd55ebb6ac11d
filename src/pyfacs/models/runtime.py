"""Thin runners for the two inference runtimes: TFLite (LiteRT) for the face models, ONNX Runtime for heads."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def _quiet_stderr():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def single_threaded_blas():
    """A context in which NumPy's BLAS runs on one thread. The AU heads' products are small (a few
    thousand by a few dozen): a BLAS thread pool gains nothing there and, spinning while it waits,
    takes a core from the face and expression models (end to end with OpenFace AUs: 50 → 80
    frames/s on two cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class TFLiteModel:
    """A LiteRT interpreter with named outputs; one per thread (interpreters are not thread-safe)."""

    def __init__(self, path: Path, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        with _quiet_stderr():  # LiteRT's C++ logs an INFO line per interpreter straight to fd 2
            self._it = Interpreter(model_path=str(path), num_threads=num_threads)
            self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        self._in_index = inp["index"]
        self.input_shape = tuple(int(v) for v in inp["shape"])
        self._outs = [(d["name"], d["index"]) for d in self._it.get_output_details()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self._it.set_tensor(self._in_index, np.ascontiguousarray(x, dtype=np.float32))
        self._it.invoke()
        return {name: self._it.get_tensor(idx) for name, idx in self._outs}
