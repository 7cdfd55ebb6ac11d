"""Corpus processing: every video of a folder (or a list file) becomes one Parquet file in an output
folder, with a manifest line per finished file (status, frames, faces, people, error, seconds, model
hashes).

Restartable: a file is written under a temporary name and renamed when complete, so a crash loses at
most the files in progress, and a new run skips every file whose Parquet exists — if it asks for the
same analysis (options and models, as its tables' metadata says): a folder never mixes two kinds.
Engines (:mod:`pyfacs.distributed.engines`): ``local`` (one process, or ``workers`` processes) and
``ray`` (Ray actors on a local or existing cluster); either way each worker builds its models once and
analyses file after file with them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from pyfacs.errors import InputError

# names starting with "_" are skipped by pyarrow, so pd.read_parquet(folder) reads the tables only
MANIFEST = "_manifest.jsonl"
LOCK = "_running"  # locked by the run writing to the folder, which it names


@dataclass
class FileResult:
    source: str
    output: str | None  # (None: no table was kept; an error's is redone on the next run)
    status: str  # "ok" | "error"
    frames: int = 0
    faces: int = 0
    people: int = 0
    error: str | None = None
    seconds: float = 0.0
    models: dict | None = None


def corpus_inputs(source: str | Path) -> list[Path]:
    """The videos of a folder (recursively, sorted) or of a text file listing one path per line."""
    from pyfacs.io.media import VIDEO_EXTS, is_video, walk_files

    source = Path(source)
    if source.is_dir():  # (hidden files skipped and linked folders followed, as a user sees the folder)
        videos = [p for p in walk_files(source) if p.suffix.lower() in VIDEO_EXTS]
    elif source.is_file() and is_video(source):
        videos = [source]
    elif source.is_file():
        try:  # (utf-8-sig: a list saved by Notepad or PowerShell starts with a byte-order mark)
            text = source.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{source} is neither a video nor a text file listing videos") from None
        lines = [(n, ln) for n, ln in enumerate(map(str.strip, text.splitlines()), 1) if ln and not ln.startswith("#")]
        videos = [(source.parent / ln).resolve() if not Path(ln).is_absolute() else Path(ln) for _, ln in lines]
        for (n, ln), video in zip(lines, videos):
            if video.suffix.lower() not in VIDEO_EXTS or video.is_dir():
                raise InputError(f"{source}, line {n}: {ln} is not a video file; a corpus list names one video "
                                 "per line (analyse images and folders of frames with pyfacs analyze)")
    else:
        raise InputError(f"{source} does not exist; give a folder of videos or a text file listing them")
    if not videos:
        raise InputError(f"no videos in {source}")
    return videos


def output_name(video: Path) -> str:
    """``<stem>.<8 hex of the absolute path>.parquet``: unique when two folders hold the same name.
    Of the file itself: a symbolic link's table is its target's (the workers are given resolved paths)."""
    video = video.resolve()
    digest = hashlib.sha1(os.fsencode(video)).hexdigest()[:8]  # (fsencode: names that are not UTF-8 too)
    # the stem as UTF-8 text, cut where the name, its ".part" or the writability probe beside it
    # (".<name>.<8 random>.probe") would pass a file system's 255 bytes; shorter stems keep the names of
    # earlier versions, so their finished tables are still found
    stem = os.fsencode(video.stem)[:_STEM_BYTES].decode("utf-8", "ignore")
    if stem[:1] in ("", ".", "_"):  # (a table named ".x" or "_x" would be skipped by pandas.read_parquet(folder))
        stem = "video" + stem
    return f"{stem}.{digest}.parquet"


_STEM_BYTES = 255 - len(".01234567.parquet") - len("..01234567.probe")  # 222


# what a run leaves in progress: "<output_name>.part" (a user's own *.parquet.part is not ours)
_OUR_PART = re.compile(r".*\.[0-9a-f]{8}\.parquet\.part")


class CorpusWorker:
    """One worker: an Analyzer built once (or given), then one video after another."""

    def __init__(self, options: dict, analyzer=None):
        from pyfacs.pipeline import Analyzer

        self.analyzer = analyzer or Analyzer(**options)

    def process(self, video: str, out_dir: str) -> dict:
        import pandas as pd

        from pyfacs.io.sinks import StagedSink
        from pyfacs.pipeline import SourceError

        out = Path(out_dir) / output_name(Path(video))
        counts = {"frames": 0, "faces": 0}
        people: set = set()
        t = time.perf_counter()
        meta = self.analyzer.metadata
        meta["options"]["every"] = 1  # (a corpus analyses every frame)
        sink = None

        def on_table(df: pd.DataFrame) -> None:
            sink.write(df)
            counts["frames"] += int(df["frame"].nunique())
            faces = df["face_id"].dropna()
            counts["faces"] += len(faces)
            people.update(faces.astype(int))

        errors = None
        try:
            sink = StagedSink(out, self.analyzer.columns, meta)  # (in the try: a file it cannot make fails this video only)
            errors = self.analyzer.run([video], on_table=on_table)
        except InputError as exc:  # a listed file that is missing: recorded like a broken one, the run goes on
            errors = [SourceError(video, str(exc))]
        except Exception as exc:  # noqa: BLE001 - an internal error in one file must not end the corpus
            errors = [SourceError(video, f"{video}: unexpected {type(exc).__name__} ({exc}); "
                                         f"the other videos go on; please report this")]
        finally:
            # complete: put in place by the run when it records the result (a table stopped before that is redone)
            if sink is not None:
                sink.close(keep=errors == [], place=False)
        models = {k: v.get("sha256") for k, v in meta.items() if isinstance(v, dict) and "sha256" in v}
        result = FileResult(video, None if errors else str(out), "error" if errors else "ok", counts["frames"],
                            counts["faces"], len(people), errors[0].message if errors else None,
                            round(time.perf_counter() - t, 2), models)
        return asdict(result)


def failed(video: str, reason: str) -> dict:
    """The manifest line of a video whose worker failed (a process killed, e.g. out of memory)."""
    return asdict(FileResult(video, None, "error",
                             error=f"{video}: {reason}; it is redone on the next run"))


def _done(out_dir: Path) -> set[str]:
    return {p.name for p in out_dir.glob("*.parquet")}


def analyze_corpus(source: str | Path | list[Path], out_dir: str | Path, *, engine: str = "local", workers: int = 1,
                   options: dict | None = None, on_result=None) -> list[dict]:
    """Analyse every video not done yet (``source``: a folder, a list file, or the videos
    :func:`corpus_inputs` found); returns this run's results (also appended to the manifest)."""
    from pyfacs.distributed.engines import run_local, run_ray
    from pyfacs.io.sinks import check_writable, part_path
    from pyfacs.pipeline import Analyzer

    videos = source if isinstance(source, list) else corpus_inputs(source)
    options = options or {}
    check_options(options, engine)  # (the workers build the heads: a typo would fail in each, after the mkdir)
    out_dir = Path(out_dir).expanduser().resolve()  # (Ray workers on other machines see absolute paths only)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # (FileExistsError too: a file by that name)
        raise InputError(f"cannot use {out_dir} as the output folder ({exc.strerror or exc}); "
                         "choose another --output") from None
    check_writable(out_dir / MANIFEST, "--output")
    # "auto" resolved once, here: every worker and every later run then makes the same kind of table
    analyzer = Analyzer(**options)
    resolved = options | {"au_model": analyzer.au_head.name if analyzer.au_head else None,
                          "expression_model": analyzer.expression_head.name if analyzer.expression_head else None}
    metadata = analyzer.metadata
    if engine != "local" or workers > 1:
        analyzer = None  # (the workers build their own; its models need not stay in memory here)
    with _folder_lock(out_dir):
        legacy = out_dir / "manifest.jsonl"  # (its name in earlier versions)
        if legacy.is_file() and not (out_dir / MANIFEST).exists() and _is_manifest(legacy):
            legacy.rename(out_dir / MANIFEST)
        _check_same_analysis(out_dir, metadata)
        for stale in out_dir.glob("*.parquet.part"):  # a crash's leftovers (no other run is writing: locked)
            if _OUR_PART.fullmatch(stale.name):
                stale.unlink()
        done = _done(out_dir)
        todo = list(dict.fromkeys(str(v.resolve()) for v in videos if output_name(v) not in done))  # (once each)
        results: list[dict] = []

        def record(r: dict) -> None:
            results.append(r)
            with open(out_dir / MANIFEST, "a") as f:
                f.write(json.dumps(r) + "\n")
            if r["status"] == "ok":  # only now does the table count as done: never one the manifest lacks
                os.replace(part_path(Path(r["output"])), r["output"])  # (stopped in between: redone next run)
            if on_result:
                on_result(r, len(results), len(todo))

        if todo:
            if engine == "local":
                run_local(todo, out_dir, workers, resolved, record, analyzer=analyzer)
            else:
                run_ray(todo, out_dir, workers, resolved, record)
    return results


def _is_manifest(path: Path) -> bool:
    """Written by pyfacs: its first line is a file's result (a user's own manifest.jsonl is not ours to move)."""
    try:
        with open(path) as f:
            first = json.loads(f.readline())
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and {"source", "status", "frames"} <= first.keys()


def _analysis(meta: dict) -> dict:
    """What makes two tables of the same kind: the options and every model's hashes."""
    out = {k: v for k, v in meta.items() if k in ("models", "options", "au_model", "expression_model")}
    out["options"] = {k: v for k, v in out.get("options", {}).items() if k != "every"}
    return json.loads(json.dumps(out))  # (as read back from a file: lists, not tuples)


def _check_same_analysis(out_dir: Path, meta: dict) -> None:
    """Refuse a resume that asks for another analysis than the folder's tables hold (their Parquet
    metadata says which): a folder of some tables with OpenFace AUs and some without is no corpus."""
    import pyarrow.parquet as pq

    for table in sorted(out_dir.glob("*.parquet")):
        try:
            have = _analysis(json.loads(pq.read_schema(table).metadata[b"pyfacs"]))
        except (OSError, KeyError, TypeError, ValueError):  # not one of ours, or unreadable: try the next
            continue
        want = _analysis(meta)
        diff = [k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)]
        if diff:
            names = [(have.get(k) or {}).get("name", "none") for k in ("au_model", "expression_model")]
            raise InputError(f"{out_dir} holds tables of another analysis ({table.name}: AU model {names[0]}, "
                             f"expression model {names[1]}; this run differs in {', '.join(diff)}); resume with "
                             f"the same options and models, or choose another --output")
        return


@contextmanager
def _folder_lock(out_dir: Path) -> Iterator[None]:
    """One run at a time writes to a folder (a second would delete the first's files in progress).
    An OS lock (flock) on ``_running``: released by the system when its process ends however it ends,
    so a killed run leaves nothing to clean up; the file names the holder for the message."""
    try:
        import fcntl
    except ImportError:  # (Windows: no flock; runs there are not guarded)
        yield
        return
    lock = out_dir / LOCK
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            owner = f.read().strip() or "unknown"
            raise InputError(f"another analyze-corpus run ({owner}) is writing to {out_dir}; wait for it to end "
                             f"or stop it, then run again") from None
        f.seek(0)
        f.truncate()
        f.write(f"{socket.gethostname()} pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()  # (the file stays: removing it would let a third run lock a new one meanwhile)
            fcntl.flock(f, fcntl.LOCK_UN)


def check_options(options: dict, engine: str = "local") -> None:
    """The run's engine and analysis options, checked before any folder is made or worker started."""
    from pyfacs.au.heads import AU_HEADS
    from pyfacs.expression.heads import EXPRESSION_HEADS

    if engine not in ("local", "ray"):
        raise InputError(f"--engine must be local or ray, not {engine!r}")
    max_faces = options.get("max_faces")
    try:
        ok = max_faces is None or (not isinstance(max_faces, bool) and float(max_faces).is_integer() and max_faces >= 1)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"--max-faces must be a whole number, at least 1, not {max_faces}")

    for key, names in (("au_model", AU_HEADS), ("expression_model", EXPRESSION_HEADS)):
        value = options.get(key)
        if value not in (None, "auto", "none", *names):
            raise InputError(f"unknown {key.replace('_', ' ')} {value!r}; choose one of: auto, {', '.join(names)}, none")
