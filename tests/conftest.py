"""Shared fixtures. Test media are made from scikit-image's astronaut photo, so the default suite
needs nothing but the installed dependencies; tests on ../shared data are marked ``data`` and skip
with a reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# ../shared beside the checkout; PYFACS_TEST_SHARED points elsewhere (CI sets a missing folder for a
# second pass, to prove the suite passes where the data is absent)
SHARED = Path(os.environ.get("PYFACS_TEST_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is absent: this test reads ../shared, which only developers and CI have")
    return p


@pytest.fixture(autouse=True, scope="session")
def _offline_models():
    """No network during tests: models come from installed packages or the ../shared mirror."""
    os.environ["PYFACS_OFFLINE"] = "1"
    if (SHARED / "models").is_dir():
        os.environ.setdefault("PYFACS_MODEL_MIRROR", str(SHARED / "models"))


def au_sequence_config(video, labels, *, fraction: float = 0.7, d_model: int = 16, epochs: int = 3,
                       model_extra: str = "", tail: str = "") -> str:
    """A small ``task: au-sequence`` training config for a video and its label CSV."""
    return (f"name: seq\ntask: au-sequence\nseed: 0\ndata:\n  format: video-labels\n  video: {video}\n"
            f"  labels: {labels}\n  train_fraction: {fraction}\nmodel:\n  kind: au-sequence\n  window: 3\n"
            f"  d_model: {d_model}\n  layers: 1\n{model_extra}optim:\n  epochs: {epochs}\n  batch_size: 8\n{tail}")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()  # 512x512 RGB, one frontal face


@pytest.fixture(scope="session")
def analyzer():
    from pyfacs import Analyzer

    return Analyzer()


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    import av

    with av.open(str(path), mode="w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


@pytest.fixture(scope="session")
def face_video(tmp_path_factory, astronaut) -> Path:
    """2 s of the astronaut sliding sideways, then 10 frames of blank wall (no face)."""
    frames = [np.roll(astronaut, 4 * i, axis=1) for i in range(40)]
    frames += [np.full_like(astronaut, 128) for _ in range(10)]
    return write_video(tmp_path_factory.mktemp("vid") / "astronaut.mp4", frames)
