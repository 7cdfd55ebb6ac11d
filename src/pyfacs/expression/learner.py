"""OpenDR's ``FacialEmotionLearner`` API (seed 003) over pyfacs's ESR and training code, so that
OpenDR users can switch with their code unchanged.

Differences, stated: the dataset at ``base_path_to_dataset`` may be FER2013 (image folders with
``labels.csv``) or AffectNet in OpenDR's pre-processed layout (``Training_Labeled/<k>/`` and
``Validation/<k>/`` with files ``<id>_<emotion>_<valence×1000>_<arousal×1000>.jpg``); ``device="cuda"``
falls back to the CPU when no GPU is present; images are 48×48 grey (FER-style), not 96×96 colour.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError, ModelUnavailableError, require_extra

log = logging.getLogger(__name__)


@dataclass
class Category:
    """OpenDR's ``engine.target.Category``: a class index, its name and the confidence."""

    prediction: int
    description: str
    confidence: float


def _load_dataset(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """(images (n, 48, 48) uint8, labels, valence/arousal (n, 2) or None, label names)."""
    if (root / "labels.csv").is_file():
        from pyfacs.data.fer2013 import LABELS, load_fer2013_folder

        x, y = load_fer2013_folder(root, split)
        return x, y, None, LABELS
    from pyfacs.data.affectnet import LABELS, load_affectnet_opendr

    x, y, va = load_affectnet_opendr(root, "Training_Labeled" if split == "train" else "Validation")
    return x, y, va, LABELS


class FacialEmotionLearner:
    def __init__(self, lr=0.1, batch_size=32, temp_path="temp", device="cuda", device_ind=[0],  # noqa: B006
                 validation_interval=1, max_training_epoch=2, momentum=0.9, ensemble_size=9,
                 base_path_experiment="./experiments/", name_experiment="esr_9", dimensional_finetune=True,
                 categorical_train=False, base_path_to_dataset="./data/AffectNet", max_tuning_epoch=1,
                 diversify=False):
        self.torch = require_extra("torch", "train")
        self.lr, self.batch_size, self.momentum = lr, batch_size, momentum
        self.temp_path = Path(temp_path)
        self.device = device if device != "cuda" or self.torch.cuda.is_available() else "cpu"
        if self.device != device:
            log.warning("no CUDA device: FacialEmotionLearner runs on the CPU")
        self.device_ind = list(device_ind)
        self.validation_interval, self.max_training_epoch = validation_interval, max_training_epoch
        self.ensemble_size, self.diversify = ensemble_size, diversify
        self.base_path_experiment, self.name_experiment = Path(base_path_experiment), name_experiment
        self.dimensional_finetune, self.categorical_train = dimensional_finetune, categorical_train
        self.base_path_to_dataset, self.max_tuning_epoch = Path(base_path_to_dataset), max_tuning_epoch
        self.model = None
        self.ort_session = None
        self.labels: tuple[str, ...] = ()
        self.width = 16

    # -- model ------------------------------------------------------------------------------------
    def init_model(self, num_branches: int) -> None:
        from pyfacs.data.fer2013 import LABELS
        from pyfacs.expression.esr import ESR

        self.labels = self.labels or LABELS
        self.model = ESR(num_branches, n_classes=len(self.labels), width=self.width).to(self.device)

    def _config(self):
        from pyfacs.train.config import DataConfig, ModelConfig, OptimConfig, TrainConfig

        return TrainConfig(name=self.name_experiment, task="expression",
                           data=DataConfig(format="fer2013", root=str(self.base_path_to_dataset)),
                           model=ModelConfig(kind="esr", ensemble_size=self.ensemble_size, width=self.width,
                                             diversify=0.1 if self.diversify else 0.0),
                           optim=OptimConfig(epochs=self.max_training_epoch, batch_size=self.batch_size,
                                             lr=self.lr, optimizer="sgd", momentum=self.momentum))

    # -- training ---------------------------------------------------------------------------------
    def fit(self, train_images=None, train_labels=None) -> dict:
        """Categorical training (``categorical_train``), then valence/arousal fine-tuning of the
        dimensional layers (``dimensional_finetune``) where the data has it."""
        from pyfacs.train.expression import fit_esr

        x, y, va, self.labels = _load_dataset(self.base_path_to_dataset, "train") if train_images is None \
            else (np.asarray(train_images), np.asarray(train_labels), None, self.labels or _fer_labels())
        if self.model is None:
            self.init_model(self.ensemble_size)
        results = {}
        if self.categorical_train:
            fit_esr(self.model, x, y, self._config(), device=self.torch.device(self.device))
            results["categorical"] = "trained"
        if self.dimensional_finetune and va is not None:
            results["dimensional_loss"] = self._finetune_dimensional(x, va)
        return results

    def _finetune_dimensional(self, x: np.ndarray, va: np.ndarray) -> float:
        torch = self.torch
        for p in self.model.parameters():
            p.requires_grad_(False)
        params = [p for b in self.model.branches for p in b.fc_dimensional.parameters()]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)
        xt = torch.from_numpy(x.astype(np.float32) / 255.0 - 0.5).unsqueeze(1)
        target = torch.from_numpy(va.astype(np.float32))
        loss = torch.zeros(())
        for _ in range(self.max_tuning_epoch):
            for i in range(0, len(xt), self.batch_size):
                _, pred = self.model(xt[i:i + self.batch_size])
                loss = torch.nn.functional.mse_loss(pred, target[i:i + self.batch_size, None].expand_as(pred))
                opt.zero_grad()
                loss.backward()
                opt.step()
        for p in self.model.parameters():
            p.requires_grad_(True)
        return float(loss.detach())

    def eval(self, eval_type: str = "categorical", current_branch_on_training: int = 0,
             images=None, labels=None) -> dict:
        from pyfacs.train.expression import evaluate

        if images is None:
            images, labels, va, _ = _load_dataset(self.base_path_to_dataset, "val")
        if eval_type == "categorical":
            stats = evaluate(self.model, np.asarray(images), np.asarray(labels), self.torch.device(self.device))
            stats["current_branch_accuracy"] = stats["branch_accuracy"][current_branch_on_training]
            return stats
        if eval_type == "dimensional":
            _, _, va, _ = _load_dataset(self.base_path_to_dataset, "val")
            if va is None:
                raise InputError("this dataset has no valence/arousal labels; eval_type='dimensional' needs AffectNet")
            pred = self._run(np.asarray(images))[:, -2:]
            return {"valence_rmse": float(np.sqrt(((pred[:, 0] - va[:, 0]) ** 2).mean())),
                    "arousal_rmse": float(np.sqrt(((pred[:, 1] - va[:, 1]) ** 2).mean()))}
        raise InputError(f"eval_type must be 'categorical' or 'dimensional', not {eval_type!r}")

    # -- inference --------------------------------------------------------------------------------
    def _run(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float32) / 255.0 - 0.5
        x = x[:, None] if x.ndim == 3 else x
        if self.ort_session is not None:
            return self.ort_session.run(None, {"input": x})[0]
        from pyfacs.expression.esr import ESRVote

        self.model.eval()
        with self.torch.no_grad():
            return ESRVote(self.model)(self.torch.from_numpy(x)).numpy()

    def infer(self, input_batch) -> list[tuple[Category, tuple[float, float]]]:
        """One (Category, (valence, arousal)) per image: 48×48 grey arrays (or a batch, or a torch
        tensor of them)."""
        if hasattr(input_batch, "detach"):
            input_batch = input_batch.detach().cpu().numpy()
        if isinstance(input_batch, list):
            input_batch = np.stack([np.asarray(getattr(i, "data", i)) for i in input_batch])
        arr = np.asarray(getattr(input_batch, "data", input_batch))
        if arr.ndim == 2:
            arr = arr[None]
        if arr.dtype != np.uint8:  # tensors in [0, 1]
            arr = np.clip(arr * 255.0, 0, 255).astype(np.uint8)
        arr = arr.reshape(-1, arr.shape[-2], arr.shape[-1])
        out = self._run(arr)
        n = len(self.labels)
        return [(Category(int(p[:n].argmax()), self.labels[int(p[:n].argmax())], float(p[:n].max())),
                 (float(p[n]), float(p[n + 1]))) for p in out]

    # -- files ------------------------------------------------------------------------------------
    def save(self, state_dicts=None, base_path_to_save_model=None, current_branch_save=None) -> Path:
        folder = Path(base_path_to_save_model or self.base_path_experiment) / self.name_experiment
        folder.mkdir(parents=True, exist_ok=True)
        self.torch.save(state_dicts or self.model.state_dict(), folder / f"{self.name_experiment}.pt")
        meta = {"model_paths": [f"{self.name_experiment}.pt"], "framework": "pytorch", "format": "pt",
                "has_data": False, "inference_params": {"ensemble_size": len(self.model.branches),
                                                         "width": self.width, "labels": list(self.labels)},
                "optimized": self.ort_session is not None, "optimizer_info": {}}
        onnx_path = self.temp_path / f"{self.name_experiment}.onnx"
        if self.ort_session is not None and onnx_path.is_file():
            shutil.copy(onnx_path, folder / onnx_path.name)
            meta["model_paths"].append(onnx_path.name)
        (folder / f"{self.name_experiment}.json").write_text(json.dumps(meta, indent=2))
        return folder

    def load(self, ensemble_size=9, path_to_saved_network="./trained_models/esr_9",
             file_name_base_network="Net-Base-Shared_Representations.pt", file_name_conv_branch="Net-Branch_{}.pt",
             fix_backbone=True) -> None:
        """Load a model saved by :meth:`save` (``<name>.json`` + ``<name>.pt`` in the folder)."""
        folder = Path(path_to_saved_network)
        metas = sorted(folder.glob("*.json"))
        if not metas:
            raise InputError(f"{folder} holds no model metadata (.json); save a model there first")
        meta = json.loads(metas[0].read_text())
        params = meta["inference_params"]
        self.width, self.labels = params["width"], tuple(params["labels"])
        self.init_model(params.get("ensemble_size", ensemble_size))
        self.model.load_state_dict(self.torch.load(folder / meta["model_paths"][0], map_location=self.device,
                                                   weights_only=True))
        if fix_backbone:  # only the classifier layers stay trainable (for fine-tuning)
            for name, p in self.model.named_parameters():
                p.requires_grad_("fc" in name)

    def optimize(self, do_constant_folding: bool = False) -> float:
        """Export to ONNX (checked, parity with PyTorch within 1e-4); inference then runs on ONNX
        Runtime. Returns the measured max difference."""
        import onnxruntime as ort

        from pyfacs.expression.esr import ESRVote
        from pyfacs.export.onnx import export_onnx

        self.temp_path.mkdir(parents=True, exist_ok=True)
        path = self.temp_path / f"{self.name_experiment}.onnx"
        self.model.eval()
        diff = export_onnx(ESRVote(self.model), path, input_shape=(1, 1, 48, 48),
                           metadata={"name": self.name_experiment, "labels": list(self.labels)})
        self.ort_session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return diff

    @staticmethod
    def download(path=None, mode="pretrained", url=None) -> Path:
        """``mode="pretrained"``: the ESR model pyfacs ships (``esr9.fer2013``), copied to ``path``.
        Data downloads need the network, which pyfacs never touches for data: point
        ``base_path_to_dataset`` at a local copy instead."""
        if mode != "pretrained":
            raise ModelUnavailableError("pyfacs downloads no datasets; set base_path_to_dataset to a local copy")
        from pyfacs.models import get_model
        from pyfacs.models.hub import resolve_one

        src = resolve_one(get_model("esr9.fer2013"))
        dst = Path(path or "temp")
        dst.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(src, dst / src.name))


def _fer_labels():
    from pyfacs.data.fer2013 import LABELS

    return LABELS
