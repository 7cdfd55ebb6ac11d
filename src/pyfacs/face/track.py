"""Stable person identities across a video.

The face finder follows a face from frame to frame while it can; when it loses one (occlusion, blur,
the person leaving), the face comes back later as a new track. ``IdentityTracker`` gives every track
a person id: a continuing track keeps its person; a new track takes the person, among those not in
the frame at that moment, whose appearance it matches (and, after a short gap, who was last seen
nearby), or else becomes a new person.

Appearance has two parts, compared separately and averaged: the FHOG descriptor (the features
OpenFace's AU models use) of the face aligned on its landmarks, 64×64 grey — the face itself — and
hue/saturation histograms of the face and of the clothes below it, which survive the motion blur
that spoils FHOG. Each part is compared after subtracting its running mean over every face seen in
the source, so that what all faces share (a face is a face, a coat is dark) does not make everyone
look alike. A person's descriptor is a running mean over the frames in which they were seen (their
look measured every 3rd frame; a new track's at once); a gallery of
that mean at earlier times (every 10 frames, the last 30) lets a person who comes back looking as
they did a while ago (turned, blurred) be matched to that look.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import logging

import numpy as np

log = logging.getLogger(__name__)
ALIGNED = 64  # px, aligned face side
CELL = 8  # px, FHOG cell


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


HIST_BINS = (12, 6)  # hue × saturation
N_FHOG = (ALIGNED // CELL - 2) ** 2 * 31


def appearance(rgb: np.ndarray, face) -> np.ndarray:
    """FHOG of the face aligned to a 64×64 grey template (6×6 cells × 31 values), then the colour
    histograms (2 × 72 values)."""
    import pyfhog

    from pyfacs.face.align import aligned_gray

    g = aligned_gray(rgb, face.lmk68, ALIGNED)
    hog = np.asarray(pyfhog.extract_fhog_features(np.repeat(g[:, :, None], 3, 2), CELL), np.float64).ravel()
    return np.concatenate([hog, colour_histograms(rgb, face.box)])


def colour_histograms(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Hue/saturation histograms (square roots of frequencies) of the face box and of the region below it."""
    import cv2

    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = box
    size = max(x2 - x1, y2 - y1)
    cx = (x1 + x2) / 2
    out = []
    for a, b, c, d in ((x1, y1, x2, y2), (cx - 0.8 * size, y2 + 0.3 * size, cx + 0.8 * size, y2 + 1.5 * size)):
        a, b, c, d = int(max(0, a)), int(max(0, b)), int(min(w, c)), int(min(h, d))
        hist = np.zeros(HIST_BINS[0] * HIST_BINS[1])
        if c - a >= 4 and d - b >= 4:
            hsv = cv2.cvtColor(np.ascontiguousarray(rgb[b:d, a:c]), cv2.COLOR_RGB2HSV)
            hist = cv2.calcHist([hsv], [0, 1], None, list(HIST_BINS), [0, 180, 0, 256]).ravel()
        out.append(np.sqrt(hist / max(hist.sum(), 1)))
    return np.concatenate(out)


@dataclass
class _Person:
    emb: np.ndarray  # running mean of the person's descriptors
    last_frame: int
    centre: np.ndarray
    size: float
    frames: int = 1
    gallery: list = field(default_factory=list)  # descriptors kept every GALLERY_EVERY frames
    first_frame: int = 0
    tentative_until: int | None = None  # a new person, to be compared again once seen for a while
    emb_sum: np.ndarray | None = None  # while tentative: the sum of their descriptors
    emb_count: int = 0  # ... and how many


@dataclass
class IdentityTracker:
    """Maps the finder's tracks to persons. A new track becomes an earlier person (not in the frame)
    whose appearance matches it at cosine similarity ``match`` or more; or ``match_near`` or more if
    that person was lost at most ``near_gap`` frames ago and close by (within a face size, plus half
    a face size per frame since, as people walk): nearness in space and time is evidence too.

    A track that matches no one becomes a new person, tentatively: its first frame may be a blurred
    or turned face. After ``settle_frames`` frames its mean descriptor is compared again with the
    earlier persons not seen since it appeared; a match merges it into that person, and ``relabel``
    says so. The pipeline writes rows only when no person is tentative, applying ``relabel`` first,
    so the ids in the output are the settled ones."""

    match: float = 0.35
    match_alone: float = 0.9  # the same, for whole descriptors (while only one person has been seen)
    match_near: float = 0.1
    near_gap: int = 15
    momentum: float = 0.9  # per frame
    # a continuing person's look is measured every 3rd frame of theirs (every frame, the FHOG and
    # histograms were a tenth of the main thread's time); a new track's always
    appearance_every: int = 3
    gallery_every: int = 10
    gallery_size: int = 30
    settle_frames: int = 15
    gallery_memory: int = 3000  # frames: older persons keep their mean only (memory stays flat)
    persons: dict[int, _Person] = field(default_factory=dict)
    _track_to_person: dict[int, int] = field(default_factory=dict)
    relabel: dict[int, int] = field(default_factory=dict)  # merged person → the person they are
    _mean: np.ndarray | None = None
    _seen: int = 0
    _next_pid: int = 0

    def reset(self) -> None:
        self.persons.clear()
        self._track_to_person.clear()
        self.relabel.clear()
        self._mean, self._seen, self._next_pid = None, 0, 0

    @property
    def unsettled(self) -> bool:
        return any(p.tentative_until is not None for p in self.persons.values())

    def final_id(self, pid: int) -> int:
        while pid in self.relabel:
            pid = self.relabel[pid]
        return pid

    def settle(self, index: int | None = None) -> None:
        """Decide every tentative person due by ``index`` (all of them when None: end of source)."""
        for pid, p in list(self.persons.items()):
            if p.tentative_until is not None and (index is None or index >= p.tentative_until):
                self._settle(pid, p)

    def _settle(self, pid: int, p: _Person) -> None:
        p.tentative_until = None
        mean = p.emb_sum / max(p.emb_count, 1)
        best, target = self.match, None
        for qid, q in self.persons.items():
            if qid == pid or q.tentative_until is not None or q.last_frame >= p.first_frame:
                continue  # only persons who were not in view while this one was
            sim = max(self._similarity(mean, g) for g in [q.emb, *q.gallery])
            log.debug("settling person %d vs person %d: similarity %.3f", pid, qid, sim)
            if sim >= best:
                best, target = sim, qid
        if target is None:
            return
        del self.persons[pid]
        q = self.persons[target]
        q.emb = self.momentum * q.emb + (1 - self.momentum) * p.emb
        q.gallery = (q.gallery + p.gallery)[-self.gallery_size:]
        q.last_frame, q.centre, q.size, q.frames = p.last_frame, p.centre, p.size, q.frames + p.frames
        self.relabel[pid] = target
        for track, owner in self._track_to_person.items():
            if owner == pid:
                self._track_to_person[track] = target

    def _similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        if len(self.persons) < 2:
            # one person so far: the mean of all faces is theirs, and what is left after taking it
            # away is noise; compare the descriptors whole, where a same face scores near 1
            return self._raw_similarity(a, b) - (self.match_alone - self.match)
        a, b = a - self._mean, b - self._mean
        n = N_FHOG
        return 0.5 * float(_unit(a[:n]) @ _unit(b[:n]) + _unit(a[n:]) @ _unit(b[n:]))

    @staticmethod
    def _raw_similarity(a: np.ndarray, b: np.ndarray) -> float:
        n = N_FHOG
        return 0.5 * float(_unit(a[:n]) @ _unit(b[:n]) + _unit(a[n:]) @ _unit(b[n:]))

    def _due(self, face) -> bool:
        """Whether this face's appearance is measured in this frame."""
        pid = self._track_to_person.get(face.face_id)
        return pid is None or self.persons[pid].frames % self.appearance_every == 0

    def _near(self, face, p: _Person, index: int) -> bool:
        gap = index - p.last_frame
        dist = np.linalg.norm(_centre(face.box) - p.centre) / max(p.size, 1.0)
        return gap <= self.near_gap and dist <= 1 + 0.5 * gap

    def __call__(self, rgb: np.ndarray, faces: list, index: int) -> list:
        embs = [appearance(rgb, f) if self._due(f) else None for f in faces]
        for e in embs:  # running mean of all faces: what descriptors are compared against
            if e is None:
                continue
            self._seen += 1
            self._mean = e.copy() if self._mean is None else self._mean + (e - self._mean) / self._seen
        present = {self._track_to_person[f.face_id] for f in faces if f.face_id in self._track_to_person}
        new = [k for k, f in enumerate(faces) if f.face_id not in self._track_to_person]
        scored = []  # (rank, track, person): near matches first, then by similarity
        for k in new:
            for pid, p in self.persons.items():
                if pid in present:
                    continue
                sim = max(self._similarity(embs[k], g) for g in [p.emb, *p.gallery])
                near = self._near(faces[k], p, index)
                log.debug("frame %d track %d vs person %d: similarity %.3f%s", index, faces[k].face_id, pid,
                          sim, " (near)" if near else "")
                if sim >= (self.match_near if near else self.match):
                    scored.append((sim + near, k, pid))
        taken_tracks: set[int] = set()
        for sim, k, pid in sorted(scored, reverse=True):
            if k in taken_tracks or pid in present:
                continue
            self._track_to_person[faces[k].face_id] = pid
            present.add(pid)
            taken_tracks.add(k)
        for k in new:
            if k not in taken_tracks:
                pid, self._next_pid = self._next_pid, self._next_pid + 1
                f = faces[k]
                self.persons[pid] = _Person(embs[k], index, _centre(f.box), _size(f.box), 0, first_frame=index,
                                            tentative_until=index + self.settle_frames if self.persons else None,
                                            emb_sum=np.zeros_like(embs[k]))
                self._track_to_person[f.face_id] = pid
        for f, e in zip(faces, embs):
            pid = self._track_to_person[f.face_id]
            p = self.persons[pid]
            if e is not None:
                m = self.momentum ** self.appearance_every if p.frames else 0.0  # the same memory in frames
                p.emb = m * p.emb + (1 - m) * e
                if p.tentative_until is not None:
                    p.emb_sum, p.emb_count = p.emb_sum + e, p.emb_count + 1
            if p.frames % self.gallery_every == 0:  # the person as they looked at different times
                p.gallery = (p.gallery + [p.emb.astype(np.float32)])[-self.gallery_size:]
            p.last_frame, p.centre, p.size = index, _centre(f.box), _size(f.box)
            p.frames += 1
            f.face_id = pid
        self.settle(index)
        if index % 100 == 0:
            for p in self.persons.values():
                if index - p.last_frame > self.gallery_memory:
                    p.gallery = []
        return faces


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))
