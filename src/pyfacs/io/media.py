"""Frames from images, folders, globs and videos, with timestamps taken from the container.

Every decoded frame is yielded (``every`` only marks which ones get analysed) so that a caller can
tell "not analysed" from "no face". Problems with one input raise :class:`InputError` naming it.
"""
from __future__ import annotations

import glob
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError

log = logging.getLogger(__name__)

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".wmv", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv"}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}


@dataclass
class Frame:
    source: str
    index: int
    timestamp_s: float
    rgb: np.ndarray  # (H, W, 3) uint8


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Files, folders (their images and videos, sorted) and glob patterns, in the order given."""
    if not inputs:
        raise InputError("no input given; pass an image, a folder, a glob such as 'faces/*.png' or a video")
    out: list[Path] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
            if not found:
                raise InputError(f"folder {p} holds no images or videos "
                                 f"(looked for {', '.join(sorted(IMAGE_EXTS | VIDEO_EXTS))})")
            out += found
        elif p.is_file():
            out.append(p)
        elif any(ch in str(item) for ch in "*?["):
            found = sorted(Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
            if not found:
                raise InputError(f"pattern {item!r} matches no file")
            out += found
        else:
            raise InputError(f"input {item} does not exist; check the path")
    return out


def read_image(path: Path) -> np.ndarray:
    """Any common image (8/16-bit, gray, palette, RGBA, CMYK, EXIF-rotated) as RGB uint8."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not Path(path).is_file():
        raise InputError(f"{path} is a folder; give an image file" if Path(path).is_dir() else f"{path} does not exist")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
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
    except Image.DecompressionBombError:
        raise InputError(f"{path} is too large to read safely (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels); "
                         f"downscale it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path} is not a readable image ({exc}); check the file or convert it to PNG/JPEG") from None


def iter_frames(path: Path) -> Iterator[Frame]:
    """Yield every frame of an image (one) or video, in order."""
    if not path.is_file():
        raise InputError(f"input {path} does not exist; check the path")
    if not is_video(path):
        yield Frame(str(path), 0, 0.0, read_image(path))
        return
    yield from _iter_video(path)


def video_frame_count(path: Path) -> int | None:
    """Frame count the container declares (may be absent or approximate); for progress bars."""
    import av

    try:
        with av.open(str(path)) as c:
            n = c.streams.video[0].frames if c.streams.video else 0
            if n:
                return int(n)
            s = c.streams.video[0]
            if c.duration and s.average_rate:
                return int(c.duration / 1e6 * float(s.average_rate))
    except Exception:  # noqa: BLE001 - only a progress hint; the real open reports errors
        return None
    return None


def _iter_video(path: Path) -> Iterator[Frame]:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable video ({_msg(exc)}); check the file or re-encode it") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 30)
        index, last_ts = 0, None
        try:
            for frame in container.decode(stream):
                ts = frame.time
                if ts is None:  # no pts: step from the previous timestamp
                    ts = 0.0 if last_ts is None else last_ts + 1.0 / fps
                last_ts = float(ts)
                yield Frame(str(path), index, last_ts, frame.to_ndarray(format="rgb24"))
                index += 1
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise InputError(f"{path}: decoding stopped after {index} frames ({_msg(exc)}); "
                             f"the file is truncated or corrupt, rows up to there were kept") from None
        if index == 0:
            raise InputError(f"{path} contains no decodable video frames; check the file or re-encode it")


def _msg(exc: Exception) -> str:
    """FFmpeg's reason (e.g. 'Invalid data found when processing input') without the errno and path."""
    return getattr(exc, "strerror", None) or str(exc).split(":")[-1].strip() or type(exc).__name__
