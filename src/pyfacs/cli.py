"""The ``pyfacs`` command: parses options, calls the library, prints. Bad input → one line, exit 2."""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from pyfacs.errors import InputError, PyfacsError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Facial action units, expressions, landmarks and head pose from images and videos.")
EXIT_BAD_INPUT = 2
EXIT_PAUSED = 3  # pyfacs train --minutes: the budget ran out, the run resumes


def _one_line_errors(fn):
    """Bad input → one line on stderr and exit code 2; an internal error → one line and exit 1
    (PYFACS_DEBUG=1 shows the traceback). Never a traceback for something the user can fix."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PyfacsError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:  # (commands that leave files say what they kept themselves)
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001
            if os.environ.get("PYFACS_DEBUG"):
                raise
            if isinstance(exc, OSError) and exc.filename is not None:
                # the system refused a path (a name too long, a folder gone): the user's to fix, not ours
                typer.echo(f"error: cannot use {exc.filename} ({exc.strerror or exc}); check the path", err=True)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            typer.echo(f"internal error: {type(exc).__name__}: {exc} "
                       f"(set PYFACS_DEBUG=1 for details, and please report it)", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _print_version(value: bool) -> None:
    if value:
        from pyfacs import __version__

        typer.echo(f"pyfacs {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="Print the version and exit")] = False) -> None:
    pass


def _sample_path() -> Path:
    """scikit-image's public-domain astronaut photo (Eileen Collins, NASA), shipped with the package."""
    import skimage.data

    return Path(skimage.data.__file__).parent / "astronaut.png"


@app.command()
@_one_line_errors
def analyze(
    inputs: Annotated[list[str], typer.Argument(help="Images, folders, globs ('faces/*.png') or videos. "
                                                      "'sample' analyses a photo shipped with scikit-image.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Table to write: .parquet, .csv or .jsonl")],
    every: Annotated[int, typer.Option(help="Analyse every Nth frame of videos")] = 1,
    max_faces: Annotated[Optional[int], typer.Option(help="At most this many faces per frame")] = None,
    faces_cropped: Annotated[bool, typer.Option("--faces-cropped",
                                                help="Inputs are face crops: no detection, the whole image is the face "
                                                     "(every input gets a face row; --min-face-score is not applied)")] = False,
    landmarks: Annotated[int, typer.Option(help="68 (iBUG) or 478 (adds the full 3D mesh with iris)")] = 68,
    min_face_score: Annotated[float, typer.Option(help="Drop faces the mesh is less sure of than this")] = 0.5,
    annotate: Annotated[Optional[Path], typer.Option(help="Also write the input with the table drawn on it: "
                                                          "boxes, landmarks, person ids, pose, expression, AUs "
                                                          "present (.png/.jpg for images, .mp4 for videos)")] = None,
    au_model: Annotated[str, typer.Option(help="AU head by registry name: 'auto' (openface.au-2.2 when its "
                                                "files can be had, else audetnet.ckplus), 'openface.au-2.2', "
                                                "'audetnet.ckplus', 'ausequence.openface-clip', or 'none'")] = "auto",
    au_static: Annotated[bool, typer.Option("--au-static", help="Static AU models on videos too "
                                                                "(OpenFace's -au_static; it needs OpenFace's files, "
                                                                "also with --au-model auto)")] = False,
    expression_model: Annotated[str, typer.Option(help="Expression head by registry name: 'auto' "
                                                        "(esr5.fer2013), 'esr9.fer2013', or 'none'")] = "auto",
    landmarks_from: Annotated[Optional[Path], typer.Option(help="Use the 68 landmarks of this OpenFace or "
                                                                "py-feat CSV (or pyfacs table) instead of detecting "
                                                                "(one video)")] = None,
    sequence: Annotated[bool, typer.Option("--sequence", help="Each folder is one video made of its images "
                                                               "(sorted by name, numbers by value; OpenFace's "
                                                               "-fdir): faces tracked, AUs calibrated per person")] = False,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of a --sequence folder, for timestamp_s "
                                                      "(default 30)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Analyse faces into a table with one row per face per analysed frame."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from pyfacs.io.media import expand_inputs, is_video
    from pyfacs.io.sinks import StagedSink, check_output_path
    from pyfacs.pipeline import Analyzer
    from pyfacs.viz.overlay import Annotator

    inputs = [str(_sample_path()) if i == "sample" else i for i in inputs]
    check_output_path(output)
    if fps is not None and not sequence:
        raise InputError("--fps sets the frame rate of a --sequence folder; video files carry their own")
    fps = 30.0 if fps is None else fps
    if landmarks not in (68, 478):
        raise InputError(f"--landmarks must be 68 or 478, not {landmarks}")
    paths = expand_inputs(inputs, sequence=sequence)  # fail early, before any file is written
    annotator = None
    if annotate is not None:
        if len(paths) > 1:
            raise InputError(f"--annotate takes one input file, not {len(paths)}; run once per file to annotate several")
        if annotate.expanduser().resolve() == paths[0].resolve():
            raise InputError(f"--annotate {annotate} is the input itself; name a new file")
        video = is_video(paths[0])
        rate = fps if paths[0].is_dir() else _fps(paths[0]) if video else 30.0
        annotator = Annotator(annotate, video=video, fps=rate)
    analyzer = Analyzer(landmarks=landmarks, max_faces=max_faces, faces_cropped=faces_cropped,
                        min_face_score=min_face_score, au_model=au_model, au_static=au_static,
                        expression_model=expression_model, landmarks_from=landmarks_from)
    analyzer.check_run(paths, every=every, fps=fps)
    if landmarks_from is not None and output.expanduser().resolve() == landmarks_from.expanduser().resolve():
        raise InputError(f"--output {output} is the --landmarks-from CSV itself; name a new file")
    meta = analyzer.metadata
    meta["options"]["every"] = every
    if sequence:
        meta["options"]["sequence_fps"] = fps
    sink = StagedSink(output, analyzer.columns, meta)
    counts = {"faces": 0, "frames": 0}
    persons: set[tuple[str, int]] = set()  # (source, face_id): people in videos
    written_from: set[str] = set()  # sources with rows in the output

    def on_table(df: pd.DataFrame) -> None:
        sink.write(df)
        written_from.update(df["source"].unique())
        counts["frames"] += int(df[["source", "frame"]].drop_duplicates().shape[0])
        counts["faces"] += int(df["face_id"].notna().sum())
        seen = df[df["face_id"].notna()]
        videos = {s for s in seen["source"].unique() if is_video(Path(s))}
        seen = seen[seen["source"].isin(videos)]
        persons.update(zip(seen["source"], seen["face_id"].astype(int)))

    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, disable=quiet, transient=False)
    tasks: dict[str, int] = {}
    n_images = sum(not is_video(p) for p in paths)

    def image_done() -> None:  # images share one bar: a folder of 10,000 is one line, not 10,000
        if "images" not in tasks:
            tasks["images"] = progress.add_task("images", total=n_images)
        progress.advance(tasks["images"])

    def on_progress(source: str, done: int, total: int | None) -> None:
        if not is_video(Path(source)):
            image_done()
            return
        if source not in tasks:
            tasks[source] = progress.add_task(Path(source).name[:40], total=total)
        progress.update(tasks[source], completed=done, total=max(total or 0, done) or None)

    def on_error(err) -> None:
        if not is_video(Path(err.source)):
            image_done()  # (a failed image never reached on_progress)
        kept = "; the rows of its frames before that are in the output" if err.source in written_from else ""
        console.print(f"[red]error:[/red] {err.message}{kept}", highlight=False, soft_wrap=True)

    interrupted = True  # until the run returns: Ctrl-C, SIGTERM, or an error that ends it
    try:
        with progress:
            errors = analyzer.run([str(p) for p in paths], every=every, sequence=sequence, fps=fps, on_table=on_table,
                                  on_error=on_error, on_progress=on_progress)
        interrupted = False
    except KeyboardInterrupt:
        written = sink.close(interrupted=True)
        kept = f"the {sink.rows} rows so far are in {written}" if written else "nothing was written"
        left = f"; {output} is left as it was" if written and written != sink.target else ""
        drawn = f"; --annotate {annotate} was not written" if annotator else ""
        typer.echo(f"interrupted: {kept}{left}{drawn}", err=True)
        raise typer.Exit(130) from None
    finally:
        if interrupted and sink.part.exists():  # (an error: its rows are kept as for Ctrl-C)
            if kept := sink.close(interrupted=True):
                typer.echo(f"the {sink.rows} rows written before the error are in {kept}", err=True)
    written = sink.close()
    drawn, failed = "", False
    if annotator and written_from:  # drawn from the table, in a second pass over the input
        if _annotate(annotator, paths[0], written, fps=rate, every=every, progress_console=None if quiet else console):
            drawn = f", drawn on {annotator.path}"
        else:
            failed = True
    ok = len(paths) - len(errors)
    if not written:
        if len(paths) > 1 or output.exists():  # (one input: its error line has said it all)
            typer.echo(f"nothing written: none of the {len(paths)} inputs could be analysed"
                       + (f" ({output} is left as it was)" if output.exists() else ""), err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    people = f", {len(persons)} people (face_id) in videos" if persons else ""
    typer.echo(f"wrote {output}: {counts['faces']} faces in {counts['frames']} analysed frames "
               f"from {ok} of {len(paths)} inputs{people}{drawn}", err=True)
    if errors or failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("analyze-corpus")
@_one_line_errors
def analyze_corpus(
    source: Annotated[Path, typer.Argument(help="A folder of videos (searched recursively) or a text file listing them")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder: one Parquet per video + _manifest.jsonl")],
    engine: Annotated[str, typer.Option(help="local (processes on this machine) or ray (pip install 'pyfacs\\[distributed]')")] = "local",
    workers: Annotated[int, typer.Option(min=1, help="Parallel workers, each with its own models")] = 1,
    au_model: Annotated[str, typer.Option(help="AU head by registry name, or none")] = "auto",
    expression_model: Annotated[str, typer.Option(help="Expression head by registry name, or none")] = "auto",
    max_faces: Annotated[Optional[int], typer.Option(help="At most this many faces per frame")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar")] = False,
) -> None:
    """Analyse a corpus of videos, restartably: finished files are skipped on a new run."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from pyfacs.distributed.corpus import MANIFEST, check_options, corpus_inputs
    from pyfacs.distributed.corpus import analyze_corpus as run_corpus

    options = {"au_model": au_model, "expression_model": expression_model, "max_faces": max_faces}
    videos = corpus_inputs(source)  # bad input: one line before the progress bar starts
    check_options(options, engine)
    console = Console(stderr=True)
    progress = Progress(TextColumn("corpus"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, disable=quiet)
    task = progress.add_task("corpus", total=None)

    def on_result(r: dict, done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)
        if r["status"] != "ok":
            message = r["error"] if r["source"] in r["error"] else f"{r['source']}: {r['error']}"
            console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)

    try:
        with progress:
            results = run_corpus(videos, output, engine=engine, workers=workers, options=options, on_result=on_result)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: the tables of finished videos and {output / MANIFEST} are kept; the same "
                   "command goes on with the rest", err=True)
        raise typer.Exit(130) from None
    failed = sum(r["status"] != "ok" for r in results)
    typer.echo(f"{output}: {len(results) - failed} videos analysed, {failed} failed this run "
               f"(finished files of earlier runs skipped); manifest {output / MANIFEST}", err=True)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
@_one_line_errors
def bench(
    video: Annotated[Path, typer.Argument(help="A video (or a folder of frames, read as one video) to time")],
    au_model: Annotated[str, typer.Option(help="AU head by registry name, or none")] = "auto",
    expression_model: Annotated[str, typer.Option(help="Expression head by registry name, or none")] = "auto",
) -> None:
    """Frames/s of each stage (decode, faces, AU head, expression head) and end to end."""
    from pyfacs.bench import bench as run_bench

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("timing", total=None)

        def on_progress(stage: str, frames: int) -> None:
            bar.update(task, description=f"timing {stage}: {frames} frames")

        r = run_bench(video, au_model=au_model, expression_model=expression_model, on_progress=on_progress)
    typer.echo(f"{r['video']}: {r['frames']} frames, {r['faces']} faces; AU head {r['au_model'] or 'none'}, "
               f"expression head {r['expression_model'] or 'none'}")
    for stage, fps in r["stages_fps"].items():
        typer.echo(f"  {stage:<11} {fps:8.0f} frames/s" if fps is not None else f"  {stage:<11}      n/a (no faces)")
    e2e = r["end_to_end_fps"]
    typer.echo(f"  {'end to end':<11} {e2e:8.0f} frames/s (decoding in its own thread)" if e2e is not None
               else f"  {'end to end':<11}      n/a")


@app.command()
@_one_line_errors
def report(
    results: Annotated[Path, typer.Argument(help="A results file: pyfacs analyze's (.parquet, .csv, .jsonl) "
                                                 "or OpenFace's, py-feat's, iMotions's or Affectiva's")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML page to write")] = Path("report.html"),
) -> None:
    """A self-contained HTML page: AU and expression time series per person, AU occurrence, AU maps,
    annotated sample frames."""
    from pyfacs.io.interop import read_table
    from pyfacs.io.sinks import check_writable
    from pyfacs.viz.report import write_report

    if output.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"the report is HTML: name the output .html, not {output.name}")
    check_writable(output, "--output")  # (before the plots, which take a while)
    typer.echo(f"wrote {write_report(read_table(results), output)}", err=True)


def _score(value: float | None) -> str:
    """A mean F1, or why there is none (no AU with a positive among the scored frames)."""
    return "n/a (no AU has a positive)" if value is None else f"{value:.3f}"


def _annotate(annotator, source: Path, table: Path, *, fps: float, every: int, progress_console) -> bool:
    """Write ``--annotate`` from ``table`` (a second pass over ``source``, with its own progress bar);
    whether it was written. A failure or Ctrl-C leaves the table written and no annotated file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from pyfacs.io.media import is_video, video_frame_count

    total = video_frame_count(source) if is_video(source) else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=progress_console, disable=progress_console is None, transient=True)
    try:
        with progress:
            task = progress.add_task(f"--annotate {annotator.path.name}"[:40], total=total)
            annotator.write(source, table, fps=fps, every=every,
                            on_progress=lambda done: progress.update(task, completed=done))
    except KeyboardInterrupt:
        typer.echo(f"interrupted: {table} is written; --annotate {annotator.path} was not", err=True)
        raise typer.Exit(130) from None
    except InputError as exc:
        typer.echo(f"error: {exc} ({table} is written)", err=True)
        return False
    return True


def _fps(path: Path) -> float:
    import av

    from pyfacs.io.media import video_stream

    try:
        with av.open(str(path)) as c:
            if (stream := video_stream(c)) is None:
                raise InputError(f"{path} has no video stream to annotate")
            rate = stream.average_rate
            return float(rate) if rate else 30.0
    except (OSError, av.error.FFmpegError) as exc:
        raise InputError(f"{path} cannot be read as a video ({exc})") from None


@app.command()
@_one_line_errors
def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML), e.g. configs/au/mefarg_ckplus.yaml")],
    run_dir: Annotated[Optional[Path], typer.Option(help="Where the run goes (default: runs/<name>-seed<seed>)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed")] = None,
    minutes: Annotated[Optional[float], typer.Option(help="Time budget: stop at the end of the epoch in which it "
                                                          "runs out (exit code 3); the same command resumes")] = None,
) -> None:
    """Train from a config into a run directory (resumes where a run with the same directory stopped)."""
    from pyfacs.errors import require_extra
    from pyfacs.train.config import load_config

    require_extra("torch", "train")
    from pyfacs.train.budget import TrainingPaused
    from pyfacs.train.runner import run

    cfg = load_config(config, seed=seed)
    out = run_dir or Path("runs") / f"{cfg.name}-seed{cfg.seed}"
    if minutes is not None and not minutes >= 0:  # (NaN too: it would never pause)
        raise InputError(f"--minutes must be 0 or more, not {minutes}")
    try:
        metrics = run(cfg, out, minutes=minutes)
    except TrainingPaused as exc:
        typer.echo(f"{cfg.name}: {exc}", err=True)
        raise typer.Exit(EXIT_PAUSED) from None
    except KeyboardInterrupt:  # (a run that had trained nothing leaves no folder)
        typer.echo(f"interrupted: the finished epochs (or folds) are kept in {out}; the same command resumes"
                   if out.exists() else "interrupted: nothing was trained yet", err=True)
        raise typer.Exit(130) from None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and int(os.environ.get("RANK", "0")) > 0:
        return  # under torchrun only rank 0 writes the run dir, so only it says so
    if "cv" in metrics:
        cv = metrics["cv"]
        typer.echo(f"{cfg.name}: mean F1 {_score(cv['mean_f1'])} over {len(cv['per_au'])} AUs "
                   f"(subject-independent CV); wrote {out}/metrics.json")
    elif "sequence" in metrics:
        seq, one = metrics["sequence"], metrics["per_frame"]
        typer.echo(f"{cfg.name}: held-out agreement {seq['mean_agreement']:.3f} with {metrics['window']}-frame "
                   f"windows, {one['mean_agreement']:.3f} per frame (mean F1 {_score(seq['mean_f1'])} vs "
                   f"{_score(one['mean_f1'])}); wrote {out}/metrics.json")
    else:
        v = metrics["val"]
        typer.echo(f"{cfg.name}: validation accuracy {v['ensemble_accuracy']:.3f} (ensemble), "
                   f"{v['mean_branch_accuracy']:.3f} (mean branch); wrote {out}/metrics.json")


@app.command()
@_one_line_errors
def reproduce(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `pyfacs train`")],
) -> None:
    """Run a finished run again from its saved config and say whether metrics.json is identical."""
    import tempfile

    from pyfacs.errors import require_extra
    from pyfacs.train.config import load_config

    require_extra("torch", "train")
    from pyfacs.train.runner import metric_differences, run

    saved = run_dir / "metrics.json"
    if not (run_dir / "config.yaml").is_file() or not saved.is_file():
        raise InputError(f"{run_dir} is not a finished run: it needs config.yaml and metrics.json")
    cfg = load_config(run_dir / "config.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        run(cfg, tmp)
        again = (Path(tmp) / "metrics.json").read_bytes()
    if again == saved.read_bytes():
        typer.echo(f"reproduced: {run_dir}/metrics.json is identical")
        return
    try:
        diffs = metric_differences(json.loads(saved.read_bytes()), json.loads(again))
    except ValueError:
        diffs = [f"{saved} is not JSON"]
    diffs = diffs or ["the same figures, written differently"]
    more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
    typer.echo(f"NOT reproduced: {saved} differs from the new run's metrics.json: {'; '.join(diffs[:3])}{more}",
               err=True)
    raise typer.Exit(1)


@app.command()
@_one_line_errors
def explain(
    image: Annotated[Path, typer.Argument(help="An image with a face (with several, the largest is explained)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG to write")] = Path("explain.png"),
    method: Annotated[str, typer.Option(help="gradcam | gradcam++ | layercam | cam")] = "gradcam",
    faces_cropped: Annotated[bool, typer.Option("--faces-cropped", help="The image is a face crop (e.g. "
                                                "FER2013's): use it whole, as analyze --faces-cropped does")] = False,
) -> None:
    """Show where the expression model looks (attention map) beside the AU cues of its prediction."""
    from pyfacs.errors import require_extra

    require_extra("torch", "train")  # (gradients: before anything imports torch)
    from pyfacs.expression.cam import METHODS

    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    from pyfacs.expression.explain import explain as run_explain

    res = run_explain(_sample_path() if str(image) == "sample" else image, output, method=method,
                      faces_cropped=faces_cropped)
    extra = "".join(f", {k} {v:.3f}" for k, v in res.items() if k not in ("label", "probability", "method"))
    typer.echo(f"{res['label']} ({res['probability']:.2f}){extra}; wrote {output}")


@app.command()
@_one_line_errors
def models() -> None:
    """List the registered models, their tasks, licences and sources."""
    from pyfacs.models import list_models

    for spec in list_models():
        typer.echo(f"{spec.name:28s} {spec.task:16s} {spec.licence}  ({spec.source})")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (timeout, batch queues, docker stop) ends a run as Ctrl-C does


def _click_exceptions():
    try:  # newer typers carry their own copy of click
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def main() -> None:
    import signal

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    exc_types = _click_exceptions()
    try:
        code = app(standalone_mode=False)  # (so that usage errors come here, not to a boxed panel)
    except exc_types.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except exc_types.UsageError as exc:  # a bad option value, an unknown option, a missing argument
        where = exc.ctx.command_path if exc.ctx else "pyfacs"
        typer.echo(f"error: {exc.format_message()} (see {where} --help)", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except exc_types.ClickException as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted: the output written so far is kept", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
