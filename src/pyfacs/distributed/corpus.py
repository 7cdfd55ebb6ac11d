"""Corpus processing: every video of a folder (or a list file) becomes one Parquet file in an output
folder, with a manifest line per finished file (status, frames, faces, people, error, seconds, model
hashes).

Restartable: a file is written under a temporary name and renamed when complete, so a crash loses at
most the files in progress, and a new run skips every file whose Parquet exists. Engines: ``local``
(one process, or ``workers`` processes) and ``ray`` (Ray actors on a local or existing cluster — the
``distributed`` extra; ``RAY_ADDRESS`` picks a cluster); either way each worker builds its models once
and analyses file after file with them.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyfacs.errors import InputError, require_extra

MANIFEST = "manifest.jsonl"


@dataclass
class FileResult:
    source: str
    output: str
    status: str  # "ok" | "error"
    frames: int = 0
    faces: int = 0
    people: int = 0
    error: str | None = None
    seconds: float = 0.0
    models: dict | None = None


def corpus_inputs(source: str | Path) -> list[Path]:
    """The videos of a folder (recursively, sorted) or of a text file listing one path per line."""
    from pyfacs.io.media import is_video

    source = Path(source)
    if source.is_dir():
        videos = sorted(p for p in source.rglob("*") if p.is_file() and is_video(p))
    elif source.is_file() and is_video(source):
        videos = [source]
    elif source.is_file():
        try:
            lines = [ln.strip() for ln in source.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        except UnicodeDecodeError:
            raise InputError(f"{source} is neither a video nor a text file listing videos") from None
        videos = [(source.parent / ln).resolve() if not Path(ln).is_absolute() else Path(ln) for ln in lines]
    else:
        raise InputError(f"{source} does not exist; give a folder of videos or a text file listing them")
    if not videos:
        raise InputError(f"no videos in {source}")
    return videos


def output_name(video: Path) -> str:
    """``<stem>.<8 hex of the absolute path>.parquet``: unique when two folders hold the same name."""
    digest = hashlib.sha1(str(video.resolve()).encode()).hexdigest()[:8]
    return f"{video.stem}.{digest}.parquet"


class CorpusWorker:
    """One worker: an Analyzer built once, then one video after another."""

    def __init__(self, options: dict):
        from pyfacs.pipeline import Analyzer

        self.analyzer = Analyzer(**options)

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
        sink = StagedSink(out, self.analyzer.columns, meta)

        def on_table(df: pd.DataFrame) -> None:
            sink.write(df)
            counts["frames"] += int(df["frame"].nunique())
            faces = df["face_id"].dropna()
            counts["faces"] += len(faces)
            people.update(faces.astype(int))

        errors = None
        try:
            errors = self.analyzer.run([video], on_table=on_table)
        except InputError as exc:  # a listed file that is missing: recorded like a broken one, the run goes on
            errors = [SourceError(video, str(exc))]
        finally:
            sink.close(keep=errors == [])  # complete: only now does the file count as done
        models = {k: v.get("sha256") for k, v in meta.items() if isinstance(v, dict) and "sha256" in v}
        result = FileResult(video, str(out), "error" if errors else "ok", counts["frames"], counts["faces"],
                            len(people), errors[0].message if errors else None, round(time.perf_counter() - t, 2),
                            models)
        return asdict(result)


def _done(out_dir: Path) -> set[str]:
    return {p.name for p in out_dir.glob("*.parquet")}


def analyze_corpus(source: str | Path | list[Path], out_dir: str | Path, *, engine: str = "local", workers: int = 1,
                   options: dict | None = None, on_result=None) -> list[dict]:
    """Analyse every video not done yet (``source``: a folder, a list file, or the videos
    :func:`corpus_inputs` found); returns this run's results (also appended to the manifest)."""
    videos = source if isinstance(source, list) else corpus_inputs(source)
    check_options(options or {}, engine)  # (the workers build the heads: a typo would fail in each, after the mkdir)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # (FileExistsError too: a file by that name)
        raise InputError(f"cannot use {out_dir} as the output folder ({exc.strerror or exc}); "
                         "choose another --output") from None
    for stale in out_dir.glob("*.parquet.part"):  # a crash's leftovers
        stale.unlink()
    done = _done(out_dir)
    todo = [str(v) for v in videos if output_name(v) not in done]
    options = options or {}
    results: list[dict] = []

    def record(r: dict) -> None:
        results.append(r)
        with open(out_dir / MANIFEST, "a") as f:
            f.write(json.dumps(r) + "\n")
        if on_result:
            on_result(r, len(results), len(todo))

    if not todo:
        return results
    (_run_local if engine == "local" else _run_ray)(todo, out_dir, workers, options, record)
    return results


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


def _run_local(todo, out_dir, workers, options, record) -> None:
    if workers <= 1:
        worker = CorpusWorker(options)
        for video in todo:
            record(worker.process(video, str(out_dir)))
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, initializer=_init_process, initargs=(options,)) as pool:
        for r in pool.map(_process_in_pool, todo, [str(out_dir)] * len(todo)):
            record(r)


_POOL_WORKER: CorpusWorker | None = None


def _init_process(options: dict) -> None:
    global _POOL_WORKER
    _POOL_WORKER = CorpusWorker(options)


def _process_in_pool(video: str, out_dir: str) -> dict:
    return _POOL_WORKER.process(video, out_dir)


def _run_ray(todo, out_dir, workers, options, record) -> None:
    ray = require_extra("ray", "distributed")
    from ray.util import ActorPool

    started = not ray.is_initialized()
    if started:  # RAY_ADDRESS (an existing cluster) or a local one with ``workers`` CPUs
        ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    try:
        actor = ray.remote(num_cpus=1)(CorpusWorker)
        pool = ActorPool([actor.remote(options) for _ in range(max(workers, 1))])
        for r in pool.map_unordered(lambda a, v: a.process.remote(v, str(out_dir)), todo):
            record(r)
    finally:
        if started:
            ray.shutdown()
