"""What test-time augmentation and voting the two shipped expression heads together would give on
FER2013 PublicTest (docs/expression.md): each head on the faces as they are, with the mirror image
averaged in, and with six views (±8° rotations × mirror); then both heads' probabilities summed.
The heads run as `analyze` runs them (the packaged ONNX on the whole 48×48 image).

    PYFACS_MODEL_MIRROR=../shared/models python benchmarks/expression_tta.py
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from _common import arguments, shared


def views(faces: np.ndarray) -> dict[str, np.ndarray]:
    """The faces as they are, mirrored, rotated by ±8° about the centre (edges replicated), and
    those mirrored."""
    def rotated(deg: float) -> np.ndarray:
        m = cv2.getRotationMatrix2D((23.5, 23.5), deg, 1.0)
        return np.stack([cv2.warpAffine(f, m, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                         for f in faces])

    out = {"as is": faces, "+8°": rotated(8), "-8°": rotated(-8)}
    return out | {f"{k}, mirrored": v[:, :, ::-1] for k, v in out.items()}


def main() -> None:
    from pyfacs.expression.heads import EXPRESSION_HEADS, ESRExpressionHead

    root = shared("data", "fer2013")
    labels = pd.read_csv(root / "labels.csv")
    val = labels[labels["usage"] == "PublicTest"]
    faces = np.stack([cv2.imread(str(root / p), cv2.IMREAD_GRAYSCALE) for p in val["path"]])
    per_view = views(faces)
    heads = [ESRExpressionHead(name) for name in EXPRESSION_HEADS]
    assert all(h.labels == heads[0].labels for h in heads), "the heads' classes differ: their votes cannot be summed"
    truth = np.array([heads[0].labels.index(e) for e in val["emotion"]])

    def accuracy(p: np.ndarray) -> str:
        return f"{(p.argmax(1) == truth).mean():.2%}"

    all_probs = []
    for head in heads:
        probs = {k: np.concatenate([head(v[i:i + 256]) for i in range(0, len(v), 256)]) for k, v in per_view.items()}
        all_probs.append(probs)
        print(f"{head.name}: as is {accuracy(probs['as is'])}, "
              f"+ mirror {accuracy(probs['as is'] + probs['as is, mirrored'])}, "
              f"six views {accuracy(sum(probs.values()))}")
    print(f"{' + '.join(EXPRESSION_HEADS)} voting: as is {accuracy(sum(p['as is'] for p in all_probs))}, "
          f"six views each {accuracy(sum(sum(p.values()) for p in all_probs))}")

if __name__ == "__main__":
    arguments(__doc__)
    main()
