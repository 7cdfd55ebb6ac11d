"""AUDetNet's network description language (seed 001), parsed with line numbers.

    {Section Name}          a network part (General, Encoder, AUPredictor, Decoder, Discriminator,
                            and optionally Image Discriminator)
    [block_type]            a block; General's three blocks are read by position (training, data,
                            loss options), whatever their names
    key=value               options; '#' starts a comment anywhere on a line

Unknown keys are warned about (with the line); values that cannot be used are errors naming the
file, the line and what was expected.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pyfacs.errors import InputError


class CfgError(InputError):
    """A cfg file that cannot be built; the message gives file:line."""


@dataclass
class Block:
    type: str
    line: int
    options: dict = field(default_factory=dict)


@dataclass
class CfgFile:
    path: str
    sections: dict[str, list[Block]]

    def section(self, name: str) -> list[Block] | None:
        return self.sections.get(name)


def _bool(v: str) -> bool:
    if v.lower() in ("true", "1"):
        return True
    if v.lower() in ("false", "0"):
        return False
    raise ValueError("True/False or 1/0")


def _none_or(conv):
    def f(v: str):
        return None if v.lower() == "none" else conv(v)
    f.__name__ = f"None or {conv.__name__}"
    return f


def _floats(v: str) -> list[float]:
    return [float(x) for x in v.split(",")]


def _ints(v: str) -> list[int]:
    return [int(x) for x in v.split(",")]


def _choice(*options: str):
    def f(v: str) -> str:
        if v not in options:
            raise ValueError(" | ".join(options))
        return v
    f.__name__ = " | ".join(options)
    return f


def _pad(v: str):
    return _bool(v) if v.lower() in ("true", "false") else int(v)


_ACT = _choice("relu", "leaky_relu", "tanh", "sigmoid", "None", "linear", "not_implemented")
_INIT = _choice("None", "kaiming_uniform")

SCHEMAS: dict[str, dict[str, object]] = {
    "training_options": {"batch_size": int, "max_epochs": int, "max_test_iters": int,
                         "train_main_net_every_n_batches": int,
                         "learning_rate_scheduler": _choice("None", "Linear"),
                         "decay_lr_over_last_n_epochs": int},
    "data_options": {"regress_au_intensities": _bool, "balance_dataset_with_momu": _bool, "epoch_size": int,
                     "sampling_size": int, "mean": _floats, "std": _floats},
    "loss_options": {"au_regression_loss_function": _choice("MSE", "BCEWithLogits"),
                     "reconstruction_loss_function": _choice("L1"), "gradient_loss_lambda_discr": float,
                     "gradient_loss_lambda_img_discr": float, "discriminator_loss_lambda": float,
                     "img_discriminator_loss_lambda": float, "reconstruction_loss_lambda": float},
    "net": {"learning_rate": float, "beta1": float, "beta2": float, "channels": int},
    "convolutional": {"batch_normalise": _bool, "filters": int, "kernel_size": int, "stride": int, "pad": _pad,
                      "activation": _ACT, "initialization": _INIT},
    "batch_norm": {"num_features": int, "eps": float},
    "maxpool": {"pool_size": int, "stride": int},
    "avgpool": {"pool_size": int, "stride": int},
    "upsample": {"output_sizes": _none_or(_ints), "scale_factor": float,
                 "mode": _choice("nearest", "linear", "bilinear", "bicubic", "trilinear")},
    "connected": {"output_features": int, "activation": _choice("linear", "relu", "leaky_relu", "sigmoid"),
                  "use_bias": _bool, "initialization": _INIT},
    "softmax": {"dim": int},
    "route": {"branch_at_layer": int},
    "combine_concat": {"combine_layers": _ints, "dimension": int},
    "combine_multiply": {"combine_layers": _ints},
    "select_subset": {"origin_layer": int, "dimension": int, "start_index": int, "end_index": int},
    "identity": {},
    "resnet50": {"end_at_layer": int, "freeze_first_n_layers": int, "n_out_filters": int},
    "vgg-face": {"state_dict_filepath": str, "freeze_first_n_layers": int},
}
GENERAL_ORDER = ("training_options", "data_options", "loss_options")
REQUIRED = {"convolutional": ("filters", "kernel_size"), "connected": ("output_features",),
            "maxpool": ("pool_size",), "avgpool": ("pool_size",), "route": ("branch_at_layer",),
            "combine_concat": ("combine_layers",), "combine_multiply": ("combine_layers",),
            "select_subset": ("origin_layer", "start_index", "end_index"), "softmax": ("dim",),
            "batch_norm": ("num_features",), "vgg-face": ("state_dict_filepath",), "resnet50": ("end_at_layer",),
            "upsample": ()}

_SECTION = re.compile(r"^\{\s*(.+?)\s*\}$")
_BLOCK = re.compile(r"^\[\s*(.+?)\s*\]$")


def parse_cfg(text: str, path: str = "<cfg>") -> CfgFile:
    sections: dict[str, list[Block]] = {}
    current: list[Block] | None = None
    block: Block | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if m := _SECTION.match(line):
            name = m.group(1)
            if name in sections:
                raise CfgError(f"{path}:{n}: section {{{name}}} appears twice")
            current, block = sections.setdefault(name, []), None
            continue
        if m := _BLOCK.match(line):
            if current is None:
                raise CfgError(f"{path}:{n}: block [{m.group(1)}] before any {{Section}} header")
            block = Block(m.group(1), n)
            current.append(block)
            continue
        if "=" not in line:
            raise CfgError(f"{path}:{n}: expected key=value, a [block] or a {{Section}}, got {line!r}")
        if block is None:
            raise CfgError(f"{path}:{n}: option {line!r} outside any [block]")
        key, value = (s.strip() for s in line.split("=", 1))
        block.options[key] = (value, n)
    cfg = CfgFile(path, sections)
    _convert(cfg)
    return cfg


def _convert(cfg: CfgFile) -> None:
    for name, blocks in cfg.sections.items():
        for i, block in enumerate(blocks):
            if name == "General":
                if i >= len(GENERAL_ORDER):
                    raise CfgError(f"{cfg.path}:{block.line}: {{General}} has 3 blocks (training, data, loss options)")
                kind = GENERAL_ORDER[i]
            else:
                kind = block.type
                if kind not in SCHEMAS or kind in GENERAL_ORDER:
                    raise CfgError(f"{cfg.path}:{block.line}: unknown block type [{kind}]; known: "
                                   f"{', '.join(k for k in SCHEMAS if k not in GENERAL_ORDER)}")
                if i == 0 and kind != "net":
                    raise CfgError(f"{cfg.path}:{block.line}: {{{name}}} must start with a [net] block")
            schema = SCHEMAS[kind]
            typed = {}
            for key, (value, line) in block.options.items():
                conv = schema.get(key)
                if conv is None:
                    warnings.warn(f"{cfg.path}:{line}: unknown key {key!r} in [{block.type}] ignored",
                                  stacklevel=3)
                    continue
                try:
                    typed[key] = conv(value)
                except ValueError as exc:
                    raise CfgError(f"{cfg.path}:{line}: {key}={value}: expected "
                                   f"{getattr(conv, '__name__', conv)} ({exc})") from None
            for key in REQUIRED.get(kind, ()):
                if key not in typed:
                    raise CfgError(f"{cfg.path}:{block.line}: [{block.type}] needs {key}=")
            block.options = typed
            block.type = kind


def load_cfg(path: str | Path) -> CfgFile:
    path = Path(path)
    if not path.is_file():
        raise CfgError(f"cfg file {path} does not exist")
    cfg = parse_cfg(path.read_text(), str(path))
    for needed in ("General", "Encoder", "AUPredictor", "Decoder", "Discriminator"):
        if needed not in cfg.sections:
            raise CfgError(f"{path}: missing section {{{needed}}}")
    return cfg
