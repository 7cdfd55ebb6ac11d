"""The Python examples in README.md and docs/*.md run as written.

Each ```python block runs in a fresh interpreter, in a temporary folder. What a block leaves to the
reader is supplied, and nothing else is changed: ``video.mp4`` becomes a short synthetic clip,
``rgb_frame`` the astronaut photo, ``../shared`` the test data folder (the block skips when a file
it reads, or the mirror of a model it names, is absent) and ``/tmp/`` the test's own temporary folder."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# models whose weights a test can only take from the ../shared mirror
MIRRORED = {"openface.au-2.2": "models/openface-2.2.0"}
PRELUDE = "import skimage.data as _skimage_data\nrgb_frame = _skimage_data.astronaut()\n"


def _blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, code in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), re.S), 1):
            found.append((f"{doc.relative_to(ROOT)}#{i}", code))
    return found


BLOCKS = _blocks()


def test_the_docs_have_python_examples():
    # a regex that stopped matching would otherwise pass the parametrised test below vacuously
    assert len(BLOCKS) >= 5, [name for name, _ in BLOCKS]


@pytest.mark.parametrize("code", [c for _, c in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_python_example_runs(code, tmp_path, face_video):
    needs = re.findall(r"\.\./shared/([\w./+-]+)", code)
    needs += [folder for name, folder in MIRRORED.items() if name in code]
    for rel in needs:
        if not (SHARED / rel).exists():
            pytest.skip(f"{SHARED / rel} is absent: this example reads ../shared")
    # (the doc's own /tmp paths first: SHARED itself may lie under /tmp)
    code = code.replace('"/tmp/', f'"{tmp_path}/').replace("../shared/", f"{SHARED}/")
    code = code.replace('"video.mp4"', repr(str(face_video)))
    env = {**os.environ, "PYFACS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PRELUDE + code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
