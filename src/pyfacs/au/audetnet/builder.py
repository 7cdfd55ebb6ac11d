"""Networks from parsed cfg blocks.

Block indices (for ``route``, ``combine_*``, ``select_subset``) count the blocks after ``[net]`` from
0; a negative index counts back from the block that uses it (-1: the block just before). ``[route]``
makes the block it names the current tensor (its own output), so the blocks after it work on that
branch. Shapes are inferred while building, by running each block on a dummy batch; a block that
cannot run on what it is given is a ``CfgError`` naming its file:line, its section and the shapes.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from pyfacs.au.audetnet.cfg import Block, CfgError

log = logging.getLogger(__name__)

_ACTIVATIONS = {"relu": lambda: nn.ReLU(), "leaky_relu": lambda: nn.LeakyReLU(0.1), "tanh": lambda: nn.Tanh(),
                "sigmoid": lambda: nn.Sigmoid(), "None": lambda: nn.Identity(), "linear": lambda: nn.Identity()}


def _activation(name: str, block: Block, path: str) -> nn.Module:
    if name == "not_implemented":
        raise CfgError(f"{path}:{block.line}: activation=not_implemented cannot be built")
    return _ACTIVATIONS[name]()


def _init(module: nn.Module, how: str | None) -> None:
    if how == "kaiming_uniform":
        nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")


def _shape(t: torch.Tensor) -> str:
    """A tensor's shape as the cfg's dimension indices see it: (N, C, H, W), N the batch."""
    return "(" + ", ".join(["N", *map(str, t.shape[1:])]) + ")"


def _why(exc: Exception) -> str:
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_dim(dim: int, x: torch.Tensor, what: str, of: str = "its input") -> None:
    if not (1 <= dim < x.dim() or -x.dim() < dim <= -1):
        raise CfgError(f"{what}={dim} is out of range for {of} {_shape(x)}: use 1..{x.dim() - 1} "
                       f"(0 is the batch)")


class _Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def _vgg16_features() -> nn.Sequential:
    layers, cin = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers)


def _freeze(modules, n: int) -> None:
    for m in list(modules)[:n]:
        for p in m.parameters():
            p.requires_grad_(False)


class CfgNet(nn.Module):
    """The blocks of one cfg section; ``forward`` returns the last block's output."""

    def __init__(self, blocks: list[Block], input_shape: tuple[int, ...], path: str = "<cfg>",
                 name: str | None = None):
        super().__init__()
        net, body = blocks[0], blocks[1:]
        self.hparams = dict(net.options)
        self.layers = nn.ModuleList()
        self.kinds: list[str] = []
        self.args: list[dict] = []
        self.path, self.name = path, name
        self.block_lines: list[int] = [b.line for b in body]
        where_net = f"{path}:{net.line}: " + (f"{{{name}}}" if name else "this section")
        if not body:
            raise CfgError(f"{where_net} has a [net] block but no layers; add its blocks after [net]")
        x = torch.zeros(2, *input_shape)
        outs: list[torch.Tensor] = []
        with torch.no_grad():
            for i, b in enumerate(body):
                where = f"{path}:{b.line}: [{b.type}]" + (f" in {{{name}}}" if name else "")
                try:
                    module, args = self._make(b, i, x, outs, path)
                except CfgError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any failure is this block's options
                    raise CfgError(f"{where} cannot be built for its input {_shape(x)}: {_why(exc)}; "
                                   f"change its options or the blocks before it") from None
                self.layers.append(module)
                self.kinds.append(b.type)
                self.args.append(args)
                was_training = module.training
                module.eval()
                try:
                    y = self._apply(i, x, outs)
                except Exception as exc:  # noqa: BLE001
                    raise CfgError(f"{where} fails on {self._inputs(i, x, outs)}: {_why(exc)}; "
                                   f"change its options or the blocks before it") from None
                finally:
                    module.train(was_training)
                if y.numel() == 0:
                    raise CfgError(f"{where} gives an empty output {_shape(y)} from {self._inputs(i, x, outs)}; "
                                   f"change its options or the blocks before it")
                want = args.get("check_channels")
                if want is not None and want != y.shape[1]:
                    raise CfgError(f"{where} n_out_filters={want}, but the block outputs {y.shape[1]} channels, "
                                   f"shape {_shape(y)}; set n_out_filters={y.shape[1]}")
                x = y
                outs.append(x)
        self.output_shape = tuple(x.shape[1:])

    def _inputs(self, i: int, x: torch.Tensor, outs: list[torch.Tensor]) -> str:
        """What block ``i`` works on, for messages: its input, or the earlier blocks it combines."""
        src = self.args[i].get("src")
        if src is None:
            return f"its input {_shape(x)}"
        src = src if isinstance(src, list) else [src]
        return "blocks " + ", ".join(f"{j} {_shape(outs[j])}" for j in src)

    def _index(self, i: int, ref: int, n_before: int, b: Block, path: str) -> int:
        j = i + ref if ref < 0 else ref
        if not 0 <= j < n_before:
            where = f"{path}:{b.line}: [{b.type}]" + (f" in {{{self.name}}}" if self.name else "")
            raise CfgError(f"{where} refers to block {ref}, which is not an earlier block (this is block {i}; "
                           f"blocks count from 0 after [net], negative values count back)")
        return j

    def _make(self, b: Block, i: int, x: torch.Tensor, outs: list, path: str) -> tuple[nn.Module, dict]:
        o = b.options
        where = f"{path}:{b.line}: [{b.type}]" + (f" in {{{self.name}}}" if self.name else "")
        if b.type in ("convolutional", "maxpool", "avgpool", "resnet50", "vgg-face") and x.dim() != 4:
            raise CfgError(f"{where} needs an image-shaped input (N, C, H, W), but gets {_shape(x)}; "
                           f"move it before the [connected] blocks")
        if b.type == "convolutional":
            k = o["kernel_size"]
            pad = o.get("pad", 0)
            pad = (k // 2 if pad else 0) if isinstance(pad, bool) else pad
            conv = nn.Conv2d(x.shape[1], o["filters"], k, o.get("stride", 1), pad,
                             bias=not o.get("batch_normalise", False))
            _init(conv, o.get("initialization"))
            parts = [conv] + ([nn.BatchNorm2d(o["filters"])] if o.get("batch_normalise") else [])
            return nn.Sequential(*parts, _activation(o.get("activation", "None"), b, path)), {}
        if b.type == "batch_norm":
            if o["num_features"] != x.shape[1]:
                raise CfgError(f"{path}:{b.line}: num_features={o['num_features']} but the input has {x.shape[1]} channels")
            bn = nn.BatchNorm2d if x.dim() == 4 else nn.BatchNorm1d
            return bn(o["num_features"], eps=o.get("eps", 1e-5)), {}
        if b.type in ("maxpool", "avgpool"):
            cls = nn.MaxPool2d if b.type == "maxpool" else nn.AvgPool2d
            if o["pool_size"] > min(x.shape[2:]):
                raise CfgError(f"{where} pool_size={o['pool_size']} is larger than its input {_shape(x)}; "
                               f"use a pool_size of at most {min(x.shape[2:])}")
            return cls(o["pool_size"], o.get("stride", o["pool_size"])), {}
        if b.type == "upsample":
            size = o.get("output_sizes")
            mode, spatial = o.get("mode", "nearest"), x.dim() - 2
            if spatial < 1:
                raise CfgError(f"{where} needs an input with spatial dimensions, but gets {_shape(x)}")
            modes = {1: ("nearest", "linear"), 2: ("nearest", "bilinear", "bicubic"), 3: ("nearest", "trilinear")}
            if mode not in modes.get(spatial, ("nearest",)):
                raise CfgError(f"{where} mode={mode} does not work on its input {_shape(x)} ({spatial} spatial "
                               f"dimension(s)); use mode={' or '.join(modes.get(spatial, ('nearest',)))}")
            if size and len(size) != spatial:
                raise CfgError(f"{where} output_sizes has {len(size)} values, but its input {_shape(x)} has "
                               f"{spatial} spatial dimension(s); give {spatial} value(s)")
            return nn.Upsample(size=tuple(size) if size else None,
                               scale_factor=None if size else o.get("scale_factor", 2.0),
                               mode=o.get("mode", "nearest")), {}
        if b.type == "connected":
            lin = nn.Linear(x[0].numel(), o["output_features"], bias=o.get("use_bias", True))
            _init(lin, o.get("initialization"))
            return nn.Sequential(_Flatten(), lin, _activation(o.get("activation", "linear"), b, path)), {}
        if b.type == "softmax":
            _check_dim(o["dim"], x, f"{where} dim")
            return nn.Softmax(dim=o["dim"]), {}
        if b.type == "identity":
            return nn.Identity(), {}
        if b.type == "route":
            return nn.Identity(), {"src": self._index(i, o["branch_at_layer"], len(outs), b, path)}
        if b.type in ("combine_concat", "combine_multiply"):
            src = [self._index(i, r, len(outs), b, path) for r in o["combine_layers"]]
            dim = o.get("dimension", 1)
            if b.type == "combine_concat":
                _check_dim(dim, outs[src[0]], f"{where} dimension", f"block {src[0]}")
            return nn.Identity(), {"src": src, "dim": dim}
        if b.type == "select_subset":
            src = self._index(i, o["origin_layer"], len(outs), b, path)
            dim, start, end = o.get("dimension", 1), o["start_index"], o["end_index"]
            _check_dim(dim, outs[src], f"{where} dimension", f"block {src}")
            if not 0 <= start < end <= outs[src].shape[dim]:
                n = outs[src].shape[dim]
                raise CfgError(f"{where} subset {start}:{end} is out of range for block {src} {_shape(outs[src])}, "
                               f"size {n} along dimension {dim}; use 0 <= start_index < end_index <= {n}")
            return nn.Identity(), {"src": src, "dim": dim, "start": start, "end": end}
        if b.type == "resnet50":
            from pyfacs.nn.resnet import ResNet

            children = [m for name, m in ResNet("resnet50").named_children() if name not in ("avgpool", "fc")]
            body = nn.Sequential(*children[: o["end_at_layer"]])
            n_frozen = o.get("freeze_first_n_layers", 0)
            _freeze(body, n_frozen)
            log.warning("%s:%d: [resnet50] starts from random weights (no pretrained ResNet-50 weights are "
                        "loaded)%s", path, b.line, f"; its {min(n_frozen, len(body))} frozen first layers stay random"
                        if n_frozen else "")
            return body, {"check_channels": o.get("n_out_filters")}
        if b.type == "vgg-face":
            feats = _vgg16_features()
            sd_path = Path(o["state_dict_filepath"]).expanduser()
            sd_path = sd_path if sd_path.is_absolute() else Path(path).parent / sd_path  # (beside the cfg, as
            # every path in a config is: the run must not depend on the folder it is started from)
            if not sd_path.is_file():
                raise CfgError(f"{path}:{b.line}: state_dict_filepath {sd_path} does not exist")
            state = torch.load(sd_path, map_location="cpu", weights_only=True)
            convs = [m for m in feats if isinstance(m, nn.Conv2d)]
            weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 4]
            biases = [state[k.replace("weight", "bias")] for k, v in state.items() if k.endswith("weight") and v.dim() == 4]
            if len(weights) < len(convs):
                raise CfgError(f"{path}:{b.line}: {sd_path} holds {len(weights)} conv layers, VGG-Face needs 13")
            for conv, w, bias in zip(convs, weights, biases):
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(bias)
            _freeze(feats, o.get("freeze_first_n_layers", 0))
            return feats, {}
        raise CfgError(f"{path}:{b.line}: cannot build [{b.type}]")  # pragma: no cover - parser rejects it

    def _apply(self, i: int, x: torch.Tensor, outs: list[torch.Tensor]) -> torch.Tensor:
        kind, args = self.kinds[i], self.args[i]
        if kind == "route":
            return outs[args["src"]]
        if kind == "combine_concat":
            return torch.cat([outs[j] for j in args["src"]], dim=args["dim"])
        if kind == "combine_multiply":
            y = outs[args["src"][0]]
            for j in args["src"][1:]:
                y = y * outs[j]
            return y
        if kind == "select_subset":
            return outs[args["src"]].narrow(args["dim"], args["start"], args["end"] - args["start"])
        return self.layers[i](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor] = []
        for i in range(len(self.layers)):
            x = self._apply(i, x, outs)
            outs.append(x)
        return x
