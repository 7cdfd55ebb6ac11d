"""How benchmarks/data/*_identities.csv were made (run once; needs dlib and face-recognition-models,
which are not pyfacs dependencies): every face pyfacs finds with detection on every frame, described
by dlib's face-recognition ResNet (128-D), clustered (average linkage, distance 0.5); the clusters were
then checked by eye on the montage this script writes (rows of crops per person). The CLUSTERS largest
clusters are the people (given on the command line, after looking); every other face
(mostly motion-blurred or half hidden) goes to the person whose mean descriptor is nearest, or to no
one (-1, not scored) when the second-nearest is almost as near (ratio > AMBIGUOUS), or when it sits
far from where that person is in the frames around it. The CSV holds frame, person and the face centre and size: what the
tracking benchmark matches pyfacs's faces against.

    python benchmarks/make_identity_truth.py VIDEO CLUSTERS OUT.csv MONTAGE.png [A:B ...]

A:B merges cluster A into B where the eye check saw one person in two clusters. Used here:
multi_face.avi 3 (three people); crowd_video.mp4 8 6:5 (seven people: dlib split the woman in the
red coat, half hidden behind the boy, into clusters 5 and 6).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

AMBIGUOUS = 0.85


def _drop_jumps(df: pd.DataFrame, window: int = 9, limit: float = 1.5) -> pd.Series:
    """A face labelled with a person far (> ``limit`` face sizes) from that person's running median
    position is a labelling error (another face, similar under blur): not scored (-1)."""
    person = df["person"].copy()
    for p, g in df[df["person"] >= 0].sort_values("frame").groupby("person"):
        med = g[["cx", "cy"]].rolling(window, center=True, min_periods=1).median()
        far = np.hypot(g["cx"] - med["cx"], g["cy"] - med["cy"]) > limit * g["size"]
        person[far[far].index] = -1
    return person


def main(video: str, n_people: str, out_csv: str, montage: str, *merges: str) -> None:
    import dlib
    from PIL import Image
    from scipy.cluster.hierarchy import fcluster, linkage

    from pyfacs.io.media import iter_frames
    from pyfacs.pipeline import Analyzer

    models = Path(__import__("importlib").util.find_spec("face_recognition_models").origin).parent / "models"
    rec = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    an = Analyzer(au_model=None, expression_model=None, detect_every=1)
    rows, descs, crops = [], [], []
    for frame in iter_frames(Path(video)):
        for f in an.faces(frame.rgb, index=frame.index):
            x1, y1, x2, y2 = f.box
            rect = dlib.rectangle(int(x1), int(y1), int(x2), int(y2))
            shape = dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in f.lmk68])
            descs.append(np.array(rec.compute_face_descriptor(frame.rgb, shape)))
            rows.append({"frame": frame.index, "cx": (x1 + x2) / 2, "cy": (y1 + y2) / 2, "size": max(x2 - x1, y2 - y1)})
            c = frame.rgb[max(0, int(y1)):int(y2), max(0, int(x1)):int(x2)]
            crops.append(Image.fromarray(c).resize((48, 48)) if c.size else Image.new("RGB", (48, 48)))
    descs = np.array(descs)
    labels = fcluster(linkage(descs, "average"), 0.5, "distance")
    people = list(pd.Series(labels).value_counts().index[: int(n_people)])  # largest first
    means = np.stack([descs[labels == p].mean(0) for p in people])
    dist = np.linalg.norm(descs[:, None] - means[None], axis=2)
    nearest = dist.argmin(1)
    two = np.sort(dist, 1)[:, :2] if len(people) > 1 else np.c_[dist, np.full(len(dist), np.inf)]
    df = pd.DataFrame(rows)
    df["person"] = np.where(two[:, 0] / two[:, 1] > AMBIGUOUS, -1, nearest)
    df["person"] = df["person"].replace({int(a): int(b) for a, b in (m.split(":") for m in merges)})
    df["person"] = _drop_jumps(df)
    df.round(1).to_csv(out_csv, index=False)
    people = sorted(df["person"].unique())
    people = sorted(df["person"].unique())
    per_row, rows_each = 24, 4
    sheet = Image.new("RGB", (48 * per_row, 48 * rows_each * len(people)), "white")
    for r, p in enumerate(people):
        idx = np.flatnonzero(df["person"].to_numpy() == p)
        take = idx[np.linspace(0, len(idx) - 1, min(per_row * rows_each, len(idx))).astype(int)]
        for c, i in enumerate(take):
            sheet.paste(crops[i], (48 * (c % per_row), 48 * (r * rows_each + c // per_row)))
    sheet.save(montage)
    print(df.groupby("person")["frame"].agg(["size", "min", "max"]).to_string())


if __name__ == "__main__":
    from _common import arguments

    args = arguments(__doc__, (("video",), {}), (("clusters",), {}), (("out_csv",), {}), (("montage",), {}),
                     (("merges",), {"nargs": "*", "metavar": "A:B"}))
    main(args.video, args.clusters, args.out_csv, args.montage, *args.merges)
