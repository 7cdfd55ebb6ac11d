"""ANFL: AU relationship-aware node feature learning (Luo et al., 2022, "Learning multi-dimensional
edge feature-based AU relation graph for facial action unit recognition"), with the constructor
signatures and defaults of mexca's ``mexca.video.anfl``, and the full MEFARG model (backbone + ANFL).

Written from the paper and mexca's documented interface. Modules return tensors (export-friendly).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pyfacs.nn import check_sizes

# OpenGraphAU's 41 outputs: 27 main AUs, then left/right of AUs 1, 2, 4, 6, 10, 12, 14 (subject's side)
MAIN_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 25, 26, 27, 32, 38, 39)
SUB_AUS = (1, 2, 4, 6, 10, 12, 14)
SUB_LABELS = tuple(f"{side}AU{au}" for au in SUB_AUS for side in ("L", "R"))
# the main node each pair of sub nodes reads, as OpenGraphAU's code has it (its sub_list
# [0, 1, 2, 4, 7, 8, 11]): the "L12/R12" pair reads AU11's node (its own label names that pair
# "nasolabial deepener", AU11's name), so checkpoints trained that way must be read that way
SUB_NODE_AUS = (1, 2, 4, 6, 10, 11, 14)
MAIN_LABELS = tuple(f"AU{au}" for au in MAIN_AUS)


def _linear_init(layer: nn.Linear) -> None:
    # N(0, sqrt(2 / out_features)), as the paper's reference implementation states
    layer.weight.data.normal_(0, math.sqrt(2.0 / layer.out_features))
    if layer.bias is not None:
        layer.bias.data.zero_()


def _bn_init(bn: nn.BatchNorm1d) -> None:
    bn.weight.data.fill_(1)
    bn.bias.data.zero_()


class GNN(nn.Module):
    """One graph layer over AU nodes (eq. 1): each node is connected to its ``n_neighbors`` most
    similar nodes (dot-product similarity, recomputed per sample);
    v_i' = ReLU(v_i + BN(g(v_i) + Σ_j a_ij r(v_j))), with a_ij the symmetric-normalised adjacency."""

    def __init__(self, in_features: int, n_nodes: int, n_neighbors: int = 4):
        super().__init__()
        check_sizes("GNN", in_features=in_features, n_nodes=n_nodes)
        if not 1 <= n_neighbors <= n_nodes:
            raise ValueError(f"n_neighbors must lie in [1, n_nodes={n_nodes}], not {n_neighbors}")
        self.in_features, self.n_nodes, self.n_neighbors = in_features, n_nodes, n_neighbors
        self.U = nn.Linear(in_features, in_features)
        self.V = nn.Linear(in_features, in_features)
        self.bnv = nn.BatchNorm1d(n_nodes)
        _linear_init(self.U)
        _linear_init(self.V)
        _bn_init(self.bnv)

    def adjacency(self, x: torch.Tensor) -> torch.Tensor:
        sim = torch.einsum("bnc,bmc->bnm", x, x)
        kth = torch.topk(sim, self.n_neighbors, dim=-1).values[:, :, -1:]
        adj = (sim >= kth).to(x.dtype)
        deg = adj.sum(-1).clamp(min=1.0).pow(-0.5)
        return deg.unsqueeze(-1) * adj * deg.unsqueeze(-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_nodes, C) → same
        a = self.adjacency(x.detach())  # the graph's shape is chosen, not learned through
        agg = torch.einsum("bnm,bmc->bnc", a, self.V(x))
        return F.relu(x + self.bnv(agg + self.U(x)))


class AUFeatureGenerator(nn.Module):
    """One linear + BN + ReLU branch per AU over the face representation, then global average
    pooling over its tokens: (B, N, C) or (B, C) → (B, out_features, C)."""

    def __init__(self, in_features: int, out_features: int = 27):
        super().__init__()
        check_sizes("AUFeatureGenerator", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self.fc = nn.Linear(in_features, in_features * out_features)
        self.bn = nn.BatchNorm1d(in_features * out_features)
        _linear_init(self.fc)
        _bn_init(self.bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        b, n, c = x.shape
        y = self.fc(x).reshape(b * n, -1)
        y = F.relu(self.bn(y)).reshape(b, n, self.out_features, c)
        return y.mean(1)


class FacialGraphGenerator(nn.Module):
    """GNN over the main AU nodes, then similarity-calculating (SC) layers (eq. 2): the activation of
    AU i is the cosine similarity of its node feature with a learned vector s_i. Each sub node
    (left/right of AUs 1, 2, 4, 6, 10, 12, 14) compares its main AU's node feature with its own
    vector. SC vectors use Glorot (Xavier) uniform initialisation.

    ``nonnegative_sc`` (OpenGraphAU's and mexca's behaviour): the SC vectors pass a ReLU before the
    cosine; with the ReLU'd node features that puts every activation in [0, 1], which OpenGraphAU
    reads as the AU's probability. Off, activations span [-1, 1] and serve as logits after scaling
    (how pyfacs trains MEFARG with BCE)."""

    def __init__(self, in_features: int, n_main_nodes: int = 27, n_sub_nodes: int = 14, n_neighbors: int = 4,
                 *, nonnegative_sc: bool = True):
        super().__init__()
        check_sizes("FacialGraphGenerator", in_features=in_features, n_main_nodes=n_main_nodes)
        check_sizes("FacialGraphGenerator", minimum=0, n_sub_nodes=n_sub_nodes)
        self.n_main_nodes, self.n_sub_nodes = n_main_nodes, n_sub_nodes
        self.nonnegative_sc = nonnegative_sc
        self.gnn = GNN(in_features, n_main_nodes, n_neighbors)
        self.main_sc = nn.Parameter(torch.empty(n_main_nodes, in_features))
        nn.init.xavier_uniform_(self.main_sc)
        if n_sub_nodes:
            if n_main_nodes != len(MAIN_AUS) or n_sub_nodes != len(SUB_LABELS):
                raise ValueError("sub nodes follow OpenGraphAU's layout: use n_main_nodes=27, n_sub_nodes=14 "
                                 "(or n_sub_nodes=0 for another AU set)")
            self.sub_sc = nn.Parameter(torch.empty(n_sub_nodes, in_features))
            nn.init.xavier_uniform_(self.sub_sc)
            idx = [MAIN_AUS.index(au) for au in SUB_NODE_AUS for _ in range(2)]
            self.register_buffer("sub_index", torch.tensor(idx), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_main, C) → (B, n_main + n_sub)
        def sc(v: torch.Tensor) -> torch.Tensor:
            return F.normalize(F.relu(v) if self.nonnegative_sc else v, dim=-1)

        f = F.normalize(F.relu(self.gnn(x)), dim=-1)
        main = (f * sc(self.main_sc)).sum(-1)
        if not self.n_sub_nodes:
            return main
        sub = (f[:, self.sub_index] * sc(self.sub_sc)).sum(-1)
        return torch.cat([main, sub], 1)


class ANFL(nn.Module):
    """Face representation → AU activations: cosine similarities, in [0, 1] with ``nonnegative_sc``
    (the default, as OpenGraphAU: read them as probabilities, threshold 0.5), else in [-1, 1] (use
    them as logits after scaling)."""

    def __init__(self, in_features: int, n_main_aus: int = 27, n_sub_aus: int = 14, n_neighbors: int = 4,
                 *, nonnegative_sc: bool = True):
        super().__init__()
        self.afg = AUFeatureGenerator(in_features, n_main_aus)
        self.fgg = FacialGraphGenerator(in_features, n_main_aus, n_sub_aus, n_neighbors, nonnegative_sc=nonnegative_sc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fgg(self.afg(x))


class LinearBlock(nn.Module):
    """Linear (+ BatchNorm over channels) + ReLU on (B, N, C) tokens; OpenGraphAU's naming."""

    def __init__(self, cin: int, cout: int, *, bn: bool = False):
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.bn = nn.BatchNorm1d(cout) if bn else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if self.bn is not None:
            shape = y.shape
            y = self.bn(y.reshape(-1, shape[-1])).reshape(shape)
        return self.relu(y)


class MEFARG(nn.Module):
    """Backbone (ResNet written here) → tokens (B, HW, C) → linear reduction → ANFL → AU logits.

    The outputs are the ANFL cosine similarities times ``scale``. OpenGraphAU's layout (the default:
    ``nonnegative_sc``, ``scale`` 1): probabilities in [0, 1]. pyfacs's training (``nonnegative_sc=False``,
    ``scale`` a temperature, 10 unless given, so that BCE can reach confident probabilities): logits,
    ``torch.sigmoid(logits)`` gives presence probabilities."""

    def __init__(self, *, arch: str = "resnet18", n_main_aus: int = 27, n_sub_aus: int = 14,
                 n_neighbors: int = 4, in_chans: int = 3, width: int = 64, small_input: bool = False,
                 reduce_to: int | None = None, scale: float | None = None, global_bn: bool = False,
                 nonnegative_sc: bool = True):
        super().__init__()
        from pyfacs.nn.resnet import ResNet

        if reduce_to is not None:
            check_sizes("MEFARG", reduce_to=reduce_to)
        self.backbone = ResNet(arch, in_chans=in_chans, width=width, small_input=small_input)
        c = self.backbone.num_features
        self.reduce_to = reduce_to if reduce_to is not None else max(1, c // 4)
        self.global_linear = LinearBlock(c, self.reduce_to, bn=global_bn)
        self.head = ANFL(self.reduce_to, n_main_aus, n_sub_aus, n_neighbors, nonnegative_sc=nonnegative_sc)
        self.scale = scale if scale is not None else 1.0 if nonnegative_sc else 10.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone.features(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        return self.head(self.global_linear(f)) * self.scale


def load_opengraphau_checkpoint(path_or_state, *, arch: str = "resnet50", scale: float = 1.0) -> MEFARG:
    """A MEFARG holding the weights of an OpenGraphAU (ME-GraphAU) ANFL checkpoint.

    Key mapping from their naming: ``module.`` prefixes dropped; ``backbone.*`` unchanged (torchvision
    names, no ``fc``); ``global_linear.{fc,bn}`` unchanged; ``head.main_class_linears.<i>.{fc,bn}``
    (one Linear(C, C) + BN per AU) stacked into ``head.afg.{fc,bn}``; ``head.gnn.*`` →
    ``head.fgg.gnn.*``; ``head.main_sc`` / ``head.sub_sc`` → ``head.fgg.main_sc`` / ``sub_sc``.
    ``scale=1`` keeps their outputs: the cosine similarities of ReLU'd features and SC vectors, in
    [0, 1], which OpenGraphAU reports as the AUs' probabilities (41: the 27 main AUs, then
    :data:`SUB_LABELS`)."""
    state = torch.load(path_or_state, map_location="cpu", weights_only=True) if not isinstance(path_or_state, dict) \
        else path_or_state
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    c = state["global_linear.fc.weight"].shape[0]
    n_main = state["head.main_sc"].shape[0]
    n_sub = state["head.sub_sc"].shape[0] if "head.sub_sc" in state else 0
    model = MEFARG(arch=arch, n_main_aus=n_main, n_sub_aus=n_sub, reduce_to=c, scale=scale,
                   global_bn="global_linear.bn.weight" in state)
    mapped = {}
    per_au: dict[str, list] = {}
    for k, v in state.items():
        if k.startswith("head.main_class_linears."):
            _, _, i, rest = k.split(".", 3)
            per_au.setdefault(rest, []).append((int(i), v))
        elif k.startswith("head.gnn."):
            mapped["head.fgg." + k[len("head."):]] = v
        elif k in ("head.main_sc", "head.sub_sc"):
            mapped["head.fgg." + k[len("head."):]] = v
        elif k.startswith(("backbone.", "global_linear.")) and not k.startswith("backbone.fc."):
            mapped[k] = v
    for rest, items in per_au.items():
        vals = [v for _, v in sorted(items, key=lambda t: t[0])]
        mapped[f"head.afg.{rest}"] = vals[0] if rest.endswith("num_batches_tracked") else torch.cat(vals, 0)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.startswith("backbone.fc.")]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit MEFARG: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model
