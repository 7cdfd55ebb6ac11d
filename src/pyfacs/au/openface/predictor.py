"""OpenFace 2.2 AU intensity (SVR) and presence (SVM) from landmarks and the frame.

Features per face and frame: FHOG (cell 8) of the aligned 112×112 face (4464 values) and geometry
(the PDM's non-rigid shape Φ·p, 204 values, then p itself, 34 values). Dynamic models subtract the
person's running median of those features (histogram medians: HOG 1000 bins over [-0.005, 1],
geometry 10000 bins over [-60, 60], updated every second frame). At the end of a video, as OpenFace
does offline: the first 3000 frames are predicted again with the final median; each dynamic intensity
is shifted so that its ``cutoff`` quantile over the video is 0; intensities are clipped to [0, 5] and
smoothed with a centred 3-frame mean; presence is smoothed with a centred 7-frame majority.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pyfacs.au.openface.align import FaceAligner
from pyfacs.au.openface.files import LinearAUModel, read_model_list, read_pdm, read_triangulation
from pyfacs.au.openface.pdm import PDM, PDMFit
from pyfacs.errors import ModelUnavailableError

HOG_BINS, HOG_RANGE = 1000, (-0.005, 1.0)
GEOM_BINS, GEOM_RANGE = 10000, (-60.0, 60.0)
MAX_INIT_FRAMES = 3000


class RunningMedian:
    """Per-dimension median from a fixed-bin histogram (constant memory for any video length).

    The median bin of each dimension is kept with the count of samples below it and moved bin by bin
    as samples arrive: reading all of a 4464 × 1000 histogram again each frame (as OpenFace does) made
    every frame after the 3000th several times slower than the rest. Values are the same."""

    def __init__(self, dims: int, bins: int, lo: float, hi: float):
        # 16-bit counts (14 MB a person, not 27) until a bin could overflow: widened after 65,535 samples
        self.hist = np.zeros((dims, bins), np.uint16)
        self.bins, self.lo, self.length = bins, lo, hi - lo
        self.count = 0
        self._first: np.ndarray | None = None  # with one sample, the median is the sample itself
        self._bin: np.ndarray | None = None  # each dimension's median bin, once asked for
        self._below: np.ndarray | None = None  # samples in the bins before it
        self._rows = np.arange(dims)

    def update(self, x: np.ndarray) -> None:
        idx = np.clip(((x - self.lo) * self.bins / self.length).astype(np.int64), 0, self.bins - 1)
        if self.count == np.iinfo(self.hist.dtype).max:
            self.hist = self.hist.astype(np.int64)
        self.hist[self._rows, idx] += 1
        self.count += 1
        if self.count == 1:
            self._first = x.copy()
        if self._bin is not None:
            self._below += idx < self._bin

    def value(self, current: np.ndarray) -> np.ndarray:
        if self.count == 0:
            return current.copy()
        if self.count == 1:
            return self._first
        half = (self.count + 1) // 2  # the median bin: the first whose cumulative count reaches half
        if self._bin is None:
            cum = np.cumsum(self.hist, axis=1, dtype=np.int64)  # (signed: _below meets the widened counts later)
            self._bin = (cum >= half).argmax(axis=1)
            self._below = cum[self._rows, self._bin] - self.hist[self._rows, self._bin]
        else:
            self._move(half)
        step = self.length / self.bins
        return self.lo + self._bin * step + 0.5 * step

    def absorb(self, other: "RunningMedian") -> None:
        """Add ``other``'s samples (the same person seen in two pieces of a track)."""
        if other.count == 0:
            return
        total = self.count + other.count
        hist = self.hist.astype(np.int64) + other.hist
        self.hist = hist if total >= np.iinfo(np.uint16).max else hist.astype(np.uint16)
        self._first = self._first if self.count else other._first
        self.count = total
        self._bin = self._below = None  # (found again from the histogram when next asked for)

    def _move(self, half: int) -> None:
        b, below, rows = self._bin, self._below, self._rows
        while True:  # each arrival moves a median by a bin or two at most, empty bins aside
            up = below + self.hist[rows, b] < half
            down = below >= half
            if not (up.any() or down.any()):
                return
            below[up] += self.hist[rows[up], b[up]]
            b[up] += 1
            b[down] -= 1
            below[down] -= self.hist[rows[down], b[down]]


@dataclass
class FaceAUState:
    """Everything a dynamic AU analysis keeps for one person."""

    hog: RunningMedian = field(default_factory=lambda: RunningMedian(4464, HOG_BINS, *HOG_RANGE))
    geom: RunningMedian = field(default_factory=lambda: RunningMedian(238, GEOM_BINS, *GEOM_RANGE))
    frames_seen: int = 0
    last_fit: PDMFit | None = None
    early_rows: list[int] = field(default_factory=list)  # rows of the first 3000 frames, predicted without a median
    last_features: np.ndarray | None = None  # (the median of a person seen once is their features)


def merge_states(into: FaceAUState, other: FaceAUState) -> None:
    """``other``'s calibration joined to ``into``'s: one person found in two pieces of a track."""
    into.hog.absorb(other.hog)
    into.geom.absorb(other.geom)
    into.frames_seen += other.frames_seen
    into.early_rows = sorted(into.early_rows + other.early_rows)
    into.last_features = into.last_features if into.last_features is not None else other.last_features


class OpenFaceAU:
    """The ``openface.au-2.2`` head. ``static=True`` uses the static models for every AU."""

    def __init__(self, folder: Path, *, static: bool = False):
        """``folder``: OpenFace's ``AU_predictors`` folder (see :meth:`from_registry`)."""
        folder = Path(folder)
        models = read_model_list(folder / ("AU_all_static.txt" if static else "AU_all_best.txt"))
        self.static = static
        self.svr = [m for m in models if m.task == "svr"]
        self.svm = [m for m in models if m.task == "svm"]
        self.pdm = PDM(read_pdm(folder / "In-the-wild_aligned_PDM_68.txt"))
        self.aligner = FaceAligner(self.pdm.mean, read_triangulation(folder / "tris_68_full.txt"))
        self._comps_flat = self.pdm.comps.transpose(1, 0, 2).reshape(-1, self.pdm.m)  # x, y, z blocks
        self._stack(self.svr, "svr")
        self._stack(self.svm, "svm")

    @classmethod
    def from_registry(cls, *, static: bool = False) -> "OpenFaceAU":
        """Files from the cache, the mirror or the canonical URLs, each verified by SHA-256."""
        from pyfacs.models import get_model
        from pyfacs.models.hub import resolve

        paths = resolve(get_model("openface.au-2.2"))
        folders = {p.parents[len(Path(f.path).parents) - 2] for p, f in
                   zip(paths, get_model("openface.au-2.2").files)}
        if len(folders) != 1:  # the files are read relative to each other
            raise ModelUnavailableError("openface.au-2.2's files lie in several folders; "
                                        "clear the cache (PYFACS_HOME) and run again")
        return cls(folders.pop(), static=static)

    def _stack(self, models: list[LinearAUModel], name: str) -> None:
        setattr(self, f"_{name}_w", np.stack([m.weights for m in models], 1))
        setattr(self, f"_{name}_mean", np.stack([m.means for m in models], 1))
        setattr(self, f"_{name}_b", np.array([m.bias for m in models])
                - np.einsum("dk,dk->k", getattr(self, f"_{name}_mean"), getattr(self, f"_{name}_w")))
        setattr(self, f"_{name}_dyn", np.array([m.dynamic for m in models]))

    @property
    def intensity_aus(self) -> list[str]:
        return [m.au for m in self.svr]

    @property
    def presence_aus(self) -> list[str]:
        return [m.au for m in self.svm]

    def features(self, image: np.ndarray, landmarks: np.ndarray, state: FaceAUState) -> np.ndarray:
        import pyfhog

        fit = self.pdm.fit(landmarks, init=state.last_fit)
        state.last_fit = fit
        face = self.aligner(image, landmarks, fit.translation)
        # OpenFace hands dlib BGR frames; pyfhog reproduces its features when given the same order
        hog = pyfhog.extract_fhog_features(np.ascontiguousarray(face[:, :, ::-1]), cell_size=8)
        geom = np.concatenate([self._comps_flat @ fit.params, fit.params])
        return np.concatenate([hog, geom])

    @staticmethod
    def _median(feats: np.ndarray, state: FaceAUState) -> np.ndarray:
        hog_med = np.maximum(state.hog.value(feats[:4464]), 0.0)  # HOG values are never negative
        return np.concatenate([hog_med, state.geom.value(feats[4464:])])

    def raw(self, feats: np.ndarray, median: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Unclipped SVR outputs and SVM decision values for one frame's features."""
        out = []
        for name in ("svr", "svm"):
            w, b, dyn = (getattr(self, f"_{name}_{k}") for k in ("w", "b", "dyn"))
            pred = feats @ w + b  # (x - means)·w + bias, with means·w folded into b
            if median is not None:
                pred = pred - np.where(dyn, median @ w, 0.0)
            out.append(pred)
        return out[0], out[1]

    def step(self, image: np.ndarray, landmarks: np.ndarray, state: FaceAUState, row: int):
        """Online prediction for one frame (before the end-of-video calibration)."""
        feats = self.features(image, landmarks, state)
        if self.static:
            return self.raw(feats, None)
        if state.frames_seen % 2 == 0:  # (OpenFace counts the frame first, then updates on odd counts: the 1st, 3rd, ...)
            state.hog.update(feats[:4464])
            state.geom.update(feats[4464:])
        state.frames_seen += 1
        state.last_features = feats
        if len(state.early_rows) < MAX_INIT_FRAMES:
            # predicted again at the end with the final median: skip the costly running one now
            state.early_rows.append(row)
            return self.raw(feats, None)
        return self.raw(feats, self._median(feats, state))

    def finish(self, reg: np.ndarray, cls: np.ndarray, state: FaceAUState | None, rows: np.ndarray,
               *, video: bool, runs: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Whole-source post-processing of one face's (frames × AUs) raw outputs.

        ``rows`` maps row numbers to positions in ``reg``/``cls``; ``runs``: positions of consecutive
        analysed frames (default: one run), each smoothed on its own so that no value crosses a gap.
        """
        reg, cls = reg.copy(), cls.copy()
        if state is not None and state.early_rows:
            # early frames again, with the final median: the models are linear, so subtracting
            # median·w from their median-free outputs is the same as predicting their features again
            # (which would mean keeping 3000 × 4702 features, 113 MB, per person)
            pos = {r: i for i, r in enumerate(rows)}
            early = [pos[r] for r in state.early_rows if r in pos]
            final = self._median(state.last_features, state)
            for out, name in ((reg, "svr"), (cls, "svm")):
                w, dyn = getattr(self, f"_{name}_w"), getattr(self, f"_{name}_dyn")
                out[early] -= np.where(dyn, final @ w, 0.0)
        reg = np.clip(reg, 0.0, 5.0)  # each frame's prediction is clipped when it is made
        if video and not self.static:
            for k, m in enumerate(self.svr):
                if m.dynamic and m.cutoff >= 0 and len(reg):
                    reg[:, k] -= np.sort(reg[:, k])[int(len(reg) * m.cutoff)]
        reg = np.clip(reg, 0.0, 5.0)
        presence = np.where(cls > 0, [m.pos_class for m in self.svm], [m.neg_class for m in self.svm])
        if video:  # OpenFace smooths offline video output in static mode too
            for run in runs if runs is not None else [np.arange(len(reg))]:
                reg[run], presence[run] = _smoothed(reg[run], presence[run])
        return reg, presence


def _smoothed(reg: np.ndarray, presence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenFace's offline smoothing: a centred 3-frame mean of intensities, a centred 7-frame
    majority of presence; the ends of a run stay as they were."""
    reg, presence = reg.copy(), presence.copy()
    if len(reg) >= 3:
        reg[1:-1] = (reg[:-2] + reg[1:-1] + reg[2:]) / 3
    if len(presence) >= 7:
        k = np.ones(7) / 7
        sm = np.stack([np.convolve(presence[:, j], k, mode="same") for j in range(presence.shape[1])], 1)
        presence[3:-3] = (sm[3:-3] > 0.5).astype(presence.dtype)
    return reg, presence
