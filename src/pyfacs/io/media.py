"""Frames from images, folders, globs and videos, with timestamps taken from the container.

Every decoded frame is yielded (``every`` only marks which ones get analysed) so that a caller can
tell "not analysed" from "no face". Problems with one input raise :class:`InputError` naming it.
"""
from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError

log = logging.getLogger(__name__)

SEQUENCE_FPS = 30.0  # a folder of frames read as a video (OpenFace's -fdir): its frame rate unless given
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".wmv", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".3gp", ".3g2",
              ".ts", ".mts", ".m2ts", ".ogv", ".mxf", ".vob", ".dv", ".asf"}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}


@dataclass
class Frame:
    source: str
    index: int
    timestamp_s: float
    rgb: np.ndarray  # (H, W, 3) uint8


def is_video(path: Path) -> bool:
    """A video file, or a folder of frames (inputs keep a folder whole only when read as a sequence)."""
    return path.suffix.lower() in VIDEO_EXTS or path.is_dir()


def _is_media(path: Path) -> bool:
    """An image or video by its extension, not a hidden file (macOS's ``._x.jpg`` copies are not images)."""
    return path.is_file() and path.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS and not path.name.startswith(".")


def source_name(path: str | Path) -> str:
    """``path`` as the table's ``source`` text: a name that is not UTF-8 (bytes from another system's
    encoding) keeps those bytes as ``\\xe9`` escapes, since Parquet and JSON hold text only."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def walk_files(folder: Path) -> list[Path]:
    """The files under ``folder``, sorted, through linked folders too (each real folder once, so a link
    loop ends); hidden files and folders (``.Trashes``, macOS's ``._x.mp4`` copies) are skipped."""
    seen, out = set(), []
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # (sorted: a linked folder reached
        # twice is always taken under the same spelling)
        out += [Path(top) / f for f in files if not f.startswith(".") and os.path.isfile(os.path.join(top, f))]
    return sorted(out)


def expand_inputs(inputs: list[str | Path], *, sequence: bool = False) -> list[Path]:
    """Files, folders (their images and videos, sorted) and glob patterns, in the order given; with
    ``sequence``, a folder stays whole: one video made of its images (:func:`sequence_images`)."""
    if not inputs:
        raise InputError("no input given; pass an image, a folder, a glob such as 'faces/*.png' or a video")
    out: list[Path] = []
    for item in inputs:
        if not str(item).strip():  # (Path("") is the current folder: an unset variable would analyse it)
            raise InputError("an input is empty; pass an image, a folder, a glob or a video")
        p = Path(item).expanduser()
        if p.is_dir() and sequence:
            sequence_images(p)  # (checked now: an empty folder stops the run before any work)
            out.append(p)
        elif p.is_dir():
            found = sorted(f for f in p.iterdir() if _is_media(f))
            if not found:
                raise InputError(f"folder {p} holds no images or videos "
                                 f"(looked for {', '.join(sorted(IMAGE_EXTS | VIDEO_EXTS))})")
            out += found
        elif p.is_file():
            out.append(p)
        elif any(ch in str(item) for ch in "*?["):
            matched = [Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file()]
            found = sorted(f for f in matched if _is_media(f))  # as a folder: notes.txt beside the images is skipped
            if not found:
                raise InputError(f"pattern {item!r} matches no image or video"
                                 + (f" ({len(matched)} other files)" if matched else ""))
            out += found
        else:
            raise InputError(f"input {item} does not exist; check the path")
    first: dict[str, Path] = {}
    for p in out:  # (the first spelling of each path, in the order given; a link to a file is its own input)
        first.setdefault(os.path.normpath(p.absolute()), p)
    once = list(first.values())
    if len(once) < len(out):
        log.warning("%d input(s) given more than once (e.g. a file and its folder) are analysed once",
                    len(out) - len(once))
    return once


WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")  # PIL's grey modes of more than 8 bits


def pil_to_rgb(im) -> np.ndarray:
    """A PIL image as RGB uint8 the way a viewer shows it: EXIF rotation applied, 16-bit and float
    images scaled (not clipped), transparent areas white."""
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(im)
    if im.mode in WIDE_MODES:
        a = np.asarray(im, dtype=np.float64)
        top = float(np.nanmax(a)) if a.size else 0.0
        # 16-bit, 8-bit values in a wider type, or floats in [0, 1] (mode F)
        hi = 65535.0 if im.mode.startswith("I;16") or top > 255 else 1.0 if im.mode == "F" and top <= 1 else 255.0
        a = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)  # transparent areas become white, not black
    return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def read_image(path: Path) -> np.ndarray:
    """Any common image (8/16-bit, gray, palette, RGBA, CMYK, EXIF-rotated) as RGB uint8."""
    from PIL import Image, UnidentifiedImageError

    if not Path(path).is_file():
        raise InputError(f"{path} is a folder; give an image file" if Path(path).is_dir() else f"{path} does not exist")
    try:
        with Image.open(path) as im:
            if getattr(im, "n_frames", 1) > 1:  # (an animated GIF or WebP, a multi-page TIFF)
                log.warning("%s holds %d frames; only the first is analysed (to analyse them all, convert it to "
                            "a video or a folder of frames)", path, im.n_frames)
            return pil_to_rgb(im)
    except Image.DecompressionBombError:
        raise InputError(f"{path} is too large to read safely (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels); "
                         f"downscale it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path} is not a readable image ({exc}); check the file or convert it to PNG/JPEG") from None


def warn_of_videos_beside_frames(folder: Path) -> None:
    """A folder read as a sequence: its videos are no frames and are left out, said once (other
    files go unsaid; a video beside frames may be a mistake)."""
    videos = sorted(f.name for f in folder.iterdir() if f.is_file() and is_video(f))
    if videos:
        log.warning("%s: --sequence reads its images as frames; %d video(s) in it are left out (%s); "
                    "analyse them on their own", folder, len(videos), ", ".join(videos[:3]))


def sequence_images(folder: Path) -> list[Path]:
    """A folder's images in frame order: by name, numbers by value (frame_2 before frame_10)."""
    def natural(f: Path) -> list:
        return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", f.name)]

    found = sorted((f for f in folder.iterdir() if _is_media(f) and f.suffix.lower() in IMAGE_EXTS), key=natural)
    if not found:
        raise InputError(f"folder {folder} holds no images to read as a sequence "
                         f"(looked for {', '.join(sorted(IMAGE_EXTS))})")
    return found


def iter_frames(path: Path, *, fps: float = SEQUENCE_FPS) -> Iterator[Frame]:
    """Yield every frame of an image (one), a video or a folder of frames (``fps``: its frame rate)."""
    if path.is_dir():
        yield from _iter_sequence(path, fps)
        return
    if not path.is_file():
        raise InputError(f"input {path} does not exist; check the path")
    if not is_video(path):
        yield Frame(source_name(path), 0, 0.0, read_image(path))
        return
    yield from _iter_video(path)


def _iter_sequence(folder: Path, fps: float) -> Iterator[Frame]:
    source = source_name(folder)
    for index, image in enumerate(sequence_images(folder)):
        try:
            rgb = read_image(image)
        except InputError as exc:
            raise InputError(f"{folder}: frame {index} ({exc}); fix or remove that frame") from None
        yield Frame(source, index, index / fps, rgb)


def video_frame_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a video's first frame as it is analysed (upright: a phone's rotation
    applied; a folder of frames: its first image), None if it cannot be read."""
    frames = iter_frames(path)
    try:
        first = next(frames, None)
    except Exception:  # noqa: BLE001 - only a plausibility check; the real run reports errors
        return None
    finally:
        frames.close()
    return None if first is None else (first.rgb.shape[1], first.rgb.shape[0])


def video_frame_count(path: Path) -> int | None:
    """Frame count the container declares (may be absent or approximate); for progress bars."""
    import av

    if path.is_dir():
        return len(sequence_images(path))
    try:
        with av.open(str(path)) as c:
            s = video_stream(c)
            if s is None:
                return None
            if s.frames:
                return int(s.frames)
            if c.duration and s.average_rate:
                return int(c.duration / 1e6 * float(s.average_rate))
    except Exception:  # noqa: BLE001 - only a progress hint; the real open reports errors
        return None
    return None


def video_stream(container):
    """The main video stream: FFmpeg's best one that is not a cover picture or thumbnail (phones and
    MKV files may put one of those first)."""
    import av

    still = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image
    moving = [s for s in container.streams.video if not s.disposition & still]
    if not moving:
        return None
    best = container.streams.best("video")
    return best if best in moving else moving[0]


def _iter_video(path: Path) -> Iterator[Frame]:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable video ({_msg(exc)}); check the file or re-encode it") from None
    with container:
        stream = video_stream(container)
        if stream is None:
            raise InputError(f"{path} has no video stream" + (" (only a cover picture)" if container.streams.video else ""))
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 30)
        clock = _FrameClock(fps, decode_times=container.format.name == "avi")
        source = source_name(path)  # (once, not per frame)
        index = bad = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:  # one corrupt packet: skipped, as players skip it
                    bad += 1
                    continue
                for frame in frames:
                    yield Frame(source, index, clock(frame), _upright(frame))
                    index += 1
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise InputError(f"{path}: decoding stopped after {index} frames ({_msg(exc)}); "
                             f"the file is truncated or corrupt") from None
        damaged = f" ({bad} damaged packet(s) skipped)" if bad else ""
        if index == 0:
            raise InputError(f"{path} contains no decodable video frames{damaged}; check the file or re-encode it")
        declared, how = _declared_frames(container, stream, fps)
        # a duration counts the frames up to the last one reached (frames missing before it, such as a
        # first GOP cut in half, or a last frame held for seconds, do not make a file look cut short);
        # skipped packets count against the file
        reached = index if how == "count" or bad else max(index, round(clock.last_from_start(stream) * fps) + 1)
        # headers may overstate by a few frames (no_face.mp4: 98 declared, 95 there); a cut file falls far short
        if declared and reached < 0.9 * declared and declared - reached >= 5:
            if how == "estimate" and not bad:  # (Matroska, WebM, MPEG-TS: a duration, not a count, and a
                # variable frame rate can make a whole file look short)
                log.warning("%s: its frames end at %.2f s, but its header says it lasts about %.2f s; it may "
                            "be cut short", path, clock.last_from_start(stream), declared / fps)
            else:
                raise InputError(f"{path}: only {index} of the {declared} frames its header declares could be "
                                 f"decoded{damaged}; the file is truncated or corrupt")
        if bad:
            log.warning("%s: %d damaged packet(s) skipped; the frames around them may be missing or smeared",
                        path, bad)


class _FrameClock:
    """Each frame's time in seconds from the first frame's (0 for the first, as OpenFace writes it,
    whatever the stream's start time). The frame's presentation time, unless those come out of order
    more often than its decode times do, as FFmpeg's own best-effort timestamp chooses. An AVI stores
    no presentation times (FFmpeg makes them up in decode order, which B-frames scramble), so there
    the time of the packet that brought the frame out, which steps once per frame. A frame with no
    usable time steps from the one before as the frames before it did (1/fps at first)."""

    def __init__(self, fps: float, *, decode_times: bool = False):
        self.step, self.decode_times = 1.0 / fps, decode_times
        self.first = self.last = None
        self.last_pts = self.last_dts = None
        self.faulty_pts = self.faulty_dts = 0

    def __call__(self, frame) -> float:
        pts, dts = frame.pts, frame.dts
        if dts is not None:
            self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        if pts is not None:
            self.faulty_pts += self.last_pts is not None and pts <= self.last_pts
            self.last_pts = pts
        if self.decode_times:
            ts = dts
        else:
            ts = pts if pts is not None and (self.faulty_pts <= self.faulty_dts or dts is None) else dts
        if ts is not None and frame.time_base is not None:
            now = float(ts * frame.time_base)
        else:  # (the step seen last: a header's frame rate can be wrong where times are missing)
            now = 0.0 if self.last is None else self.last + self.step
        if self.last is not None and now > self.last:
            self.step = now - self.last
        self.first = now if self.first is None else self.first
        self.last = now
        return now - self.first

    def last_from_start(self, stream) -> float:
        """The last frame's time from the stream's declared start (else from the first frame's)."""
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base \
            else self.first
        return self.last - start


def _declared_frames(container, stream, fps: float) -> tuple[int, str]:
    """How many frames the file says it shows, and how it says it: "count", an AVI's frame count (a cut
    file still declares all its frames); "duration", an MP4's video duration times the frame rate (its
    sample count would include frames an edit list hides); "estimate", the same for Matroska, WebM
    and MPEG-TS, which count nothing, else the container's duration when video is its only stream
    (a longer audio track would make a whole file look cut); 0 when the file says nothing."""
    mp4 = "mp4" in container.format.name or "mov" in container.format.name
    if stream.frames and not mp4:
        return int(stream.frames), "count"
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base) * fps), "duration" if mp4 else "estimate"
    if container.duration and len(container.streams) == 1:
        return round(container.duration / 1e6 * fps), "duration" if mp4 else "estimate"
    return 0, "count"


def _upright(frame) -> np.ndarray:
    """The frame as a player shows it: phones store portrait video sideways with a rotation tag."""
    rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4  # counter-clockwise, in degrees
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def _msg(exc: Exception) -> str:
    """FFmpeg's reason (e.g. 'Invalid data found when processing input') without the errno and path."""
    return getattr(exc, "strerror", None) or str(exc).split(":")[-1].strip() or type(exc).__name__
