"""Port fidelity of ``openface.au-2.2``: our AU predictions from OpenFace's own landmarks against
OpenFace 2.2.0's output on the 842-frame reference clip, dynamic (default) and static modes.

    PYFACS_MODEL_MIRROR=../shared/models python benchmarks/au_vs_openface.py
"""
from __future__ import annotations

import time

import numpy as np

from _common import shared

from pyfacs.au.openface.predictor import FaceAUState, OpenFaceAU
from pyfacs.io.interop import read_openface_csv
from pyfacs.io.media import iter_frames


def port_outputs(static: bool):
    ref = read_openface_csv(shared("reference", "openface-2.2.0", "static" if static else "dynamic",
                                   "2015-10-15-15-14.csv"))
    lmk = ref.landmarks_array.astype(np.float64)
    head = OpenFaceAU.from_registry(static=static)
    state, reg, cls = FaceAUState(), [], []
    t = time.perf_counter()
    for frame in iter_frames(shared("media", "openface_samples", "2015-10-15-15-14.avi")):
        r, c = head.step(frame.rgb, lmk[frame.index], state, frame.index)
        reg.append(r)
        cls.append(c)
    secs = time.perf_counter() - t
    reg, pres = head.finish(np.array(reg), np.array(cls), None if static else state,
                            np.arange(len(reg)), video=True)
    return head, ref.data, reg, pres, len(lmk) / secs


def main() -> None:
    for static in (False, True):
        head, ref, reg, pres, fps = port_outputs(static)
        print(f"== {'static (-au_static)' if static else 'dynamic (default)'}: {fps:.0f} frames/s "
              f"(decode + PDM fit + alignment + FHOG + SVR/SVM)")
        rs = []
        for k, au in enumerate(head.intensity_aus):
            g = ref[f"{au}_r"].to_numpy()
            r = np.corrcoef(reg[:, k], g)[0, 1] if g.std() > 0 and reg[:, k].std() > 0 else np.nan
            rs.append(r)
            print(f"  {au}_r  r = {r:6.3f}   MAE {np.abs(reg[:, k] - g).mean():.3f}   "
                  f"(OpenFace mean {g.mean():.2f}, sd {g.std():.2f})")
        print(f"  mean r over AUs that vary: {np.nanmean(rs):.3f}; AUs with r >= 0.98: "
              f"{int(np.sum(np.array(rs) >= 0.98))} of {int(np.sum(~np.isnan(rs)))}")
        agree = [(pres[:, k] == ref[f"{au}_c"].to_numpy()).mean() for k, au in enumerate(head.presence_aus)]
        print("  AUxx_c agreement: " + ", ".join(f"{au} {a:.1%}" for au, a in zip(head.presence_aus, agree)))
        print(f"  AUs agreeing on >= 97% of frames: {sum(a >= 0.97 for a in agree)} of {len(agree)}")


if __name__ == "__main__":
    main()
