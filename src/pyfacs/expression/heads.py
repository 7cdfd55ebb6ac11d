"""Expression heads as pipeline stages, chosen by registry name: ``expr_<label>`` probabilities and
``expr_label`` per face."""
from __future__ import annotations

import logging

import numpy as np

from pyfacs.errors import InputError, ModelUnavailableError
from pyfacs.schema import expression_column

log = logging.getLogger(__name__)

EXPRESSION_HEADS = ("esr5.fer2013", "esr9.fer2013")
# ESR-5 warm-started from ESR-9's first 5 branches and trained on, int8 convolutions: more accurate than
# the ESR-9 (69.8% vs 65.5% on FER2013 PublicTest) at ~3x its speed on a CPU (docs/expression.md)
DEFAULT_EXPRESSION_HEAD = "esr5.fer2013"


class ESRExpressionHead:
    """pyfacs's ESR trained on FER2013 (ONNX package data). Input: a FER2013-style 48×48 grey crop
    (the whole image with ``--faces-cropped``)."""

    def __init__(self, name: str = DEFAULT_EXPRESSION_HEAD):
        import onnxruntime as ort

        from pyfacs.models import get_model
        from pyfacs.models.hub import resolve_one

        spec = get_model(name)
        self.name = name
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(resolve_one(spec)), opts, providers=["CPUExecutionProvider"])
        self.labels = list(spec.labels)
        self.columns = [expression_column(label) for label in self.labels] + ["expr_label"]

    def crop(self, rgb: np.ndarray, face, *, whole_image: bool) -> np.ndarray:
        return face_crop(rgb, face, whole_image=whole_image)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """(n, 48, 48) uint8 → (n, n_labels) probabilities (the ensemble vote)."""
        x = crops.astype(np.float32)[:, None] / 255.0 - 0.5
        return self._session.run(None, {"input": x})[0][:, : len(self.labels)]

    def crops_for(self, rgb: np.ndarray, faces, *, whole_image: bool) -> np.ndarray | None:
        """The faces' 48×48 crops (None without faces): cheap, and all the network needs of the frame."""
        return np.stack([self.crop(rgb, f, whole_image=whole_image) for f in faces]) if faces else None

    def columns_from_frames(self, crops: list[np.ndarray | None]) -> list[dict[str, np.ndarray]]:
        """The columns for several frames' crops, run as one batch (safe in another thread: ONNX
        Runtime releases the GIL)."""
        present = [c for c in crops if c is not None]
        probs = self(np.concatenate(present)) if present else None
        out, start = [], 0
        for c in crops:
            if c is None:
                out.append({"expr_label": np.array([None], dtype=object)})
                continue
            p, start = probs[start:start + len(c)], start + len(c)
            cols = {expression_column(label): p[:, k].astype(np.float32) for k, label in enumerate(self.labels)}
            cols["expr_label"] = np.array([self.labels[i] for i in p.argmax(1)], dtype=object)
            out.append(cols)
        return out


def face_crop(rgb: np.ndarray, face, *, whole_image: bool) -> np.ndarray:
    """The network's 48×48 grey input: the face aligned as FER2013's are, or (``whole_image``, for
    inputs that are face crops already) the whole image."""
    import cv2

    from pyfacs.face.align import fer_crop

    if whole_image:
        return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    return fer_crop(rgb, face.mesh.points if face.mesh is not None else None, face.lmk68)


def make_expression_head(name: str | None) -> ESRExpressionHead | None:
    if name in (None, "none"):
        return None
    if name == "auto":
        try:
            return ESRExpressionHead()
        except (ModelUnavailableError, InputError) as exc:
            log.warning("no expression columns: %s is unavailable (%s)", DEFAULT_EXPRESSION_HEAD, exc)
            return None
    if name not in EXPRESSION_HEADS:
        raise InputError(f"unknown expression model {name!r}; choose one of: {', '.join(EXPRESSION_HEADS)}, none")
    return ESRExpressionHead(name)
