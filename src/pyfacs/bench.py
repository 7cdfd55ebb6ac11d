"""``pyfacs bench VIDEO``: frames/s of each pipeline stage and of the whole run, on this machine.

Stages are timed one frame at a time in one process (decode; faces = detection, mesh, pose and
identities; the AU head, including its end-of-video work; the expression head); the end-to-end
figure is a separate ordinary run to a Parquet file, start-up excluded."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError
from pyfacs.models.runtime import single_threaded_blas


def bench(video: str | Path, *, au_model: str = "auto", expression_model: str = "auto",
          max_frames: int | None = None, on_progress=None) -> dict:
    """``on_progress(stage, frames)`` is called as frames are timed (stage: "stages", then "end to end")."""
    from pyfacs.io.media import is_video

    video = Path(video)
    if not video.exists():  # (before the models load: a typo should not cost their start-up)
        raise InputError(f"{video} does not exist; pyfacs bench times a video")
    if not is_video(video):
        raise InputError(f"{video} is not a video; pyfacs bench times a video")
    if max_frames is not None and (isinstance(max_frames, (bool, np.bool_)) or not isinstance(max_frames, (int, np.integer))
                                   or max_frames < 1):
        raise InputError(f"max_frames must be a whole number of frames, at least 1, not {max_frames!r}")
    with single_threaded_blas():  # as analyze runs
        return _bench(video, au_model, expression_model, max_frames, on_progress or (lambda stage, frames: None))


def _bench(video: Path, au_model: str, expression_model: str, max_frames: int | None, on_progress) -> dict:
    from pyfacs.io.media import iter_frames
    from pyfacs.io.sinks import ParquetSink
    from pyfacs.pipeline import Analyzer, _ExpressionBatches

    an = Analyzer(au_model=au_model, expression_model=expression_model)
    t = dict.fromkeys(("decode", "faces", "au", "expression"), 0.0)
    n = faces_total = 0
    crops: list = []  # the expression head's input, run in batches of frames as analyze does
    if an.au_head is not None:
        an.au_head.begin(video=True)
    frames = iter_frames(video)
    while max_frames is None or n < max_frames:
        t0 = time.perf_counter()
        frame = next(frames, None)
        t1 = time.perf_counter()
        if frame is None:
            break
        faces = an.faces(frame.rgb, index=frame.index)
        t2 = time.perf_counter()
        if an.au_head is not None:
            for k, f in enumerate(faces):
                an.au_head.add(faces_total + k, f.face_id, frame.rgb, f.lmk68, frame=frame.index)
        t3 = time.perf_counter()
        if an.expression_head is not None:
            crops.append(an.expression_head.crops_for(frame.rgb, faces, whole_image=False))
            if len(crops) == _ExpressionBatches.FRAMES:
                an.expression_head.columns_from_frames(crops)
                crops = []
        t4 = time.perf_counter()
        t["decode"] += t1 - t0
        t["faces"] += t2 - t1
        t["au"] += t3 - t2
        t["expression"] += t4 - t3
        n += 1
        faces_total += len(faces)
        on_progress("stages", n)
    t0 = time.perf_counter()
    if an.au_head is not None:
        an.au_head.finish()
    t1 = time.perf_counter()
    if crops:
        an.expression_head.columns_from_frames(crops)
    t["au"] += t1 - t0
    t["expression"] += time.perf_counter() - t1
    # None: a head that saw no face did no work to time
    stages = {k: (n / v if v > 0 and (faces_total or k in ("decode", "faces")) else None) for k, v in t.items()
              if not (k == "au" and an.au_head is None) and not (k == "expression" and an.expression_head is None)}
    an.reset()
    e2e = None
    if max_frames is None:  # (a run over part of the video has no end-to-end figure)
        with tempfile.TemporaryDirectory() as tmp:
            sink = ParquetSink(Path(tmp) / "b.parquet", an.columns, an.metadata)
            done = set()

            def on_table(df) -> None:
                sink.write(df)
                done.update(df["frame"].unique().tolist())
                on_progress("end to end", len(done))

            t0 = time.perf_counter()
            # the same job as the stages: a folder of frames is one video (analyze --sequence)
            errors = an.run([str(video)], sequence=video.is_dir(), on_table=on_table)
            sink.close()
            e2e = time.perf_counter() - t0
        if errors:
            raise InputError(errors[0].message)
    return {"video": str(video), "frames": n, "faces": faces_total, "stages_fps": stages,
            "end_to_end_fps": None if e2e is None else n / e2e,
            "au_model": getattr(an.au_head, "name", None), "expression_model": getattr(an.expression_head, "name", None)}
