"""The AU sequence model (seed 004): a transformer over a short window of consecutive frames that
predicts the AUs of the centre frame.

Each frame becomes one token from its per-frame AU features (the embedded AU model's logits) and
global face features (the face's 68-landmark shape, aligned on the eyes and nose, which carries the
head's pose and the face's geometry); a learned position code marks where in the window each token sits.
With ``window=1`` the same network sees one frame: the per-frame model the sequence model is
compared against. Needs the ``train`` extra (PyTorch).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

_ALIGN = [36, 39, 42, 45, 30, 33]  # eye corners and nose: the points the shape is aligned on


N_GLOBAL = 136


def global_features(lmk68: np.ndarray) -> np.ndarray:
    """(136,): landmarks after a similarity transform onto a canonical eye/nose frame (unit
    inter-ocular distance)."""
    eyes_l, eyes_r = lmk68[36:42].mean(0), lmk68[42:48].mean(0)
    centre = lmk68[_ALIGN].mean(0)
    d = eyes_r - eyes_l
    scale = max(float(np.hypot(*d)), 1e-6)
    c, s = d / scale
    rot = np.array([[c, s], [-s, c]])
    shape = (lmk68 - centre) @ rot.T / scale
    return shape.ravel().astype(np.float32)


def frame_features(au_head, rgb: np.ndarray, lmk68: np.ndarray) -> np.ndarray:
    """One frame's token input: the embedded AU model's logits, then :func:`global_features`."""
    return np.concatenate([au_head.logits(rgb, lmk68), global_features(lmk68)]).astype(np.float32)


def windows(x: np.ndarray, window: int) -> np.ndarray:
    """(n, d) per-frame features → (n, window, d): each frame with its neighbours (edges repeated)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd number of frames, not {window}")
    half = window // 2
    idx = np.clip(np.arange(len(x))[:, None] + np.arange(-half, half + 1)[None], 0, len(x) - 1)
    return x[idx]


class SequenceProbabilities(nn.Module):
    """Export wrapper: raw features (B, window, d) → standardised (training frames' mean/std, baked
    in) → presence probabilities (B, n_out)."""

    def __init__(self, model: "AUSequenceModel", mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model((x - self.mean) / self.std))


class AUSequenceModel(nn.Module):
    """(B, window, n_au + n_global) → (B, n_out) logits for the centre frame."""

    def __init__(self, n_au: int, n_global: int, n_out: int, *, window: int = 3, d_model: int = 64,
                 heads: int = 4, layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.n_au = n_au
        self.au_proj = nn.Linear(n_au, d_model)
        self.global_proj = nn.Sequential(nn.Linear(n_global, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.position = nn.Parameter(torch.zeros(1, window, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, n_out))
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.au_proj(x[..., : self.n_au]) + self.global_proj(x[..., self.n_au:]) + self.position
        return self.head(self.encoder(tokens)[:, self.window // 2])
