"""Tensors from grey face images and seeded augmentation, shared by every training path."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, H, W) uint8 → (n, 1, H, W) float in [-0.5, 0.5]: the input of every pyfacs face head."""
    return torch.from_numpy(images.astype(np.float32) / 255.0 - 0.5).unsqueeze(1)


def shift_flip(x: torch.Tensor, gen: torch.Generator, shift: int) -> torch.Tensor:
    """Random horizontal flips and ±``shift`` px translations (edge pixels repeated), drawn from a
    seeded generator so that runs repeat exactly."""
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    pad = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    dx, dy = torch.randint(0, 2 * shift + 1, (2, b), generator=gen)
    return torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
