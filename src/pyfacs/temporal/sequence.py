"""The AU sequence model (seed 004): a transformer over a short window of consecutive frames that
predicts the AUs of the centre frame.

Each frame becomes one token from its per-frame AU features (the embedded AU model's logits) and
global face features (the face's 68-landmark shape, aligned on the eyes and nose, which carries the
head's pose and the face's geometry); a learned position code marks where in the window each token sits.
With ``window=1`` the same network sees one frame: the per-frame model the sequence model is
compared against. Needs the ``train`` extra (PyTorch); the tokens (:mod:`pyfacs.temporal.tokens`)
do not.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pyfacs.temporal.tokens import N_GLOBAL, frame_features, global_features, windows  # noqa: F401 (re-exported)


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
