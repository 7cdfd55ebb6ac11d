"""OpenDR's ``FacialEmotionLearner`` API (seed 003) over pyfacs's ESR and training code, so that
OpenDR users can switch with their code unchanged.

Differences, stated: the dataset at ``base_path_to_dataset`` may be FER2013 (image folders with
``labels.csv``) or AffectNet in OpenDR's pre-processed layout (``Training_Labeled/<k>/`` and
``Validation/<k>/`` with files ``<id>s<emotion>s<valence×1000>s<arousal×1000>.jpg``); ``device="cuda"``
falls back to the CPU when no GPU is present; the network sees 48×48 grey faces (FER-style): colour
and other sizes given to ``infer`` are converted (OpenDR's 96×96 colour tensors included; OpenDR
``Image``s are read as BGR, arrays and tensors as RGB); a ``Category``'s confidence is the ensemble's
mean probability of the class (OpenDR: a softmax over vote counts); valence and arousal are NaN unless
the model's dimensional layers were fine-tuned on data that has them (FER2013 has none, so the
pretrained model gives NaN: pyfacs outputs no number no data taught); ``download(mode="pretrained")``
gives pyfacs's own default model, trained on FER2013. OpenDR's own weights (96×96 colour networks)
cannot be loaded.
"""
from __future__ import annotations

import json
import logging
import pickle
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError, ModelUnavailableError, require_extra
from pyfacs.expression.face_inputs import as_faces

log = logging.getLogger(__name__)


class Category:
    """OpenDR's ``engine.target.Category``: the class index (``data``), its name and the confidence."""

    def __init__(self, prediction: int, description: str | None = None, confidence: float | None = None):
        self.data, self.description, self.confidence = prediction, description, confidence

    @property
    def prediction(self) -> int:
        return self.data

    def __eq__(self, other) -> bool:
        return isinstance(other, Category) and (self.data, self.description, self.confidence) == \
            (other.data, other.description, other.confidence)

    def __hash__(self) -> int:
        return hash((self.data, self.description, self.confidence))

    def __repr__(self) -> str:
        return f"Category(prediction={self.data!r}, description={self.description!r}, confidence={self.confidence!r})"

    def __str__(self) -> str:
        return str(self.description if self.description is not None else self.data)


def _load_dataset(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """(images (n, 48, 48) uint8, labels, valence/arousal (n, 2) or None, label names)."""
    if (root / "labels.csv").is_file():
        from pyfacs.data.fer2013 import LABELS, load_fer2013_folder

        x, y = load_fer2013_folder(root, split)
        return x, y, None, LABELS
    from pyfacs.data.affectnet import LABELS, load_affectnet_opendr

    if not root.is_dir():
        raise InputError(f"base_path_to_dataset {root} does not exist: give FER2013 image folders with "
                         "labels.csv, or AffectNet in OpenDR's layout")
    x, y, va = load_affectnet_opendr(root, "Training_Labeled" if split == "train" else "Validation")
    return x, y, va, LABELS


def _dataset_labels(root: Path) -> tuple[str, ...]:
    """The class names of the dataset at ``root`` without loading it (FER2013's when unknown)."""
    if not (root / "labels.csv").is_file() and any((root / d).is_dir() for d in ("Training_Labeled", "Validation")):
        from pyfacs.data.affectnet import LABELS

        return LABELS
    from pyfacs.data.fer2013 import LABELS

    return LABELS


class FacialEmotionLearner:
    def __init__(self, lr=0.1, batch_size=32, temp_path="temp", device="cuda", device_ind=[0],  # noqa: B006
                 validation_interval=1, max_training_epoch=2, momentum=0.9, ensemble_size=9,
                 base_path_experiment="./experiments/", name_experiment="esr_9", dimensional_finetune=True,
                 categorical_train=False, base_path_to_dataset="./data/AffectNet", max_tuning_epoch=1,
                 diversify=False):
        self.torch = require_extra("torch", "train")
        if str(device).split(":")[0] not in ("cpu", "cuda"):
            raise InputError(f"device must be 'cpu' or 'cuda', not {device!r}")
        self.lr, self.batch_size, self.momentum = lr, batch_size, momentum
        self.temp_path = Path(temp_path)
        self.device = device if device == "cpu" or self.torch.cuda.is_available() else "cpu"
        if self.device != device:
            log.warning("no CUDA device: FacialEmotionLearner runs on the CPU")
        self.device_ind = list(device_ind)
        self.validation_interval, self.max_training_epoch = validation_interval, max_training_epoch
        self.ensemble_size, self.diversify = ensemble_size, diversify
        self.base_path_experiment, self.name_experiment = Path(base_path_experiment), name_experiment
        self.dimensional_finetune, self.categorical_train = dimensional_finetune, categorical_train
        self.base_path_to_dataset, self.max_tuning_epoch = Path(base_path_to_dataset), max_tuning_epoch
        self.model = None
        self.ort_session = None  # set by optimize (or load of an optimized model): infer then runs it
        self._onnx_path: Path | None = None  # the file behind ort_session (save copies it)
        self.dimensional_trained = False  # valence/arousal layers fine-tuned on data that has them
        self.labels: tuple[str, ...] = ()
        self.width = 16

    # -- model ------------------------------------------------------------------------------------
    def init_model(self, num_branches: int) -> None:
        from pyfacs.expression.esr import ESR

        if not isinstance(num_branches, int) or isinstance(num_branches, bool) or num_branches < 1:
            raise InputError(f"the ensemble needs at least 1 branch, not {num_branches!r}")
        self.labels = _dataset_labels(self.base_path_to_dataset)  # a new network: the dataset's classes
        self.model = ESR(num_branches, n_classes=len(self.labels), width=self.width).to(self.device)
        self._drop_onnx()
        self.dimensional_trained = False

    def _drop_onnx(self) -> None:
        """Forget the ONNX export: it holds weights from before a change."""
        self.ort_session, self._onnx_path = None, None

    def _need_model(self) -> None:
        if self.model is None:
            raise InputError("no model yet: call init_model, fit or load first")

    def _n_classes(self) -> int:
        return self.model.branches[0].fc.out_features

    def _config(self):
        from pydantic import ValidationError

        from pyfacs.train.config import DataConfig, ModelConfig, OptimConfig, TrainConfig

        try:
            return TrainConfig(name=self.name_experiment, task="expression",
                               data=DataConfig(format="fer2013", root=str(self.base_path_to_dataset)),
                               model=ModelConfig(kind="esr", ensemble_size=self.ensemble_size, width=self.width,
                                                 diversify=0.1 if self.diversify else 0.0),
                               optim=OptimConfig(epochs=self.max_training_epoch, batch_size=self.batch_size,
                                                 lr=self.lr, optimizer="sgd", momentum=self.momentum))
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["loc"][-1] == "name":  # (it names the experiment's files)
                raise InputError(f"FacialEmotionLearner name_experiment {self.name_experiment!r}: it names files, "
                                 "so it cannot be empty, hold / or \\, or start with .") from None
            raise InputError(f"FacialEmotionLearner {first['loc'][-1]}: {first['msg']}") from None

    def _outputs(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The PyTorch model's per-branch probabilities (n, N, C) and valence/arousal (n, N, 2)."""
        torch = self.torch
        self.model.eval()
        probs, va = [], []
        with torch.no_grad():
            for i in range(0, len(faces), 256):
                x = torch.from_numpy(faces[i:i + 256].astype(np.float32) / 255.0 - 0.5)[:, None].to(self.device)
                logits, v = self.model(x)
                probs.append(torch.softmax(logits, -1).cpu().numpy())
                va.append(v.cpu().numpy())
        return np.concatenate(probs), np.concatenate(va)

    # -- training ---------------------------------------------------------------------------------
    def fit(self, train_images=None, train_labels=None) -> dict:
        """Categorical training (``categorical_train``), then valence/arousal fine-tuning of the
        dimensional layers (``dimensional_finetune``) where the data has it. ``train_images`` and
        ``train_labels`` (class indices) replace the dataset at ``base_path_to_dataset``."""
        from pyfacs.train.expression import fit_esr

        # batches of one: BatchNorm cannot train on them (the dimensional fine-tuning runs in eval mode)
        for key, least in (("batch_size", 2 if self.categorical_train else 1), ("max_tuning_epoch", 0)):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
                raise InputError(f"{key} must be a whole number, at least {least}, not {value!r}")
            setattr(self, key, int(value))
        if train_images is None:
            x, y, va, labels = _load_dataset(self.base_path_to_dataset, "train")
        else:
            if train_labels is None:
                raise InputError("fit(train_images) needs train_labels too: one class index per image")
            x, y, va = as_faces(train_images), np.asarray(train_labels), None
            if len(x) < 2:
                raise InputError(f"fit needs at least 2 images, not {len(x)}: the network's BatchNorm trains on batches")
            labels = self.labels or _dataset_labels(self.base_path_to_dataset)
            if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
                raise InputError(f"train_labels must be {len(x)} class indices (one per image), not {y.dtype} {y.shape}")
        if len(y) and not 0 <= y.min() <= y.max() < len(labels):
            raise InputError(f"labels must lie in 0..{len(labels) - 1} ({', '.join(labels)}), not {y.min()}..{y.max()}")
        dimensional = self.dimensional_finetune and va is not None and self.max_tuning_epoch > 0
        if not self.categorical_train and not dimensional:
            raise InputError("nothing to train: categorical_train is False and dimensional_finetune has no "
                             "valence/arousal in the data (or max_tuning_epoch is 0); set categorical_train=True")
        if len(x) < 2:
            raise InputError(f"{self.base_path_to_dataset} holds {len(x)} training image(s): fit needs at least 2")
        if self.model is not None and self.labels != labels:
            raise InputError(f"the model's classes ({', '.join(self.labels)}) are not the data's "
                             f"({', '.join(labels)}): call init_model (or load a model) for this dataset")
        cfg = self._config() if self.categorical_train else None  # (checked before anything changes)
        self.labels = labels
        if self.model is None:
            self.init_model(self.ensemble_size)
        self._drop_onnx()  # an ONNX export would hold the weights from before this training
        results = {}
        if self.categorical_train:
            fit_esr(self.model, x, y.astype(np.int64), cfg, device=self.torch.device(self.device))
            results["categorical"] = "trained"
        if dimensional:
            results["dimensional_loss"] = self._finetune_dimensional(x, va)
        return results

    def _finetune_dimensional(self, x: np.ndarray, va: np.ndarray) -> float:
        """Train the valence/arousal layers alone. The network stays in eval mode: in train mode its
        BatchNorm statistics would follow these batches and change the class outputs too."""
        torch = self.torch
        trainable = {name: p.requires_grad for name, p in self.model.named_parameters()}
        for p in self.model.parameters():
            p.requires_grad_(False)
        params = [p for b in self.model.branches for p in b.fc_dimensional.parameters()]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)
        xt = torch.from_numpy(x.astype(np.float32) / 255.0 - 0.5).unsqueeze(1)
        target = torch.from_numpy(va.astype(np.float32))
        loss = torch.zeros(())
        self.model.eval()
        for _ in range(self.max_tuning_epoch):
            for i in range(0, len(xt), self.batch_size):
                _, pred = self.model(xt[i:i + self.batch_size].to(self.device))
                goal = target[i:i + self.batch_size, None].to(self.device).expand_as(pred)
                loss = torch.nn.functional.mse_loss(pred, goal)
                opt.zero_grad()
                loss.backward()
                opt.step()
        for name, p in self.model.named_parameters():  # as before (load(fix_backbone=True) holds)
            p.requires_grad_(trainable[name])
        self.dimensional_trained = True
        return float(loss.detach().cpu())

    def eval(self, eval_type: str = "categorical", current_branch_on_training: int = 0,
             images=None, labels=None) -> dict:
        """Scores on the validation split (or on ``images`` with ``labels``: class indices, or (n, 2)
        valence/arousal for ``"dimensional"``). Besides pyfacs's keys, OpenDR's:
        ``running_emotion_corrects`` (per branch, then the ensemble), ``running_emotion_loss`` (per
        branch) and ``valence_arousal_losses`` ([valence RMSE per branch + ensemble, arousal ...])."""
        from pyfacs.train.expression import evaluate

        self._need_model()
        if eval_type not in ("categorical", "dimensional"):
            raise InputError(f"eval_type must be 'categorical' or 'dimensional', not {eval_type!r}")
        if not 0 <= current_branch_on_training < len(self.model.branches):
            raise InputError(f"current_branch_on_training must lie in 0..{len(self.model.branches) - 1}")
        if images is None:
            images, y, va, names = _load_dataset(self.base_path_to_dataset, "val")
            if names != self.labels:
                raise InputError(f"the model's classes ({', '.join(self.labels)}) are not those of "
                                 f"{self.base_path_to_dataset} ({', '.join(names)}): call init_model and fit, or load a model for it")
        elif labels is None:
            raise InputError("eval(images=...) needs labels=... too")
        else:
            images, y = as_faces(images), np.asarray(labels)
            va = y.astype(np.float32) if eval_type == "dimensional" else None
            if len(y) != len(images):
                raise InputError(f"{len(images)} images but {len(y)} labels")
            if eval_type == "categorical" and (y.ndim != 1 or y.dtype.kind not in "uif"
                                               or not np.array_equal(y, np.round(y))):
                raise InputError(f"categorical labels must be one class index per image, not {y.dtype} {y.shape}; "
                                 "valence/arousal (n, 2) go with eval_type='dimensional'")
        probs, branch_va = self._outputs(images)
        if eval_type == "categorical":
            y = y.astype(np.int64)
            if len(y) and not 0 <= y.min() <= y.max() < probs.shape[2]:
                raise InputError(f"labels must lie in 0..{probs.shape[2] - 1}, not {y.min()}..{y.max()}")
            stats = evaluate(self.model, images, y, self.torch.device(self.device))
            stats["current_branch_accuracy"] = stats["branch_accuracy"][current_branch_on_training]
            picked = probs[np.arange(len(y)), :, y]  # (n, N): each branch's probability of the truth
            stats["running_emotion_corrects"] = [int((probs[:, k].argmax(-1) == y).sum()) for k in range(probs.shape[1])] \
                + [int((probs.mean(1).argmax(-1) == y).sum())]
            stats["running_emotion_loss"] = [float(-np.log(np.maximum(picked[:, k], 1e-12)).mean())
                                             for k in range(probs.shape[1])]
            return stats
        if va is None or va.ndim != 2 or va.shape[1] != 2:
            raise InputError("eval_type='dimensional' needs valence/arousal labels (n, 2): AffectNet has them, FER2013 not")
        if not self.dimensional_trained:
            raise InputError("the model's valence/arousal layers were never trained (infer gives NaN): "
                             "fit with dimensional_finetune on data that has valence/arousal first")

        def rmse(pred: np.ndarray, k: int) -> float:
            return float(np.sqrt(((pred[:, k] - va[:, k]) ** 2).mean()))

        per_branch = [branch_va[:, b] for b in range(branch_va.shape[1])] + [branch_va.mean(1)]
        losses = [[rmse(p, 0) for p in per_branch], [rmse(p, 1) for p in per_branch]]
        return {"valence_rmse": losses[0][-1], "arousal_rmse": losses[1][-1], "valence_arousal_losses": losses}

    # -- inference --------------------------------------------------------------------------------
    def _run(self, faces: np.ndarray) -> np.ndarray:
        """(n, 48, 48) uint8 → (n, C + 2): the ensemble's probabilities, then valence and arousal."""
        if self.ort_session is not None:
            x = (faces.astype(np.float32) / 255.0 - 0.5)[:, None]
            out = self.ort_session.run(None, {"input": x})[0]
        else:
            probs, va = self._outputs(faces)
            out = np.concatenate([probs.mean(1), va.mean(1)], 1)
        if not self.dimensional_trained:  # untrained layers: their numbers would mean nothing
            out[:, -2:] = np.nan
        return out

    def infer(self, input_batch):
        """OpenDR's result: (one :class:`Category` per image, valence/arousal of each as a torch
        tensor (n, 2)). ``input_batch``: an image (path, OpenDR ``Image``, array) or a batch (list,
        tensor or array); see :func:`pyfacs.expression.face_inputs.as_faces` for the shapes and value ranges taken."""
        if self.ort_session is None:
            self._need_model()
        faces = as_faces(input_batch)
        if not len(faces):
            return [], self.torch.zeros((0, 2))
        out = self._run(faces)
        n = len(self.labels)
        cats = [Category(int(k), self.labels[int(k)], float(p[k])) for p, k in zip(out[:, :n], out[:, :n].argmax(1))]
        return cats, self.torch.from_numpy(np.ascontiguousarray(out[:, n:n + 2], dtype=np.float32))

    # -- files ------------------------------------------------------------------------------------
    def save(self, state_dicts=None, base_path_to_save_model=None, current_branch_save=None) -> Path:
        """``<name>.pt`` and ``<name>.json`` (and ``<name>.onnx`` after :meth:`optimize`) in
        ``base_path_to_save_model`` (default ``base_path_experiment``): the folder :meth:`load` takes.
        ``state_dicts``: the model's (``learner.model.to_state_dict()``, as OpenDR's examples pass it)
        or left out; ``current_branch_save`` is accepted and not needed (the whole ensemble is saved)."""
        self._need_model()
        if state_dicts is not None and not isinstance(state_dicts, dict):
            raise InputError("state_dicts must be the model's state dict (learner.model.to_state_dict()), not "
                             f"{type(state_dicts).__name__}: OpenDR's list of per-part dicts has no counterpart here")
        folder = Path(base_path_to_save_model or self.base_path_experiment)
        meta = _metadata(f"{self.name_experiment}.pt", len(self.model.branches), self.width, self.labels,
                         diversify=self.diversify, dimensional=self.dimensional_trained)
        with _writing(folder, "save the model"):
            folder.mkdir(parents=True, exist_ok=True)
        # each file whole or not at all: a full disk must not cut short a model saved there before
        _save(folder / f"{self.name_experiment}.pt", lambda f: self.torch.save(state_dicts or self.model.state_dict(), f))
        if self.ort_session is not None and self._onnx_path is not None and self._onnx_path.is_file():
            onnx_path = folder / f"{self.name_experiment}.onnx"
            if self._onnx_path.resolve() != onnx_path.resolve():
                _save(onnx_path, lambda f: f.write(self._onnx_path.read_bytes()))
            meta["model_paths"].append(onnx_path.name)
            meta["optimized"], meta["format"] = True, "onnx"
        _save(folder / f"{self.name_experiment}.json", lambda f: f.write(json.dumps(meta, indent=2).encode()))
        return folder

    def load(self, ensemble_size=9, path_to_saved_network="./trained_models/esr_9",
             file_name_base_network="Net-Base-Shared_Representations.pt", file_name_conv_branch="Net-Branch_{}.pt",
             fix_backbone=True) -> None:
        """Load a model saved by :meth:`save` or :meth:`download` (a folder with ``<name>.json`` +
        ``<name>.pt``, or that .json): its first ``ensemble_size`` branches (all it has if fewer), as
        OpenDR does; an ONNX model saved beside it is loaded for inference too when all branches are."""
        from pyfacs.expression.esr import ESR, load_weights

        path = Path(path_to_saved_network)
        if path.is_dir() and (path / file_name_base_network).is_file():
            raise InputError(f"{path} holds OpenDR's own ESR weights ({file_name_base_network}): those networks take "
                             "96×96 colour faces and pyfacs's 48×48 grey ones cannot load them; use download() "
                             "or train with fit()")
        metas = [path] if path.suffix == ".json" and path.is_file() else sorted(path.glob("*.json"))
        if not metas:
            raise InputError(f"{path} holds no model metadata (.json); save a model there first")
        if len(metas) > 1:  # several models in one folder: OpenDR loads <name_experiment>.json
            metas = [m for m in metas if m.stem == self.name_experiment]
            if not metas:
                raise InputError(f"{path} holds several models and none named {self.name_experiment!r} "
                                 "(name_experiment); give the .json to load")
        folder = metas[0].parent
        try:
            meta = json.loads(metas[0].read_text())
            params, files = meta["inference_params"], meta["model_paths"]
            width, labels = int(params["width"]), tuple(params["labels"])
            saved = int(params["ensemble_size"])
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{metas[0]} is not the metadata of a saved FacialEmotionLearner model") from None
        if not isinstance(ensemble_size, int) or ensemble_size < 1:
            raise InputError(f"ensemble_size must be a whole number of branches, at least 1, not {ensemble_size!r}")
        # everything is built and checked before any of it replaces the learner's model: a failed
        # load leaves the learner as it was
        model = ESR(min(ensemble_size, saved), n_classes=len(labels), width=width)
        weights = folder / files[0]
        try:
            load_weights(model, weights)
        except pickle.UnpicklingError:
            raise InputError(f"cannot load {weights}: it is not a weights file saved by save() or download()") from None
        except (ValueError, OSError, RuntimeError, EOFError) as exc:
            raise InputError(f"cannot load {weights}: {str(exc).splitlines()[0] or type(exc).__name__}") from None
        session, onnx_file = None, next((folder / f for f in files if f.endswith(".onnx")), None)
        if onnx_file is not None and onnx_file.is_file() and len(model.branches) == saved:
            import onnxruntime as ort

            try:
                session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime's own exception types (a damaged file)
                raise InputError(f"cannot load {onnx_file}: {str(exc).splitlines()[0]}") from None
        self.width, self.labels, self.ensemble_size = width, labels, len(model.branches)
        self.diversify = bool(params.get("diversify", self.diversify))
        self.model = model.to(self.device)
        self.dimensional_trained = bool(params.get("dimensional", False))
        if fix_backbone:  # only the classifier layers stay trainable (for fine-tuning)
            for name, p in self.model.named_parameters():
                p.requires_grad_("fc" in name)
        self.ort_session, self._onnx_path = session, onnx_file if session is not None else None

    def optimize(self, do_constant_folding: bool = False) -> float:
        """Export to ONNX (checked, parity with PyTorch within 1e-4); inference then runs on ONNX
        Runtime. Returns the measured max difference."""
        import onnxruntime as ort

        from pyfacs.expression.esr import ESRVote
        from pyfacs.export.onnx import export_onnx

        self._need_model()
        path = self.temp_path / f"{self.name_experiment}.onnx"
        self.model.eval()
        try:
            with _writing(self.temp_path, "export the model (temp_path)"):
                self.temp_path.mkdir(parents=True, exist_ok=True)
                diff = export_onnx(ESRVote(self.model.cpu()), path, input_shape=(1, 1, 48, 48),
                                   metadata={"name": self.name_experiment, "labels": list(self.labels)})
        finally:
            self.model.to(self.device)
        self.ort_session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self._onnx_path = path
        return diff

    def download(self, path=None, mode="pretrained", url=None) -> Path:
        """``mode="pretrained"``: pyfacs's default expression model (trained on FER2013, from the
        package or the model mirror) as a folder :meth:`load` takes, ``<path>/pretrained/<name>``
        (``path`` defaults to ``temp_path``). pyfacs downloads no datasets or demo media: point
        ``base_path_to_dataset`` at a local copy instead."""
        if mode != "pretrained":
            raise ModelUnavailableError(f"pyfacs downloads no {mode!r}: only mode='pretrained' (its own model); "
                                        "set base_path_to_dataset to a local copy of the data")
        from pyfacs.expression.esr import shipped_weights
        from pyfacs.expression.heads import DEFAULT_EXPRESSION_HEAD
        from pyfacs.models import get_model

        spec = get_model(DEFAULT_EXPRESSION_HEAD)
        folder = Path(path or self.temp_path) / "pretrained" / spec.name
        weights = shipped_weights(spec.name)
        # trained on FER2013 alone: no valence/arousal was ever taught
        meta = _metadata(weights.name, spec.extra["ensemble_size"], spec.extra["width"], spec.labels)
        with _writing(folder, "download the model"):
            folder.mkdir(parents=True, exist_ok=True)
        _save(folder / weights.name, lambda f: f.write(weights.read_bytes()))
        _save(folder / f"{spec.name}.json", lambda f: f.write(json.dumps(meta, indent=2).encode()))
        return folder


def _save(path: Path, write) -> None:
    from pyfacs.train.budget import save_atomically

    save_atomically(path, write, advice="choose a folder you can write to, or free some space")


@contextmanager
def _writing(folder: Path, what: str):
    """A failed write (unwritable or full disk, a file where a folder should be) as one line."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot {what} into {folder} ({reason}): choose a folder you can write to") from None


def _metadata(weights: str, ensemble_size: int, width: int, labels, *, diversify: bool = False,
              dimensional: bool = False) -> dict:
    """OpenDR's model metadata (.json beside the weights), with what pyfacs needs to rebuild the net
    and whether its valence/arousal layers were ever trained (``dimensional``)."""
    return {"model_paths": [weights], "framework": "pytorch", "format": "pt", "has_data": False,
            "inference_params": {"ensemble_size": ensemble_size, "width": width, "labels": list(labels),
                                 "diversify": diversify, "dimensional": dimensional},
            "optimized": False, "optimizer_info": {}}
