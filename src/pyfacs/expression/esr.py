"""ESR: Efficient facial feature learning with wide Ensembles and Shared Representations
(Siqueira, Magg & Wermter, AAAI 2020), as OpenDR's FacialEmotionLearner uses it (seed 003).

A shared convolutional base learns low/mid-level features once; N independent branches each learn
high-level features and predict the expression classes (and, from those, valence/arousal). The
ensemble's prediction is the vote (mean of the branches' softmax). Widths are configurable so that
the network fits CPU training here; the layer pattern is the paper's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pyfacs.nn import check_sizes

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Base(nn.Module):
    def __init__(self, in_chans: int = 1, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(_conv(in_chans, w), _conv(w, 2 * w), nn.MaxPool2d(2),
                                 _conv(2 * w, 2 * w), _conv(2 * w, 2 * w), nn.MaxPool2d(2))
        self.out_channels = 2 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Branch(nn.Module):
    def __init__(self, cin: int, width: int, n_classes: int):
        super().__init__()
        w = width
        self.net = nn.Sequential(_conv(cin, 2 * w), _conv(2 * w, 4 * w), nn.MaxPool2d(2),
                                 _conv(4 * w, 4 * w), _conv(4 * w, 8 * w), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8 * w, n_classes)
        self.fc_dimensional = nn.Linear(n_classes, 2)  # valence, arousal from the class evidence

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional features (before global pooling): where CAMs are taken."""
        return self.net[:-1](x)

    def head(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.fc(self.net[-1](feat).flatten(1))
        return logits, self.fc_dimensional(F.relu(logits))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.features(x))


class ESR(nn.Module):
    """``forward`` returns (logits per branch (B, N, C), valence/arousal per branch (B, N, 2))."""

    def __init__(self, ensemble_size: int = 9, *, n_classes: int = len(FER_LABELS), in_chans: int = 1,
                 width: int = 32):
        super().__init__()
        check_sizes("ESR", ensemble_size=ensemble_size, n_classes=n_classes, in_chans=in_chans, width=width)
        self.base = Base(in_chans, width)
        self.branches = nn.ModuleList(Branch(self.base.out_channels, width, n_classes) for _ in range(ensemble_size))

    def add_branch(self) -> None:
        """ESR grows one branch at a time in training: the new branch copies the last one's weights."""
        import copy

        self.branches.append(copy.deepcopy(self.branches[-1]))

    def keep_first(self, k: int) -> "ESR":
        """Drop all but the first ``k`` branches (an ESR-k cut from a trained ESR-N: the branches are
        so alike that a smaller vote loses little and saves most of the work, which is in the branches)."""
        if not 1 <= k <= len(self.branches):
            raise ValueError(f"can keep 1 to {len(self.branches)} branches, not {k}")
        self.branches = self.branches[:k]
        return self

    def to_state_dict(self) -> dict:
        """OpenDR's name for the weights (``learner.save(state_dicts=learner.model.to_state_dict())``)."""
        return self.state_dict()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.base(x)
        outs = [b(f) for b in self.branches]
        return torch.stack([o[0] for o in outs], 1), torch.stack([o[1] for o in outs], 1)


def load_weights(model: ESR, path) -> None:
    """Weights saved from an ESR with at least as many branches (float16 or float32) into ``model``;
    the branches it does not have are dropped. ValueError if the two do not fit."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    wanted = model.state_dict()
    state = {k: v.float() if v.is_floating_point() else v for k, v in saved.items() if k in wanted}
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise ValueError(f"{path} does not fit this model (no {missing[0]}): check the width and ensemble size")
    model.load_state_dict(state)


def shipped_weights(name: str):
    """The PyTorch weights file a registered ESR model ships beside its ONNX (None if it has none)."""
    from pyfacs.models import get_model
    from pyfacs.models.hub import resolve

    return next((p for p in resolve(get_model(name)) if p.suffix == ".pt"), None)


class ESRVote(nn.Module):
    """Export/inference wrapper: ensemble probabilities (mean of branch softmaxes) and mean
    valence/arousal — one tensor (B, C + 2). With ``flip_average`` the face and its mirror image
    are both scored and averaged (test-time augmentation inside the exported model)."""

    def __init__(self, esr: ESR, flip_average: bool = False):
        super().__init__()
        self.esr = esr
        self.flip_average = flip_average

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip_average:
            logits, va = self.esr(torch.cat([x, x.flip(-1)]))
            probs = F.softmax(logits, -1).mean(1)
            n = x.shape[0]
            return torch.cat([(probs[:n] + probs[n:]) / 2, (va[:n].mean(1) + va[n:].mean(1)) / 2], 1)
        logits, va = self.esr(x)
        return torch.cat([F.softmax(logits, -1).mean(1), va.mean(1)], 1)


def diversity_loss(logits: torch.Tensor) -> torch.Tensor:
    """ESR* (diversified ESR): rewards branches for disagreeing — the negative mean pairwise
    distance between the branches' softmax outputs (added with a small weight)."""
    p = F.softmax(logits, -1)  # (B, N, C)
    if p.shape[1] < 2:
        return logits.new_zeros(())
    d = torch.cdist(p, p)  # (B, N, N)
    n = p.shape[1]
    return -d.sum((1, 2)).mean() / (n * (n - 1))
