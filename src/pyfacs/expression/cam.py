"""Class activation maps (CAM, Grad-CAM, Grad-CAM++, LayerCAM), the cosine alignment loss of
AU-cue guidance, and the interpretability measures used to compare maps with AU heatmaps (seed 002).

Needs the ``train`` extra (PyTorch)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

METHODS = ("cam", "gradcam", "gradcam++", "layercam")
INTERPRETABILITY_KEYS = ("cosine", "pearson", "top_in_au_regions")


def activation_map(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: int, *, method: str = "gradcam",
                   score_fn=None, fc: nn.Linear | None = None) -> torch.Tensor:
    """(B, H, W) map in [0, 1] over ``layer``'s output for class ``target``, taken in eval mode and with
    gradients whatever the caller's (the model's modes are left as they were).

    ``score_fn(model_output) -> (B, n_classes)`` picks the class scores (default: the output itself);
    ``cam`` needs ``fc``, the linear layer after global average pooling of ``layer``'s features."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    feats: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda m, i, o: feats.__setitem__("a", o))
    modes = {m: m.training for m in model.modules()}
    try:  # (eval: a map must not move BatchNorm's running statistics; grad: also under torch.no_grad())
        with torch.enable_grad():
            model.eval()
            out = model(x)
            return _map(out, feats, target, method, score_fn, fc)
    finally:
        handle.remove()
        for m, training in modes.items():  # (each module as it was: a frozen part stays in eval)
            m.training = training


def _map(out, feats: dict, target: int, method: str, score_fn, fc) -> torch.Tensor:
    if "a" not in feats:
        raise ValueError("layer= is not run by the model's forward pass: give one of its layers")
    a = feats["a"]  # (B, C, H, W)
    if method == "cam" and fc is None:
        raise ValueError("CAM needs fc=, the linear layer after global average pooling")
    all_scores = fc.weight if method == "cam" else (score_fn(out) if score_fn else out).T  # (classes, ...)
    if not 0 <= target < len(all_scores):
        raise ValueError(f"target must be a class index 0-{len(all_scores) - 1}, not {target}")
    if method == "cam":
        w = fc.weight[target].view(1, -1, 1, 1)
        m = (w * a).sum(1)
    else:
        scores = all_scores[target]
        g, = torch.autograd.grad(scores.sum(), a, create_graph=False)
        if method == "gradcam":
            m = (g.mean((2, 3), keepdim=True) * a).sum(1)
        elif method == "gradcam++":
            g2, g3 = g**2, g**3
            denom = 2 * g2 + (a.sum((2, 3), keepdim=True) * g3)
            alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
            weights = (alpha * F.relu(g)).sum((2, 3), keepdim=True)
            m = (weights * a).sum(1)
        else:  # layercam
            m = (F.relu(g) * a).sum(1)
    m = F.relu(m)
    flat = m.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp(min=1e-12)).view_as(m).detach()


def alignment_loss(attention: torch.Tensor, heatmap: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity between a (B, h, w) attention/CAM map (resized to the heatmap) and the
    (B, H, W) AU heatmap; samples whose heatmap is empty (neutral) do not count."""
    att = F.interpolate(attention.unsqueeze(1), size=heatmap.shape[-2:], mode="bilinear", align_corners=False)
    a, h = att.flatten(1), heatmap.flatten(1)
    keep = h.sum(1) > 0
    if not keep.any():
        return attention.new_zeros(())
    return (1 - F.cosine_similarity(a[keep], h[keep], dim=1)).mean()


def interpretability(cam: np.ndarray, heatmap: np.ndarray, top: float = 0.1) -> dict[str, float]:
    """How well a map points at the AU regions: cosine similarity, Pearson r, and the share of the
    map's top ``top`` pixels that fall where the heatmap is above half its maximum; all NaN for a
    flat map."""
    import cv2

    cam = cv2.resize(cam.astype(np.float32), heatmap.shape[::-1], interpolation=cv2.INTER_LINEAR)
    a, h = cam.ravel(), heatmap.ravel()
    if a.max() == a.min():  # a flat map points nowhere: nothing to measure (argsort would pick any pixels)
        return dict.fromkeys(INTERPRETABILITY_KEYS, float("nan"))
    cos = float(a @ h / max(np.linalg.norm(a) * np.linalg.norm(h), 1e-12))
    r = float(np.corrcoef(a, h)[0, 1]) if a.std() > 0 and h.std() > 0 else float("nan")
    k = max(1, int(top * a.size))
    idx = np.argsort(-a)[:k]
    return {"cosine": cos, "pearson": r, "top_in_au_regions": float((h[idx] > 0.5 * h.max()).mean())}
