"""Tensors from grey face images and seeded augmentation, shared by every training path."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, H, W) uint8 → (n, 1, H, W) float in [-0.5, 0.5]: the input of every pyfacs face head."""
    return torch.from_numpy(images.astype(np.float32) / 255.0 - 0.5).unsqueeze(1)


def shift_flip(x: torch.Tensor, gen: torch.Generator, shift: int, *, points: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random horizontal flips and ±``shift`` px translations (edge pixels repeated), drawn from a
    seeded generator so that runs repeat exactly. ``points`` (B, P, 2), pixel coordinates in ``x``,
    are moved with the image (for AU heatmaps); they are returned moved."""
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    pad = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    dx, dy = torch.randint(0, 2 * shift + 1, (2, b), generator=gen)
    out = torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    if points is None:
        return out, None
    px = torch.where(flip[:, None].to(points.device), (w - 1) - points[..., 0], points[..., 0])
    # a crop starting at (dx, dy) of the padded image moves every pixel by (shift - dx, shift - dy)
    moved = torch.stack([px + (shift - dx)[:, None].to(points), points[..., 1] + (shift - dy)[:, None].to(points)], -1)
    return out, moved


def random_affine(x: torch.Tensor, gen: torch.Generator, *, rotate_deg: float = 10.0, scale: float = 0.15,
                  shift: float = 0.1, erase: float = 0.5, points: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Batched, seeded augmentation for face crops: a random similarity (rotation ±``rotate_deg``,
    scale ±``scale``, shift ±``shift`` of the size, mirror with p=0.5) and, with probability ``erase``,
    one random rectangle set to mid-grey (random erasing).

    The random numbers come from the CPU generator ``gen`` whatever device ``x`` is on, so a run
    draws the same augmentation on a CPU and on a GPU. ``points`` (B, P, 2), pixel coordinates in
    ``x``, are moved with the image (for AU heatmaps); they are returned transformed."""
    b, _, h, w = x.shape
    r = torch.rand(b, 8, generator=gen)
    angle = torch.deg2rad((2 * r[:, 0] - 1) * rotate_deg)
    s = 1 + (2 * r[:, 1] - 1) * scale
    mirror = torch.where(r[:, 2] < 0.5, -1.0, 1.0)
    tx, ty = (2 * r[:, 3] - 1) * 2 * shift, (2 * r[:, 4] - 1) * 2 * shift  # normalised units span 2
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    # theta maps output (normalised) coordinates to input coordinates, as affine_grid expects
    theta = torch.stack([torch.stack([cos * mirror, -sin, tx], 1), torch.stack([sin * mirror, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # random erasing: a rectangle of 2-20% of the area, aspect 0.5-2
    area = (0.02 + 0.18 * r[:, 5]) * h * w
    aspect = torch.exp((2 * r[:, 6] - 1) * 0.693)
    eh = (area * aspect).sqrt().clamp(1, h).floor()
    ew = (area / aspect).sqrt().clamp(1, w).floor()
    pos = torch.rand(b, 2, generator=gen)
    y0, x0 = (pos[:, 0] * (h - eh + 1)).floor(), (pos[:, 1] * (w - ew + 1)).floor()
    y0, x0, eh, ew, on = (v.to(x.device).view(-1, 1, 1) for v in (y0, x0, eh, ew, r[:, 7] < erase))
    ys, xs = torch.arange(h, device=x.device).view(1, h, 1), torch.arange(w, device=x.device).view(1, 1, w)
    box = (ys >= y0) & (ys < y0 + eh) & (xs >= x0) & (xs < x0 + ew) & on  # built on the device
    out = out.masked_fill(box.unsqueeze(1), 0.0)
    if points is None:
        return out, None
    # input pixel → input normalised → output normalised (inverse of theta) → output pixel
    size = torch.tensor([w, h], dtype=points.dtype)
    p_in = (2 * points.cpu() + 1) / size - 1
    a, t = theta[:, :, :2].to(points.dtype), theta[:, :, 2].to(points.dtype)
    p_out = torch.linalg.solve(a.unsqueeze(1), (p_in - t.unsqueeze(1)).unsqueeze(-1)).squeeze(-1)
    return out, (((p_out + 1) * size - 1) / 2).to(points.device)
