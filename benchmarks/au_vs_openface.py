"""``openface.au-2.2`` against OpenFace 2.2.0's own output on the 842-frame reference clip.

1. Port fidelity: `analyze --landmarks-from` OpenFace's CSV (its own landmarks), dynamic and
   static (`--au-static`) modes, per AU: Pearson r of AUxx_r and agreement of AUxx_c.
2. End to end: pyfacs's own landmarks, dynamic mode: mean r over the 17 intensities.
3. Speed: `analyze` with the AU head (detection, landmarks, pose, AUs), frames/s.

    PYFACS_MODEL_MIRROR=../shared/models python benchmarks/au_vs_openface.py
"""
from __future__ import annotations

import time

import numpy as np

from _common import arguments, shared

import pyfacs
from pyfacs.io.interop import read_openface_csv

CLIP = ("media", "openface_samples", "2015-10-15-15-14.avi")


def reference(static: bool):
    return read_openface_csv(shared("reference", "openface-2.2.0", "static" if static else "dynamic",
                                    "2015-10-15-15-14.csv")).data


def compare(ours, ref) -> tuple[dict[str, float], dict[str, float]]:
    """Per-AU r and per-AU presence agreement. r is undefined where a side is constant: there it is
    1.0 when both sides hold the same constant (within the CSV's 2 decimals), else NaN."""
    rs, agree = {}, {}
    for col in [c for c in ref.columns if c.startswith("AU") and c in ours.columns]:
        a, b = ours[col].to_numpy(float), ref[col].to_numpy(float)
        if col.endswith("_r"):
            if a.std() > 0 and b.std() > 0:
                rs[col[:4]] = np.corrcoef(a, b)[0, 1]
            else:
                rs[col[:4]] = 1.0 if np.abs(a - b).max() <= 0.005 else np.nan
        else:
            agree[col[:4]] = float((a == b).mean())
    return rs, agree


def report(title: str, rs: dict, agree: dict) -> None:
    print(f"== {title}")
    print("  r:     " + ", ".join(f"{au} {r:.3f}" for au, r in rs.items()) + "  (1.000 where both sides are "
          "the same constant)")
    vals = np.array(list(rs.values()))
    print(f"  mean r {np.nanmean(vals):.3f}; r >= 0.98 on {int(np.sum(vals >= 0.98))} of {len(vals)}")
    if agree:
        print("  agree: " + ", ".join(f"{au} {a:.1%}" for au, a in agree.items()))
        print(f"  presence agreement >= 97% on {sum(a >= 0.97 for a in agree.values())} of {len(agree)}")


def port(static: bool):
    ours = pyfacs.analyze(shared(*CLIP), au_model="openface.au-2.2", au_static=static,
                          landmarks_from=shared("reference", "openface-2.2.0", "static" if static else "dynamic",
                                                "2015-10-15-15-14.csv")).data
    return compare(ours, reference(static))


def main() -> None:
    for static in (False, True):
        report(f"port fidelity, OpenFace's landmarks, {'static (--au-static)' if static else 'dynamic'}",
               *port(static))
    t = time.perf_counter()
    ours = pyfacs.analyze(shared(*CLIP), au_model="openface.au-2.2", expression_model=None).data
    secs = time.perf_counter() - t
    report("end to end, pyfacs's own landmarks, dynamic", *compare(ours, reference(False)))
    print(f"== speed: analyze with detection + landmarks + pose + openface.au-2.2: {len(ours)} frames in "
          f"{secs:.1f} s → {len(ours) / secs:.0f} frames/s (OpenFace 2.2: ~27)")


if __name__ == "__main__":
    arguments(__doc__)
    main()
