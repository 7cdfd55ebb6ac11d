import hashlib

import pytest

from pyfacs.errors import InputError, ModelUnavailableError
from pyfacs.models import ModelFile, ModelSpec, get_model, list_models
from pyfacs.models.hub import resolve


def test_every_builtin_model_resolves_and_verifies():
    import os

    for spec in list_models():
        if spec.base_url and not os.environ.get("PYFACS_MODEL_MIRROR"):
            continue  # URL models need the ../shared/models mirror here (no network in tests)
        for path in resolve(spec):
            assert path.is_file()


def test_openface_au_files_are_pinned():
    spec = get_model("openface.au-2.2")
    assert len(spec.files) == 59 and all(len(f.sha256) == 64 for f in spec.files)
    assert "AU_predictors/tris_68_full.txt" in {f.path for f in spec.files}  # the face mask
    assert spec.base_url.endswith("OpenFace_2.2.0/lib/local/FaceAnalyser") and "non-commercial" in spec.licence


def test_unknown_model_name():
    with pytest.raises(InputError, match="known models"):
        get_model("nope.v1")
    assert {s.name for s in list_models("expression")} >= {"esr5.fer2013", "esr9.fer2013"}
    with pytest.raises(InputError, match="the tasks are au, expression"):
        list_models("expresion")


def _spec(tmp_path, content: bytes, sha: str) -> ModelSpec:
    (tmp_path / "mirror" / "toy").mkdir(parents=True, exist_ok=True)
    (tmp_path / "mirror" / "toy" / "w.bin").write_bytes(content)
    return ModelSpec(name="toy.v1", task="test", files=(ModelFile("w.bin", sha),), licence="MIT",
                     source="test", base_url="https://example.invalid/toy", mirror_dir="toy")


def test_mirror_is_read_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYFACS_MODEL_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    good = _spec(tmp_path, b"weights", hashlib.sha256(b"weights").hexdigest())
    assert resolve(good)[0].read_bytes() == b"weights"
    bad = _spec(tmp_path, b"tampered", hashlib.sha256(b"weights").hexdigest())
    with pytest.raises(ModelUnavailableError, match="SHA-256"):
        resolve(bad)


def test_offline_without_mirror_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYFACS_MODEL_MIRROR", raising=False)
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    spec = ModelSpec(name="toy.v2", task="test", files=(ModelFile("w.bin", "0" * 64),), licence="MIT",
                     source="test", base_url="https://example.invalid/toy", mirror_dir="toy")
    with pytest.raises(ModelUnavailableError, match="PYFACS_MODEL_MIRROR"):
        resolve(spec)


def test_a_damaged_cached_file_is_fetched_again_from_the_mirror(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYFACS_MODEL_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    spec = _spec(tmp_path, b"weights", hashlib.sha256(b"weights").hexdigest())
    cached = tmp_path / "cache" / "toy.v1" / "w.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a downl")
    assert resolve(spec)[0].read_bytes() == b"weights"
    assert not cached.exists() and "fetching it again" in caplog.text
    (tmp_path / "mirror" / "toy" / "w.bin").unlink()  # a mirror that lacks the file is named
    with pytest.raises(ModelUnavailableError, match=f"PYFACS_MODEL_MIRROR={tmp_path / 'mirror'} lacks toy/w.bin"):
        resolve(spec)
