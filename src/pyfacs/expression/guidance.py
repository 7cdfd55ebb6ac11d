"""AU-cue guidance for training (seed 002): each branch's class activation map for the true class
is pulled towards that class's AU heatmap (Gaussians at the codebook's AUs, placed by the face's
landmarks) with the cosine alignment loss. Batched on the training device."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pyfacs.au.heatmaps import codebook_point_weights
from pyfacs.expression.cam import alignment_loss

SIGMA_FRAC = 0.12  # of the outer-eye-corner distance, as au_heatmap uses


class ClassHeatmaps:
    """``(landmarks (B, 68, 2) in image pixels, labels (B,)) → (B, size, size)`` AU heatmaps of
    each sample's class, drawn on a ``size``×``size`` grid over an ``image_size`` image."""

    def __init__(self, labels, image_size: int, size: int = 12, device="cpu"):
        w, valid = codebook_point_weights(labels)
        self.w = torch.from_numpy(w).to(device)
        self.valid = torch.from_numpy(valid).to(device)
        self.scale = size / image_size
        c = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / self.scale - 0.5
        self.ys, self.xs = torch.meshgrid(c, c, indexing="ij")  # cell centres in image pixels

    def __call__(self, lmk: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pts = torch.einsum("bpk,bkd->bpd", self.w[y], lmk)  # (B, P, 2)
        sigma = (SIGMA_FRAC * (lmk[:, 36] - lmk[:, 45]).norm(dim=1)).clamp(min=1.0)
        d2 = (self.xs - pts[..., 0, None, None]) ** 2 + (self.ys - pts[..., 1, None, None]) ** 2
        g = torch.exp(-d2 / (2 * sigma.view(-1, 1, 1, 1) ** 2)) * self.valid[y][..., None, None]
        hm = g.sum(1)
        # (scaled to a peak of 1, as trained: the cosine loss does not depend on the scale, but its float
        # rounding does, and the shipped models' configs reproduce their runs bit for bit)
        return hm / hm.flatten(1).max(1).values.clamp(min=1e-12).view(-1, 1, 1)


def branch_cams(model, x: torch.Tensor, y: torch.Tensor):
    """Logits and valence/arousal as ``model(x)`` gives them, plus each branch's CAM for class ``y``
    ((B, N, h, w), ReLU'd; differentiable)."""
    f = model.base(x)
    logits, va, cams = [], [], []
    for b in model.branches:
        feat = b.features(f)
        lg, v = b.head(feat)
        logits.append(lg)
        va.append(v)
        cams.append(F.relu(torch.einsum("bc,bchw->bhw", b.fc.weight[y], feat)))
    return torch.stack(logits, 1), torch.stack(va, 1), torch.stack(cams, 1)


def guidance_loss(cams: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """Mean over branches of the cosine alignment loss (neutral samples, with empty maps, skipped);
    all branches in one batched call."""
    b, n = cams.shape[:2]
    return alignment_loss(cams.float().reshape(b * n, *cams.shape[2:]), heatmaps.repeat_interleave(n, 0))
