"""AUDetNet's dataset format and MOMU balancing.

A dataset folder holds a pickled dict (frame id → numpy array of AU values), ``train_ids.csv`` and
``test_ids.csv`` (one frame id a row) and ``imgs/<frame id>.jpg``.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError
from pyfacs.io.csvfile import read_text


@dataclass
class AUDetDataset:
    root: Path
    ids: list[str]
    labels: np.ndarray  # (n, k)

    def images(self, size: int) -> np.ndarray:
        """(n, 3, size, size) float32 in [0, 1]."""
        import cv2

        from pyfacs.io.media import read_image

        return np.stack([cv2.resize(read_image(self.root / "imgs" / f"{i}.jpg"), (size, size)).transpose(2, 0, 1)
                         for i in self.ids]).astype(np.float32) / 255.0


def _read_ids(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"{path} is missing: an AUDetNet dataset needs train_ids.csv and test_ids.csv")
    return [line.strip().split(",")[0] for line in read_text(path, "list of image ids").splitlines() if line.strip()]


def load_audetnet_dataset(root: str | Path, split: str = "train") -> AUDetDataset:
    root = Path(root)
    pickles = sorted(p for p in root.iterdir() if p.suffix in (".pkl", ".pickle")) if root.is_dir() else []
    if not pickles:
        raise InputError(f"{root} holds no pickled label dict (*.pkl): not an AUDetNet dataset")
    if len(pickles) > 1:
        raise InputError(f"{root} holds {len(pickles)} pickled files ({', '.join(p.name for p in pickles[:3])}); "
                         "keep the one label dict (frame id → AU values) there")
    try:
        with open(pickles[0], "rb") as f:
            table = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise InputError(f"{pickles[0]} cannot be read as a pickled label dict ({type(exc).__name__}: {exc}); "
                         "write it again with pickle.dump({frame id: AU values}, f)") from None
    if not isinstance(table, dict):
        raise InputError(f"{pickles[0]} holds a {type(table).__name__}, not a dict (frame id → AU values)")
    ids = _read_ids(root / f"{split}_ids.csv")
    missing = [i for i in ids if i not in table]
    if missing:
        raise InputError(f"{pickles[0].name} has no labels for {len(missing)} ids, e.g. {missing[0]}")
    rows = [np.asarray(table[i], np.float32).ravel() for i in ids]
    if odd := next((i for i, r in zip(ids, rows) if r.shape != rows[0].shape), None):
        raise InputError(f"{pickles[0].name}: id {odd} has {table[odd]!r:.60}, not {rows[0].size} AU values "
                         f"like {ids[0]}; every id needs the same AUs")
    return AUDetDataset(root, ids, np.stack(rows))


def momu(labels: np.ndarray, epoch_size: int, sampling_size: int, rng: np.random.Generator) -> np.ndarray:
    """Multi-label minority oversampling, majority undersampling: an epoch is built in rounds of
    ``sampling_size`` draws; each round draws from the images where the AU that is rarest in the
    epoch so far is present (uniformly when no image has it), so rare AUs are seen about as often as
    common ones. Returns ``epoch_size`` indices."""
    if epoch_size % sampling_size:
        raise InputError(f"sampling_size={sampling_size} must divide epoch_size={epoch_size}")
    present = labels > 0
    counts = np.zeros(labels.shape[1])
    out = []
    for _ in range(epoch_size // sampling_size):
        au = int(np.argmin(counts + np.where(present.any(0), 0, np.inf)))  # skip AUs no image has
        pool = np.nonzero(present[:, au])[0] if present[:, au].any() else np.arange(len(labels))
        pick = rng.choice(pool, sampling_size, replace=True)
        counts += present[pick].sum(0)
        out.append(pick)
    return np.concatenate(out)
