"""The engines of corpus processing: local processes and Ray actors. Each worker builds its models
once; a worker that fails (a process killed, e.g. out of memory) costs only its file, which is
recorded as an error and redone on the next run."""
from __future__ import annotations

from pathlib import Path

from pyfacs.distributed.corpus import CorpusWorker, failed
from pyfacs.errors import InputError, require_extra


def run_local(todo: list[str], out_dir: Path, workers: int, options: dict, record, *, analyzer=None) -> None:
    """In this process (``workers`` ≤ 1, with ``analyzer`` if given), or in ``workers`` processes."""
    if workers <= 1:
        worker = CorpusWorker(options, analyzer)
        for video in todo:
            record(worker.process(video, str(out_dir)))
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, initializer=_init_process, initargs=(options,))

    # at most one file per worker in flight: a worker that dies (out of memory, killed) breaks the
    # pool and fails what is in flight, not every file still to do; a new pool takes the rest
    queue, running, pool = list(todo), {}, new_pool()
    try:
        while queue or running:
            while queue and len(running) < workers:
                video = queue.pop(0)
                running[pool.submit(_process_in_pool, video, str(out_dir))] = video
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                video = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as exc:  # a worker died: the pool and what it had in flight are lost
                    broken = True
                    result = failed(video, f"its worker process stopped ({type(exc).__name__})")
                except Exception as exc:  # noqa: BLE001 - an error of this file alone: the pool goes on
                    result = failed(video, f"unexpected {type(exc).__name__} ({exc}); please report this")
                record(result)  # (outside the try: a failure to record is not a worker's)
            if broken:
                for video in running.values():  # (lost with the pool)
                    record(failed(video, "a worker process beside it stopped"))
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
    except BaseException:  # Ctrl-C, SIGTERM: files already finished are recorded, the others stop now
        for future, video in running.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                record(future.result())
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _stop_workers(pool) -> None:
    """End the pool's processes at once (their files in progress are redone on the next run), rather than
    wait for them to finish videos whose results could no longer be recorded."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14+
        pool.terminate_workers()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


_POOL_WORKER: CorpusWorker | None = None


def _init_process(options: dict) -> None:
    import signal

    global _POOL_WORKER
    # the main process answers Ctrl-C and SIGTERM (and stops the workers): not the CLI's handler that a
    # forked worker inherits, which printed a traceback from each
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _POOL_WORKER = CorpusWorker(options)


def _process_in_pool(video: str, out_dir: str) -> dict:
    return _POOL_WORKER.process(video, out_dir)


def run_ray(todo: list[str], out_dir: Path, workers: int, options: dict, record) -> None:
    """Ray actors on the cluster ``RAY_ADDRESS`` names, or on a local one with ``workers`` CPUs
    (started and stopped for the run). Paths are absolute: other machines must see the same ones."""
    import os

    ray = require_extra("ray", "distributed")
    started = not ray.is_initialized()
    if started:
        if address := os.environ.get("RAY_ADDRESS"):  # (Ray refuses num_cpus when joining a cluster)
            try:
                ray.init(log_to_driver=False, ignore_reinit_error=True)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(f"cannot join the Ray cluster RAY_ADDRESS={address} ({_first_line(exc)}); "
                                 f"start it, or unset RAY_ADDRESS for a local one") from None
        else:
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True)
    try:
        actor_class = ray.remote(num_cpus=1)(CorpusWorker)
        queue, running = list(todo), {}

        def submit(actor) -> None:
            video = queue.pop(0)
            running[actor.process.remote(video, str(out_dir))] = (actor, video)

        for _ in range(min(max(workers, 1), len(queue))):
            submit(actor_class.remote(options))
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, video = running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayActorError as exc:  # the actor died: a new one takes the next file
                result = failed(video, f"its Ray worker stopped ({_first_line(exc)})")
                actor = actor_class.remote(options)
            except ray.exceptions.RayError as exc:
                result = failed(video, f"its Ray task failed ({_first_line(exc)})")
            record(result)
            if queue:
                submit(actor)
    finally:
        if started:
            ray.shutdown()


def _first_line(exc: Exception) -> str:
    cause = getattr(exc, "cause", None) or exc
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
