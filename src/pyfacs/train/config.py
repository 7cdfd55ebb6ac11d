"""Typed, validated training configs (YAML). Unknown keys are errors: a typo must not train silently."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pyfacs.errors import InputError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # (lr: .inf would train NaNs)


class DataConfig(_Strict):
    format: Literal["ckplus", "fer2013", "video-labels"] = "ckplus"
    root: str | None = Field(None, description="dataset folder (ckplus, fer2013); relative paths are relative "
                             "to the config file")
    aus: list[int] = Field([1, 2, 4, 5, 6, 7, 12, 17, 25, 27], min_length=1)
    folds: int = Field(5, ge=2, description="subject-independent cross-validation folds")
    only_folds: list[int] | None = Field(None, min_length=1, description="run just these folds (smoke configs)")
    limit: int | None = Field(None, ge=1, description="use only the first N images (video-labels: frames) (smoke configs)")
    val_limit: int | None = Field(None, ge=1, description="fer2013: only the first N validation images")
    video: str | None = Field(None, description="video-labels: the video (relative to the config file)")
    labels: str | None = Field(None, description="video-labels: per-frame labels CSV (generic or OpenFace's)")
    labels_format: Literal["generic", "openface"] = "generic"
    label_columns: list[str] | None = Field(None, description="video-labels: which columns (default: all)")
    train_fraction: float = Field(0.7, gt=0, lt=1, description="video-labels: the first part of the video "
                                  "trains, the rest (held-out frames) tests")
    landmarks: str | None = Field(None, description="fer2013: cache file (.npz) of each image's 68 landmarks, "
                                  "computed with FaceMesh where missing; needed by model.guidance")


class ModelConfig(_Strict):
    kind: Literal["mefarg", "hog-linear", "audetnet", "esr", "au-sequence"] = "mefarg"
    window: int = Field(3, ge=1, description="au-sequence: consecutive frames per prediction (odd)")
    d_model: int = Field(64, ge=8, description="au-sequence: transformer width")
    layers: int = Field(2, ge=1, description="au-sequence: transformer layers")
    dropout: float = Field(0.1, ge=0, lt=1, description="au-sequence: dropout in the transformer")
    feature_noise: float = Field(0.0, ge=0, description="au-sequence: Gaussian noise added to the "
                                 "standardised features in training (std)")
    repeats: int = Field(1, ge=1, description="au-sequence: train each model with seeds seed..seed+repeats-1 "
                         "and report the mean (comparisons beyond one seed's luck)")
    ensemble_size: int = Field(9, ge=1, description="esr: branches")
    export_ensemble_size: int | None = Field(None, ge=1, description="esr: the exported model votes with "
                                             "the first K branches only (default: all)")
    export_int8: int = Field(0, ge=0, description="esr: export with int8 convolutions, calibrated on "
                             "this many Training images (0: float)")
    diversify: float = Field(0.0, ge=0, description="esr: weight of ESR*'s diversity term (0: plain ESR)")
    guidance: float = Field(0.0, ge=0, description="esr: weight of the AU-cue alignment loss (0: unguided)")
    flip_average: bool = Field(False, description="esr: the exported model averages face and mirror image")
    init: str | None = Field(None, description="esr: start from these weights instead of random ones: a "
                             "registered model (e.g. esr9.fer2013) or a run's model.pt (relative to the "
                             "config file); branches beyond ensemble_size are dropped")
    average_with: list[str] = Field([], description="esr: stochastic weight averaging over the ends of "
                                    "earlier cycles: the final weights are the mean of this run's and these "
                                    "(registered models or runs' model.pt, relative to the config file), "
                                    "with the BatchNorm statistics then re-estimated on the Training images")
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
    augment: Literal["shift-flip", "affine"] = Field(
        "shift-flip", description="shift-flip: ±4 px shifts and mirroring; affine: rotation, scale, shift, "
        "mirroring and random erasing")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    schedule: Literal["one-cycle", "swa"] = Field(
        "one-cycle", description="esr: one-cycle: one warm-up/anneal of the learning rate over the run; swa: "
        "stochastic weight averaging, every epoch one cosine cycle from lr down to min_lr, and the run's "
        "weights are the mean of its epoch ends (for a warm start from a trained model)")
    min_lr: float = Field(0.0, ge=0, description="swa: the learning rate at each epoch's end")


class TrainConfig(_Strict):
    name: str = Field(pattern=r"^[^./\\][^/\\]*$", description="the run's name; it names the default run folder "
                      "runs/<name>-seed<seed>, which must stay inside runs/: no / or \\, not starting with .")
    task: Literal["au-presence", "expression", "au-sequence"] = "au-presence"
    seed: int = Field(0, ge=0, lt=2**32)
    threads: int = Field(2, ge=1, description="CPU threads: fixed, so that runs repeat exactly")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: a CUDA GPU when one is present (expression training), else the CPU")
    data: DataConfig
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    export_full: bool = Field(False, description="after CV, train on all data and export ONNX")


# what each task trains on: a typo in one of the three must not train something else silently
_TASKS = {
    "expression": {"format": "fer2013", "kinds": ("esr",)},
    "au-presence": {"format": "ckplus", "kinds": ("mefarg", "hog-linear", "audetnet")},
    "au-sequence": {"format": "video-labels", "kinds": ("au-sequence",)},
}


def _unique_key_loader():
    """YAML's safe loader, refusing a key written twice (plain YAML keeps the last: a second
    ``optim:`` silently dropped the first one's settings)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def load_config(path: str | Path, *, seed: int | None = None) -> TrainConfig:
    import yaml

    from pyfacs.io.csvfile import read_text

    path = Path(path)
    text = read_text(path, "YAML training config (e.g. configs/au/mefarg_ckplus.yaml)")
    try:
        raw = yaml.load(text, Loader=_unique_key_loader()) or {}
        cfg = TrainConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        why = ("a run name cannot be empty, hold / or \\, or start with . (it names the folder "
               "runs/<name>-seed<seed>)" if where == "name" and first["type"] == "string_pattern_mismatch"
               else first["msg"])
        raise InputError(f"{path}: {where}: {why}") from None
    wanted = _TASKS[cfg.task]
    if "format" not in cfg.data.model_fields_set:  # unset: what the task trains on, not the field's default
        cfg.data.format = wanted["format"]
    if "kind" not in cfg.model.model_fields_set:
        cfg.model.kind = wanted["kinds"][0]
    if cfg.data.format != wanted["format"] or cfg.model.kind not in wanted["kinds"]:
        raise InputError(f"{path}: task {cfg.task} trains on data.format {wanted['format']} with model.kind "
                         f"{' or '.join(wanted['kinds'])}, not {cfg.data.format} with {cfg.model.kind}")
    if cfg.data.format != "video-labels" and cfg.data.root is None:
        raise InputError(f"{path}: data.root: the {cfg.data.format} dataset folder is required")

    def beside(value: str | None) -> str | None:  # file paths in a config are relative to the config
        if value is None:
            return None
        value = str(Path(value).expanduser())  # (~/data: the user's folder, not a folder named ~)
        return value if Path(value).is_absolute() else str((path.parent / value).resolve())

    for section, key in (("data", "root"), ("data", "video"), ("data", "labels"), ("data", "landmarks"),
                         ("model", "cfg")):
        part = getattr(cfg, section)
        setattr(part, key, beside(getattr(part, key)))
    # weights: a run's model.pt is a path; a registered model's name is not
    cfg.model.init = beside(cfg.model.init) if (cfg.model.init or "").endswith(".pt") else cfg.model.init
    cfg.model.average_with = [beside(ref) if ref.endswith(".pt") else ref for ref in cfg.model.average_with]
    if cfg.data.only_folds is not None and not all(0 <= k < cfg.data.folds for k in cfg.data.only_folds):
        raise InputError(f"{path}: data.only_folds must lie in 0..{cfg.data.folds - 1}, not {cfg.data.only_folds}")
    if cfg.task == "au-sequence" and (cfg.data.video is None or cfg.data.labels is None):
        raise InputError(f"{path}: task au-sequence needs data.video and data.labels")
    if cfg.model.window % 2 == 0:
        raise InputError(f"{path}: model.window must be odd (the centre frame is predicted), not {cfg.model.window}")
    if cfg.model.guidance and cfg.data.landmarks is None:
        raise InputError(f"{path}: model.guidance needs data.landmarks (a landmark cache file)")
    if cfg.model.kind == "audetnet" and cfg.model.cfg is None:
        raise InputError(f"{path}: model.kind audetnet needs model.cfg (an AUDetNet cfg file)")
    if cfg.model.cfg is not None and not Path(cfg.model.cfg).is_file():
        raise InputError(f"{path}: model.cfg {cfg.model.cfg} does not exist (a path relative to the config)")
    if (cfg.model.export_ensemble_size or 0) > cfg.model.ensemble_size:
        raise InputError(f"{path}: model.export_ensemble_size ({cfg.model.export_ensemble_size}) cannot exceed "
                         f"model.ensemble_size ({cfg.model.ensemble_size})")
    if cfg.optim.schedule == "swa" and cfg.optim.min_lr >= cfg.optim.lr:
        raise InputError(f"{path}: optim.min_lr ({cfg.optim.min_lr}) must be below optim.lr ({cfg.optim.lr}): "
                         "each swa cycle anneals from lr down to min_lr")
    if cfg.model.kind == "audetnet":
        _audetnet_epochs(cfg, path)
    if len(set(cfg.data.aus)) != len(cfg.data.aus):
        raise InputError(f"{path}: data.aus lists an AU twice: {cfg.data.aus}")
    if cfg.export_full and cfg.model.kind == "hog-linear":
        raise InputError(f"{path}: export_full: hog-linear is a baseline and is not exported; drop export_full")
    if seed is not None:
        if not 0 <= seed < 2**32:
            raise InputError(f"--seed must lie in 0..2**32-1, not {seed}")
        cfg.seed = seed
    return cfg


def _audetnet_epochs(cfg: TrainConfig, path: Path) -> None:
    """AUDetNet's recipe is its cfg file's [training_options]: of ``optim`` only ``epochs`` applies
    (else the cfg's ``max_epochs``, written into the resolved config so that it reproduces)."""
    fields = OptimConfig.model_fields
    if changed := [k for k in fields if k != "epochs" and getattr(cfg.optim, k) != fields[k].default]:
        raise InputError(f"{path}: optim.{changed[0]}: AUDetNet takes its training settings from model.cfg's "
                         "[training_options]; set them there (of optim, only epochs applies)")
    if "epochs" not in cfg.optim.model_fields_set:
        from pyfacs.au.audetnet.cfg import load_cfg  # (its errors are InputErrors naming file:line)

        general = load_cfg(cfg.model.cfg).sections.get("General") or []
        cfg.optim.epochs = int(general[0].options.get("max_epochs", 1) if general else 1)
