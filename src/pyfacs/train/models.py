"""The two model kinds a config can train: MEFARG (ResNet + ANFL) and a HOG + linear baseline."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pyfacs.train.augment import shift_flip, to_tensor
from pyfacs.train.config import ModelConfig, OptimConfig


def build_mefarg(cfg: ModelConfig, n_aus: int) -> nn.Module:
    from pyfacs.au.anfl import MEFARG

    # signed cosines: scaled, they are BCE logits (OpenGraphAU's [0, 1] activations cannot go below 0.5)
    return MEFARG(arch=cfg.arch, n_main_aus=n_aus, n_sub_aus=0, n_neighbors=min(cfg.n_neighbors, n_aus),
                  in_chans=1, width=cfg.width, small_input=True, nonnegative_sc=False)


def fit_mefarg(model: nn.Module, images: np.ndarray, labels: np.ndarray, optim: OptimConfig, seed: int,
               *, on_epoch=None, start_epoch: int = 0, state: dict | None = None) -> nn.Module:
    """Train with BCE (positives weighted by the label balance) and AdamW; deterministic for a seed."""
    x, y = to_tensor(images), torch.from_numpy(labels)
    pos = y.mean(0).clamp(0.05, 0.95)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=(1 - pos) / pos)
    opt = torch.optim.AdamW(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=optim.epochs)
    gen = torch.Generator().manual_seed(seed)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        if "rng" in state:  # dropout draws from the global generator: resume it where it was
            torch.set_rng_state(state["rng"])
    for epoch in range(start_epoch, optim.epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), optim.batch_size):
            idx = order[i:i + optim.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            opt.zero_grad()
            loss = loss_fn(model(shift_flip(x[idx], gen, 3)[0]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
        if on_epoch:
            on_epoch(epoch, {"model": model.state_dict(), "opt": opt.state_dict(),
                             "sched": sched.state_dict(), "gen": gen.get_state(), "rng": torch.get_rng_state()})
    return model


@torch.no_grad()
def predict_mefarg(model: nn.Module, images: np.ndarray) -> np.ndarray:
    model.eval()
    return torch.sigmoid(model(to_tensor(images))).numpy()


def hog_features(images: np.ndarray) -> np.ndarray:
    import cv2
    import pyfhog

    return np.stack([pyfhog.extract_fhog_features(np.repeat(cv2.resize(im, (96, 96))[:, :, None], 3, 2),
                                                  cell_size=8) for im in images])


class HogLinear:
    """Per-AU L2 logistic regression on FHOG of the aligned face (standardised features)."""

    def __init__(self, c: float):
        self.c = c

    def fit(self, images: np.ndarray, labels: np.ndarray) -> "HogLinear":
        from sklearn.linear_model import LogisticRegression

        f = hog_features(images)
        self.mu, self.sd = f.mean(0), f.std(0) + 1e-6
        z = (f - self.mu) / self.sd
        # an AU with one class only in the training data (tiny subsets) predicts its constant rate
        self.models = [LogisticRegression(C=self.c, max_iter=5000, class_weight="balanced").fit(z, labels[:, j])
                       if 0 < labels[:, j].sum() < len(labels) else float(labels[:, j].mean())
                       for j in range(labels.shape[1])]
        return self

    def predict(self, images: np.ndarray) -> np.ndarray:
        z = (hog_features(images) - self.mu) / self.sd
        return np.stack([np.full(len(z), m) if isinstance(m, float) else m.predict_proba(z)[:, 1]
                         for m in self.models], 1)


class AUDetNetPredictor(nn.Module):
    """AUDetNet's inference path as one exportable module: grey face (pixel/255 - 0.5, the input of
    every pyfacs AU head) → the cfg's channels and normalisation → encoder → z1 → AU logits."""

    def __init__(self, nets):
        super().__init__()
        self.encoder, self.au_predictor, self.z1 = nets.encoder, nets.au_predictor, nets.z1_channels
        chans = nets.image_shape[0]
        self.chans = chans
        self.register_buffer("mean", torch.tensor(nets.data.get("mean", [0.5] * chans)).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(nets.data.get("std", [0.5] * chans)).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x + 0.5).repeat(1, self.chans, 1, 1)
        z = self.encoder((x - self.mean) / self.std)
        return self.au_predictor(z[:, : self.z1])


def fit_audetnet(cfg, images: np.ndarray, labels: np.ndarray) -> AUDetNetPredictor:
    """AUDetNet from its cfg file, trained with the disentangling objective."""
    from pyfacs.au.audetnet import build_from_cfg
    from pyfacs.au.audetnet.train import train_audetnet

    nets = build_from_cfg(cfg.model.cfg, image_size=cfg.model.input_size, n_aus=labels.shape[1])
    x = np.repeat(images.astype(np.float32)[:, None] / 255.0, nets.image_shape[0], axis=1)
    train_audetnet(nets, x, labels, seed=cfg.seed, epochs=cfg.optim.epochs)  # (load_config: the cfg's by default)
    return AUDetNetPredictor(nets).eval()


def fit_predict_audetnet(cfg, train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray) -> np.ndarray:
    """AU probabilities for ``test_images`` from z1, after training on the rest."""
    model = fit_audetnet(cfg, train_images, train_labels)
    with torch.no_grad():
        return torch.sigmoid(model(to_tensor(test_images))).numpy()
