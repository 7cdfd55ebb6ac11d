"""Typed, validated training configs (YAML). Unknown keys are errors: a typo must not train silently."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pyfacs.errors import InputError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    format: Literal["ckplus", "fer2013"] = "ckplus"
    root: str = Field(description="dataset folder; relative paths are relative to the config file")
    aus: list[int] = [1, 2, 4, 5, 6, 7, 12, 17, 25, 27]
    folds: int = Field(5, ge=2, description="subject-independent cross-validation folds")
    only_folds: list[int] | None = Field(None, description="run just these folds (smoke configs)")
    limit: int | None = Field(None, ge=1, description="use only the first N images (smoke configs)")
    val_limit: int | None = Field(None, ge=1, description="fer2013: only the first N validation images")


class ModelConfig(_Strict):
    kind: Literal["mefarg", "hog-linear", "audetnet", "esr"] = "mefarg"
    ensemble_size: int = Field(9, ge=1, description="esr: branches")
    diversify: float = Field(0.0, ge=0, description="esr: weight of ESR*'s diversity term (0: plain ESR)")
    arch: Literal["resnet18", "resnet34", "resnet50"] = "resnet18"
    width: int = Field(32, ge=8)
    n_neighbors: int = Field(4, ge=1)
    input_size: int = Field(48, ge=32)
    # hog-linear: inverse L2 strength of the per-AU logistic regressions
    c: float = Field(0.05, gt=0)
    # audetnet: the network description in AUDetNet's cfg language (relative to the config file)
    cfg: str | None = None


class OptimConfig(_Strict):
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0, lt=1)


class TrainConfig(_Strict):
    name: str
    task: Literal["au-presence", "expression"] = "au-presence"
    seed: int = 0
    threads: int = Field(2, ge=1, description="CPU threads: fixed, so that runs repeat exactly")
    data: DataConfig
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    export_full: bool = Field(False, description="after CV, train on all data and export ONNX")


def load_config(path: str | Path, *, seed: int | None = None) -> TrainConfig:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"config {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        cfg = TrainConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{path}: {where}: {first['msg']}") from None
    root = Path(cfg.data.root)
    if not root.is_absolute():
        cfg.data.root = str((path.parent / root).resolve())
    if cfg.model.cfg is not None and not Path(cfg.model.cfg).is_absolute():
        cfg.model.cfg = str((path.parent / cfg.model.cfg).resolve())
    if cfg.model.kind == "audetnet" and cfg.model.cfg is None:
        raise InputError(f"{path}: model.kind audetnet needs model.cfg (an AUDetNet cfg file)")
    if seed is not None:
        cfg.seed = seed
    return cfg
