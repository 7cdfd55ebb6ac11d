"""AUDetNet's network description language (seed 001), parsed with line numbers.

    {Section Name}          a network part (General, Encoder, AUPredictor, Decoder, Discriminator,
                            and optionally Image Discriminator)
    [block_type]            a block; General's three blocks are read by position (training, data,
                            loss options), so when they carry those names they must stand in that order
    key=value               options; '#' starts a comment anywhere on a line

Unknown keys are logged (one warning line with file:line); values that cannot be used (wrong type,
out of range, or a choice pyfacs does not implement) are errors naming the file, the line and what
was expected.
"""
from __future__ import annotations

import difflib
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from pyfacs.errors import InputError

log = logging.getLogger(__name__)


class CfgError(InputError):
    """A cfg file that cannot be built; the message gives file:line."""


@dataclass
class Block:
    type: str
    line: int
    options: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)  # key → the line it was given on


@dataclass
class CfgFile:
    path: str
    sections: dict[str, list[Block]]
    section_lines: dict[str, int] = field(default_factory=dict)

    def section(self, name: str) -> list[Block] | None:
        return self.sections.get(name)


# --- value converters: each raises ValueError("expected ...") -------------------------------------

def _named(name: str):
    def deco(f):
        f.__name__ = name
        return f
    return deco


def _bool(v: str) -> bool:
    if v.lower() in ("true", "1"):
        return True
    if v.lower() in ("false", "0"):
        return False
    raise ValueError("expected True/False or 1/0")


_bool.__name__ = "True/False or 1/0"


def _checked(parse, desc: str, ok):
    """A converter: ``parse`` the text, then require ``ok`` of the value; either failing is "expected <desc>"."""
    @_named(desc)
    def f(v: str):
        try:
            x = parse(v)
        except ValueError:
            raise ValueError(f"expected {desc}") from None
        if not ok(x):
            raise ValueError(f"expected {desc}")
        return x
    return f


def _int(lo: int | None = None, hi: int | None = None, why: str = ""):
    desc = "an integer" + (f" in {lo}..{hi}" if lo is not None and hi is not None
                           else f" >= {lo}" if lo is not None else "")
    desc += f" ({why})" if why else ""
    return _checked(int, desc, lambda x: (lo is None or x >= lo) and (hi is None or x <= hi))


def _float(lo: float | None = None, *, strict: bool = False, below: float | None = None):
    desc = "a number" + (f" {'>' if strict else '>='} {lo:g}" if lo is not None else "") \
        + (f" and < {below:g}" if below is not None else "")
    return _checked(float, desc, lambda x: math.isfinite(x) and (lo is None or (x > lo if strict else x >= lo))
                    and (below is None or x < below))


def _list(conv, what: str):
    desc = f"comma-separated {what}"

    @_named(desc)
    def f(v: str) -> list:
        try:
            return [conv(x.strip()) for x in v.split(",")]
        except ValueError:
            raise ValueError(f"expected {desc}") from None
    return f


def _none_or(conv):
    @_named(f"None or {conv.__name__}")
    def f(v: str):
        if v.lower() == "none":
            return None
        try:
            return conv(v)
        except ValueError:
            raise ValueError(f"expected None or {conv.__name__}") from None
    return f


def _choice(*options: str, not_implemented: dict[str, str] | None = None):
    """One of ``options``; a value in ``not_implemented`` (value → why) is named as such."""
    not_implemented = not_implemented or {}

    @_named(" | ".join(options))
    def f(v: str) -> str:
        if v in options:
            return v
        if v in not_implemented:
            raise ValueError(f"not implemented in pyfacs ({not_implemented[v]}); implemented: {' | '.join(options)}")
        raise ValueError(f"expected {' | '.join(options)}")
    return f


@_named("True/False or an integer >= 0")
def _pad(v: str):
    if v.lower() in ("true", "false"):
        return _bool(v)
    try:
        x = int(v)
    except ValueError:
        raise ValueError("expected True/False or an integer >= 0") from None
    if x < 0:
        raise ValueError("expected True/False or an integer >= 0")
    return x


@_named("False (AU presence)")
def _presence_only(v: str) -> bool:
    if _bool(v):
        raise ValueError("not implemented in pyfacs (it trains AU presence, not intensities); implemented: False")
    return False


_ACT = _choice("relu", "leaky_relu", "tanh", "sigmoid", "None", "linear",
               not_implemented={"not_implemented": "the seed's placeholder activation"})
_INIT = _choice("None", "kaiming_uniform")
_STR = _named("a path")(lambda v: v)
_POS, _NONNEG = _int(1), _int(0)
_LAMBDA = _float(0.0)

SCHEMAS: dict[str, dict[str, object]] = {
    "training_options": {"batch_size": _int(2, why="BatchNorm needs at least 2 images a batch"),
                         "max_epochs": _POS, "max_test_iters": _NONNEG,
                         "train_main_net_every_n_batches": _POS,
                         "learning_rate_scheduler": _choice("None", "Linear"),
                         "decay_lr_over_last_n_epochs": _NONNEG},
    "data_options": {"regress_au_intensities": _presence_only, "balance_dataset_with_momu": _bool,
                     "epoch_size": _int(2, why="at least one batch of 2"), "sampling_size": _POS,
                     "mean": _list(_float(), "numbers"), "std": _list(_float(0.0, strict=True), "numbers > 0")},
    "loss_options": {"au_regression_loss_function": _choice(
                         "BCEWithLogits", not_implemented={"MSE": "AU intensity regression"}),
                     "reconstruction_loss_function": _choice("L1"), "gradient_loss_lambda_discr": _LAMBDA,
                     "gradient_loss_lambda_img_discr": _LAMBDA, "discriminator_loss_lambda": _LAMBDA,
                     "img_discriminator_loss_lambda": _LAMBDA, "reconstruction_loss_lambda": _LAMBDA},
    "net": {"learning_rate": _float(0.0, strict=True), "beta1": _float(0.0, below=1.0),
            "beta2": _float(0.0, below=1.0), "channels": _POS},
    "convolutional": {"batch_normalise": _bool, "filters": _POS, "kernel_size": _POS, "stride": _POS, "pad": _pad,
                      "activation": _ACT, "initialization": _INIT},
    "batch_norm": {"num_features": _POS, "eps": _float(0.0, strict=True)},
    "maxpool": {"pool_size": _POS, "stride": _POS},
    "avgpool": {"pool_size": _POS, "stride": _POS},
    "upsample": {"output_sizes": _none_or(_list(_POS, "integers >= 1")), "scale_factor": _float(0.0, strict=True),
                 "mode": _choice("nearest", "linear", "bilinear", "bicubic", "trilinear")},
    "connected": {"output_features": _POS, "activation": _choice("linear", "relu", "leaky_relu", "sigmoid"),
                  "use_bias": _bool, "initialization": _INIT},
    "softmax": {"dim": _int()},
    "route": {"branch_at_layer": _int()},
    "combine_concat": {"combine_layers": _list(_int(), "block indices"), "dimension": _int()},
    "combine_multiply": {"combine_layers": _list(_int(), "block indices")},
    "select_subset": {"origin_layer": _int(), "dimension": _int(), "start_index": _NONNEG, "end_index": _POS},
    "identity": {},
    "resnet50": {"end_at_layer": _int(1, 8, "ResNet-50 has 8 stages: conv1, bn1, relu, maxpool, layer1..4"),
                 "freeze_first_n_layers": _NONNEG, "n_out_filters": _POS},
    "vgg-face": {"state_dict_filepath": _STR, "freeze_first_n_layers": _NONNEG},
}
GENERAL_ORDER = ("training_options", "data_options", "loss_options")
REQUIRED = {"convolutional": ("filters", "kernel_size"), "connected": ("output_features",),
            "maxpool": ("pool_size",), "avgpool": ("pool_size",), "route": ("branch_at_layer",),
            "combine_concat": ("combine_layers",), "combine_multiply": ("combine_layers",),
            "select_subset": ("origin_layer", "start_index", "end_index"), "softmax": ("dim",),
            "batch_norm": ("num_features",), "vgg-face": ("state_dict_filepath",), "resnet50": ("end_at_layer",),
            "upsample": ()}
NETWORK_SECTIONS = ("Encoder", "AUPredictor", "Decoder", "Discriminator")
OPTIONAL_SECTIONS = ("Image Discriminator",)
KNOWN_SECTIONS = ("General", *NETWORK_SECTIONS, *OPTIONAL_SECTIONS)
_GENERAL_HINT = "{General} holds [training_options], [data_options], [loss_options], in this order"

_SECTION = re.compile(r"^\{\s*(.+?)\s*\}$")
_BLOCK = re.compile(r"^\[\s*(.+?)\s*\]$")


def parse_cfg(text: str, path: str = "<cfg>") -> CfgFile:
    sections: dict[str, list[Block]] = {}
    section_lines: dict[str, int] = {}
    current: list[Block] | None = None
    block: Block | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if m := _SECTION.match(line):
            name = m.group(1)
            if name in sections:
                raise CfgError(f"{path}:{n}: section {{{name}}} appears twice (first on line {section_lines[name]}); "
                               f"merge them")
            current, block = sections.setdefault(name, []), None
            section_lines[name] = n
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
        if not re.fullmatch(r"[A-Za-z_][\w.]*", key):  # e.g. "[convolutional] filters=3" on one line
            raise CfgError(f"{path}:{n}: expected key=value, a [block] or a {{Section}} (each on its own line), "
                           f"got {line!r}")
        if key in block.options:
            log.warning("%s:%d: %s given twice in [%s] (also on line %d); the value on line %d is used",
                        path, n, key, block.type, block.options[key][1], n)
        block.options[key] = (value, n)
    cfg = CfgFile(path, sections, section_lines)
    _convert(cfg)
    return cfg


def _unknown_key_hint(key: str, schema: dict) -> str:
    close = difflib.get_close_matches(key, list(schema), n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    return f"; its keys are: {', '.join(schema)}" if schema else "; it takes no keys"


def _convert(cfg: CfgFile) -> None:
    for name, blocks in cfg.sections.items():
        if not blocks and name != "General":
            raise CfgError(f"{cfg.path}:{cfg.section_lines.get(name, 0)}: {{{name}}} has no blocks: start it with "
                           f"a [net] block, then its layers")
        for i, block in enumerate(blocks):
            if name == "General":
                if i >= len(GENERAL_ORDER):
                    raise CfgError(f"{cfg.path}:{block.line}: {{General}} has 3 blocks (training, data, loss options)")
                kind = GENERAL_ORDER[i]
                if block.type in GENERAL_ORDER and block.type != kind:
                    raise CfgError(f"{cfg.path}:{block.line}: [{block.type}] is block {i + 1} of {{General}}, which is "
                                   f"read as [{kind}] (its blocks are read by position): {_GENERAL_HINT}; reorder them")
            else:
                kind = block.type
                if kind in GENERAL_ORDER:  # (a misspelt {General}: its blocks are no layers)
                    raise CfgError(f"{cfg.path}:{block.line}: [{kind}] belongs in {{General}}, not in {{{name}}}"
                                   + (" (did you mean {General}?)" if name.lower().startswith("gen") else ""))
                if kind not in SCHEMAS:
                    close = difflib.get_close_matches(kind, [k for k in SCHEMAS if k not in GENERAL_ORDER], n=1)
                    hint = f" (did you mean [{close[0]}]?)" if close else ""
                    raise CfgError(f"{cfg.path}:{block.line}: unknown block type [{kind}]{hint}; known: "
                                   f"{', '.join(k for k in SCHEMAS if k not in GENERAL_ORDER)}")
                if i == 0 and kind != "net":
                    raise CfgError(f"{cfg.path}:{block.line}: {{{name}}} must start with a [net] block")
            schema = SCHEMAS[kind]
            typed, lines = {}, {}
            for key, (value, line) in block.options.items():
                conv = schema.get(key)
                if conv is None:
                    if name == "General":
                        other = next((k for k in GENERAL_ORDER if key in SCHEMAS[k]), None)
                        if other is not None:
                            raise CfgError(f"{cfg.path}:{line}: {key} is a [{other}] option, but it stands in "
                                           f"{{General}}'s block {i + 1}, read as [{kind}]: is the [{other}] header "
                                           f"missing? {_GENERAL_HINT}")
                    log.warning("%s:%d: unknown key %r in [%s] ignored%s", cfg.path, line, key, block.type,
                                _unknown_key_hint(key, schema))
                    continue
                try:
                    typed[key] = conv(value)
                except ValueError as exc:
                    raise CfgError(f"{cfg.path}:{line}: [{block.type}] {key}={value}: {exc}") from None
                lines[key] = line
            for key in REQUIRED.get(kind, ()):
                if key not in typed:
                    raise CfgError(f"{cfg.path}:{block.line}: [{block.type}] needs {key}=")
            if kind == "data_options" and "epoch_size" in typed and "sampling_size" in typed \
                    and typed["epoch_size"] % typed["sampling_size"]:
                raise CfgError(f"{cfg.path}:{lines['sampling_size']}: [data_options] sampling_size="
                               f"{typed['sampling_size']} must divide epoch_size={typed['epoch_size']}")
            if kind == "select_subset" and typed["end_index"] <= typed["start_index"]:
                raise CfgError(f"{cfg.path}:{lines['end_index']}: [select_subset] end_index={typed['end_index']} "
                               f"must be larger than start_index={typed['start_index']}")
            block.options, block.lines = typed, lines
            block.type = kind


def check_sections(cfg: CfgFile) -> None:
    """The section names an AUDetNet cfg may have, the ones it must have, and layers in each network."""
    _check_section_names(cfg)
    for needed in ("General", *NETWORK_SECTIONS):
        if needed not in cfg.sections:
            raise CfgError(f"{cfg.path}: missing section {{{needed}}}; an AUDetNet cfg needs "
                           f"{', '.join('{' + s + '}' for s in ('General', *NETWORK_SECTIONS))}")
    for name in (*NETWORK_SECTIONS, *OPTIONAL_SECTIONS):
        blocks = cfg.sections.get(name)
        if blocks is not None and len(blocks) < 2:
            raise CfgError(f"{cfg.path}:{blocks[0].line}: {{{name}}} has a [net] block but no layers; add its "
                           f"blocks after [net] (an [identity] block passes its input through)")


def _check_section_names(cfg: CfgFile) -> None:
    """Every section is one an AUDetNet cfg may have (a misspelt one is named, with the closest)."""
    for name, line in cfg.section_lines.items() if cfg.section_lines else ((n, 0) for n in cfg.sections):
        if name not in KNOWN_SECTIONS:
            close = difflib.get_close_matches(name, KNOWN_SECTIONS, n=1)
            hint = f" (did you mean {{{close[0]}}}?)" if close else ""
            raise CfgError(f"{cfg.path}:{line}: unknown section {{{name}}}{hint}; the sections are "
                           f"{', '.join('{' + s + '}' for s in KNOWN_SECTIONS[:-1])} and optionally "
                           f"{{{KNOWN_SECTIONS[-1]}}}")


def load_cfg(path: str | Path) -> CfgFile:
    from pyfacs.io.csvfile import read_text

    path = Path(path)
    if not path.is_file():
        raise CfgError(f"cfg file {path} does not exist")
    cfg = parse_cfg(read_text(path, "AUDetNet cfg file"), str(path))
    check_sections(cfg)
    return cfg
