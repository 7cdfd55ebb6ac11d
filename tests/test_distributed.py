"""The training runner under torchrun: 2 CPU processes (DDP, gloo) give the model one process gives
for the same global batch (to float rounding)."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import au_sequence_config

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")


@pytest.mark.slow
def test_two_processes_train_the_same_model_as_one(tmp_path, face_video):
    rng = np.random.default_rng(0)
    labels = tmp_path / "labels.csv"
    rows = ["frame,AU01,AU12"] + [f"{i},{rng.integers(2)},{rng.integers(2)}" for i in range(50)]
    labels.write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(au_sequence_config(face_video, labels, model_extra="  dropout: 0.0\n  feature_noise: 0.3\n"))
    cli = ["-m", "pyfacs.cli", "train", str(cfg), "--run-dir"]
    one = subprocess.run([sys.executable, *cli, str(tmp_path / "one")], capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29533", *cli, str(tmp_path / "two")], capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("wrote") == 1, two.stdout  # rank 0 writes the run dir and says so; rank 1 is quiet
    for key in ("sequence", "per_frame"):
        a = np.load(tmp_path / "one" / f"{key}_test_probabilities.npy")
        b = np.load(tmp_path / "two" / f"{key}_test_probabilities.npy")
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-5
