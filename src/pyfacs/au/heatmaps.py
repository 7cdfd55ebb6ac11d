"""AU heatmaps built from landmarks and an AU codebook (seed 002, Belharbi et al. 2024).

Each AU is placed at iBUG-68 landmarks (the facial region whose movement defines it); an expression's
map is the sum of Gaussians at the AUs its codebook lists, normalised to [0, 1]. Sigma scales with
the face (a fraction of the outer-eye-corner distance).
"""
from __future__ import annotations

import numpy as np

# AU → iBUG-68 landmarks (or midpoints of landmark pairs, as tuples) where the AU shows
AU_LOCATIONS: dict[int, list] = {
    1: [21, 22], 2: [17, 18, 25, 26], 4: [21, 22, 27], 5: [37, 38, 43, 44], 6: [(41, 48), (46, 54)],
    7: [40, 41, 46, 47], 9: [28, 29], 10: [50, 52], 12: [48, 54], 14: [48, 54], 15: [48, 54],
    16: [56, 58], 17: [8, 57], 20: [48, 54], 23: [51, 57], 24: [51, 57], 25: [62, 66], 26: [57, 8],
}
# Expression → prototypical AUs (EMFACS-style codebook, as the paper uses)
CODEBOOK: dict[str, tuple[int, ...]] = {
    "happy": (6, 12), "sad": (1, 4, 15), "surprise": (1, 2, 5, 26), "fear": (1, 2, 4, 5, 7, 20, 26),
    "angry": (4, 5, 7, 23), "disgust": (9, 15, 16), "contempt": (12, 14), "neutral": (),
}


def au_points(lmk68: np.ndarray, au: int) -> np.ndarray:
    pts = []
    for p in AU_LOCATIONS[au]:
        pts.append(lmk68[list(p)].mean(0) if isinstance(p, tuple) else lmk68[p])
    return np.array(pts)


def au_heatmap(lmk68: np.ndarray, aus, shape: tuple[int, int], sigma_frac: float = 0.12) -> np.ndarray:
    """(H, W) float32 map in [0, 1]: Gaussians at the listed AUs' locations (all zeros if none)."""
    h, w = shape
    if not np.isfinite(lmk68).all():
        raise ValueError("landmarks must be finite numbers: a NaN (a point not found) would spread over the map")
    sigma = max(1.0, sigma_frac * float(np.linalg.norm(lmk68[36] - lmk68[45])))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w), np.float32)
    for au in aus:
        for x, y in au_points(lmk68, au):
            out += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    # each Gaussian peaks at 1: a map reaches 1 only where AU points lie in the image, and points outside
    # it give what reaches the image, not a border stripe scaled up to 1 (what explain draws; the
    # measures compare shapes, not scales, so they equal those of training's ClassHeatmaps)
    return out / max(float(out.max()), 1.0)


def expression_heatmap(lmk68: np.ndarray, label: str, shape: tuple[int, int]) -> np.ndarray:
    if label not in CODEBOOK:
        raise ValueError(f"no codebook entry for {label!r}; known: {sorted(CODEBOOK)}")
    return au_heatmap(lmk68, CODEBOOK[label], shape)


def codebook_point_weights(labels) -> tuple[np.ndarray, np.ndarray]:
    """For batched heatmaps: ``W`` (n_labels, P, 68) with ``W[c] @ lmk68`` = the AU points of class
    ``c``'s codebook (midpoints as two 0.5 weights), and ``valid`` (n_labels, P) marking real points."""
    rows = [[(list(p), [0.5, 0.5]) if isinstance(p, tuple) else ([p], [1.0])
             for au in CODEBOOK[label] for p in AU_LOCATIONS[au]] for label in labels]
    n_points = max(1, max(len(r) for r in rows))
    w = np.zeros((len(labels), n_points, 68), np.float32)
    valid = np.zeros((len(labels), n_points), bool)
    for c, r in enumerate(rows):
        for k, (idx, wt) in enumerate(r):
            w[c, k, idx] = wt
            valid[c, k] = True
    return w, valid
