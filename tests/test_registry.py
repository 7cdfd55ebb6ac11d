import hashlib
import http.client
import io
import os

import pytest

from pyfacs.errors import InputError, ModelUnavailableError
from pyfacs.models import ModelFile, ModelSpec, get_model, list_models
from pyfacs.models.hub import resolve


def test_every_builtin_model_resolves_and_verifies():
    for spec in list_models():
        if spec.base_url and not os.environ.get("PYFACS_MODEL_MIRROR"):
            continue  # URL models need the ../shared/models mirror here (no network in tests)
        for path in resolve(spec):
            assert path.is_file()


def test_openface_au_files_are_pinned():
    spec = get_model("openface.au-2.2")
    assert len(spec.files) == 60 and all(len(f.sha256) == 64 for f in spec.files)
    assert "AU_predictors/tris_68_full.txt" in {f.path for f in spec.files}  # the face mask
    assert spec.base_url.endswith("OpenFace_2.2.0/lib/local/FaceAnalyser") and "non-commercial" in spec.licence


def test_every_file_openfaces_au_lists_name_is_pinned():
    from conftest import shared_path

    lists = shared_path("models", "openface-2.2.0", "AU_predictors")
    named = {f"AU_predictors/{line.split()[0]}" for name in ("AU_all_best.txt", "AU_all_static.txt")
             for line in (lists / name).read_text().splitlines() if line.strip()}
    assert len(named) == 56 and named <= {f.path for f in get_model("openface.au-2.2").files}


def test_openface_au_from_the_cache_alone(tmp_path, monkeypatch, astronaut):
    """Downloaded files land in the cache, which holds only what is pinned: the static models (for
    images) must find every file there, not only when the whole mirror is read in place."""
    import urllib.request

    from conftest import shared_path

    from pyfacs import Analyzer

    mirror = shared_path("models", "openface-2.2.0")
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYFACS_MODEL_MIRROR", raising=False)
    monkeypatch.setenv("PYFACS_OFFLINE", "0")
    monkeypatch.setattr(urllib.request, "urlopen",  # the canonical URLs, answered from the mirror's bytes
                        lambda url, timeout: _Response((mirror / url.split("/FaceAnalyser/")[1]).read_bytes()))
    rows = Analyzer(au_model="openface.au-2.2").frame_table(astronaut)
    assert rows["AU12_r"].notna().all() and (tmp_path / "cache" / "openface.au-2.2").is_dir()


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


def _two_files(tmp_path, in_mirror: list[str]) -> ModelSpec:
    """A model of two files read relative to each other, with the mirror holding ``in_mirror``."""
    for name in in_mirror:
        (tmp_path / "mirror" / "toy" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mirror" / "toy" / name).write_bytes(name.encode())
    files = tuple(ModelFile(n, hashlib.sha256(n.encode()).hexdigest()) for n in ("a.bin", "b.bin"))
    return ModelSpec(name="toy.v3", task="test", files=files, licence="MIT", source="test",
                     base_url="https://example.invalid/toy", mirror_dir="toy")


def test_a_damaged_cached_file_is_fetched_again_and_a_models_files_stay_together(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYFACS_MODEL_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    cache = tmp_path / "cache" / "toy.v3"
    cache.mkdir(parents=True)
    (cache / "a.bin").write_bytes(b"a.bin")
    (cache / "b.bin").write_bytes(b"half a downl")
    # the mirror lacks a.bin: b.bin is fetched again from it into the cache, beside a.bin
    spec = _two_files(tmp_path, ["b.bin"])
    paths = resolve(spec)
    assert paths == [cache / "a.bin", cache / "b.bin"] and paths[1].read_bytes() == b"b.bin"
    assert "fetching it again" in caplog.text and sorted(p.name for p in cache.iterdir()) == ["a.bin", "b.bin"]
    assert _readable_by_all(cache / "b.bin")
    # a mirror with good copies of all of them is read in place, all of them (never half from the cache)
    (cache / "b.bin").write_bytes(b"damaged")
    paths = resolve(_two_files(tmp_path, ["a.bin", "b.bin"]))
    assert {p.parent for p in paths} == {tmp_path / "mirror" / "toy"}
    # one bad copy in the mirror: each file from the cache first, and a good cache is not refused
    (cache / "b.bin").write_bytes(b"b.bin")
    (tmp_path / "mirror" / "toy" / "a.bin").write_bytes(b"stale")
    assert resolve(spec) == [cache / "a.bin", cache / "b.bin"]
    (cache / "b.bin").write_bytes(b"damaged")
    (tmp_path / "mirror" / "toy" / "a.bin").unlink()
    (tmp_path / "mirror" / "toy" / "b.bin").unlink()  # a mirror that lacks the file is named
    with pytest.raises(ModelUnavailableError, match=f"PYFACS_MODEL_MIRROR={tmp_path / 'mirror'} lacks toy/b.bin"):
        resolve(spec)
    assert not (cache / "b.bin").exists()


def _readable_by_all(path) -> bool:
    """Mode 0o644 less the umask, as any new file (not mkstemp's private 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return path.stat().st_mode & 0o777 == 0o644 & ~umask


class _Response(io.BytesIO):
    def __init__(self, data: bytes, cut: bool = False):
        super().__init__(data)
        self.cut = cut

    def read(self, *args):
        if self.cut:
            raise http.client.IncompleteRead(b"part")
        return super().read(*args)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_downloads_leave_nothing_half_written_and_say_what_to_do(tmp_path, monkeypatch):
    import urllib.request

    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYFACS_MODEL_MIRROR", raising=False)
    monkeypatch.setenv("PYFACS_OFFLINE", "0")
    spec = _two_files(tmp_path, [])
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(b"", cut=True))
    with pytest.raises(ModelUnavailableError, match="could not download .*a.bin.*PYFACS_MODEL_MIRROR"):
        resolve(spec)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # no partial file left
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(url.rsplit("/", 1)[1].encode()))
    paths = resolve(spec)
    assert [p.read_bytes() for p in paths] == [b"a.bin", b"b.bin"] and _readable_by_all(paths[0])
    (tmp_path / "blocker").write_text("a file where the cache should go")
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "blocker" / "cache"))
    with pytest.raises(ModelUnavailableError, match="cannot write to the model cache .*set PYFACS_HOME"):
        resolve(spec)
    # a partial mirror is no way round an unwritable cache: its files would lie in two folders
    monkeypatch.setenv("PYFACS_MODEL_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    _two_files(tmp_path, ["a.bin"])
    with pytest.raises(ModelUnavailableError, match="cannot write to the model cache"):
        resolve(spec)


def test_a_changed_package_file_says_to_reinstall_or_pin_the_new_hash():
    spec = ModelSpec(name="toy.v4", task="test", licence="MIT", source="test",
                     files=(ModelFile("models/data/esr5.fer2013.onnx", "0" * 64, "pyfacs"),))
    with pytest.raises(ModelUnavailableError, match="reinstall pyfacs .*registry.py"):
        resolve(spec)


def test_a_stalled_download_gives_up_at_its_deadline(tmp_path, monkeypatch):
    import time
    import urllib.request

    from pyfacs.models import hub

    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYFACS_MODEL_MIRROR", raising=False)
    monkeypatch.setenv("PYFACS_OFFLINE", "0")
    monkeypatch.setattr(hub, "DOWNLOAD_DEADLINE_S", 0.3)
    def trickling(url, timeout):  # a proxy that sends a byte now and then: no read ever times out
        time.sleep(5)
        raise TimeoutError("only now")

    monkeypatch.setattr(urllib.request, "urlopen", trickling)
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="no complete answer within 0.3 s.*PYFACS_MODEL_MIRROR"):
        resolve(_two_files(tmp_path, []))
    assert time.monotonic() - start < 3


def test_cache_and_mirror_troubles_are_one_line_with_a_fix(tmp_path, monkeypatch):
    import time
    import urllib.request

    from pyfacs.models import hub

    monkeypatch.setenv("PYFACS_HOME", "")  # empty is unset: not the current folder
    assert hub.cache_dir() == hub.Path.home() / ".cache" / "pyfacs"
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYFACS_MODEL_MIRROR", raising=False)
    monkeypatch.setenv("PYFACS_OFFLINE", "0")
    spec = _two_files(tmp_path, [])
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(b"<html>log in</html>"))
    with pytest.raises(ModelUnavailableError, match="did not match its pinned SHA-256.*proxy.*PYFACS_MODEL_MIRROR"):
        resolve(spec)
    cache = tmp_path / "cache" / "toy.v3"
    stale, fresh = cache / ".part-1-left-by-a-killed-process", cache / ".part-2-being-written"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200,) * 2)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(url.rsplit("/", 1)[1].encode()))
    paths = resolve(spec)
    assert not stale.exists() and fresh.exists()

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(hub, "sha256_of", refused)
    hub._verified_once.cache_clear()
    with pytest.raises(ModelUnavailableError, match=f"cannot read {paths[0]} .Permission denied.; fix its perm"):
        resolve(spec)
    monkeypatch.undo()
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    monkeypatch.setenv("PYFACS_MODEL_MIRROR", str(tmp_path / "no-such-mirror"))
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "other-cache"))
    with pytest.raises(ModelUnavailableError, match="no-such-mirror is not a folder"):
        resolve(spec)
    monkeypatch.setenv("PYFACS_OFFLINE", "0")  # online, and the download fails: the mirror is named too
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(b"", cut=True))
    with pytest.raises(ModelUnavailableError, match="could not download .*no-such-mirror is not a folder"):
        resolve(spec)


def test_a_file_changed_under_the_same_mtime_is_hashed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYFACS_MODEL_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    spec = _two_files(tmp_path, ["a.bin", "b.bin"])
    resolve(spec)
    weights = tmp_path / "mirror" / "toy" / "a.bin"
    st = weights.stat()
    weights.write_bytes(b"EVIL!")  # same size, and the old mtime put back (cp -p, rsync -t)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ModelUnavailableError, match="SHA-256"):
        resolve(spec)
