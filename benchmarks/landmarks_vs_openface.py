"""Acceptance 2 of the main-job issue: 68-point landmarks and head pose against OpenFace 2.2.0.

Normalised mean error over points 17-67 (brows, nose, eyes, mouth: the jaw is defined differently by
every annotator), divided by the outer-eye-corner distance (points 36-45) of OpenFace's landmarks,
per frame; and Pearson r of pitch/yaw/roll against OpenFace's pose_Rx/Ry/Rz.

    python benchmarks/landmarks_vs_openface.py
"""
from __future__ import annotations

import numpy as np

from _common import arguments, shared

import pyfacs
from pyfacs.io.interop import read_openface_csv


def main() -> None:
    ref = read_openface_csv(shared("reference", "openface-2.2.0", "dynamic", "2015-10-15-15-14.csv"))
    ours = pyfacs.analyze(shared("media", "openface_samples", "2015-10-15-15-14.avi")).data
    assert len(ours) == len(ref.data), (len(ours), len(ref.data))
    found = ours["face_id"].notna().to_numpy()
    t = pyfacs.FaceTable(ours)
    p, g = t.landmarks_array[found], pyfacs.FaceTable(ref.data).landmarks_array[found]
    iod = np.linalg.norm(g[:, 36] - g[:, 45], axis=1)
    err = np.linalg.norm(p - g, axis=2) / iod[:, None]
    nme = err[:, 17:].mean(1)
    print(f"frames compared: {found.sum()} of {len(ref.data)}")
    print(f"NME 17-67 (outer-eye-corner normalised): median {np.median(nme):.4f}  mean {nme.mean():.4f}  "
          f"95th pct {np.percentile(nme, 95):.4f}")
    for part, idx in {"brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
                      "mouth": range(48, 68), "jaw (not in the score)": range(0, 17)}.items():
        print(f"  {part:24s} {err[:, list(idx)].mean():.4f}")
    for col in ("pose_pitch_deg", "pose_yaw_deg", "pose_roll_deg"):
        a, b = ours.loc[found, col].to_numpy(float), ref.data.loc[found, col].to_numpy(float)
        print(f"{col:15s} r = {np.corrcoef(a, b)[0, 1]:.3f}   mean abs diff {np.abs(a - b).mean():.2f} deg")


if __name__ == "__main__":
    arguments(__doc__)
    main()
