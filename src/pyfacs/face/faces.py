"""Find faces in a frame and follow them to the next: detection + mesh + pose, as one stage.

In video, a face found once is followed by re-running the mesh in a region predicted from its last
mesh (as MediaPipe does), which is far cheaper than detecting; detection runs on the first frame,
whenever no face is followed, and every ``detect_every`` frames to pick up faces that enter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pyfacs.face.detect import Detection, FaceDetector, containment, iou
from pyfacs.face.mesh import FaceMesh, MeshResult
from pyfacs.face.pose import head_pose_deg
from pyfacs.face.roi import Roi


@dataclass
class Face:
    face_id: int
    score: float
    box: np.ndarray  # x1, y1, x2, y2 (frame pixels): extent of the 468-point mesh
    lmk68: np.ndarray  # (68, 2) frame pixels, iBUG order
    pose_deg: tuple[float, float, float]
    mesh: MeshResult | None = None  # absent when landmarks came from another tool


@dataclass
class _Track:
    face_id: int
    roi: Roi


def _mesh_box(points: np.ndarray) -> np.ndarray:
    xy = points[:468, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


@dataclass
class FaceFinder:
    max_faces: int | None = None
    min_face_score: float = 0.5
    detect_every: int = 10  # video frames
    with_iris: bool = False
    num_threads: int = 1
    # video frames from one analysed frame to the next (analyze --every): detect_every counts video
    # frames, so that a face lost while others are followed is looked for as soon at --every 10 as at 1
    frame_step: int = field(default=1, init=False)
    _tracks: list[_Track] = field(default_factory=list, init=False)
    _next_id: int = field(default=0, init=False)
    _since_detect: int = field(default=0, init=False)
    _since_wide: int = field(default=0, init=False)  # detections since the last full-range fallback
    _thumb: np.ndarray | None = field(default=None, init=False)  # the last analysed frame, 32×32 grey

    def __post_init__(self) -> None:
        self.detector = FaceDetector("blazeface.short-range", num_threads=self.num_threads)
        self._full_range: FaceDetector | None = None
        self.mesh = FaceMesh(with_iris=self.with_iris, num_threads=self.num_threads)

    def reset(self) -> None:
        """Forget followed faces (call between unrelated sources)."""
        self._tracks, self._next_id, self._since_detect, self._since_wide = [], 0, 0, 0
        self._thumb = None

    # a cut: the mean grey-level change of a 32×32 thumbnail between analysed frames. Measured on
    # the sample videos: within a shot at most 10.5 (fast motion), at a cut between scenes 64-143.
    # Frames further apart (--every) change more within a shot: at most 21.9 / 28.9 / 41.3 at 5 / 10 /
    # 30 frames apart (multi_face.avi, the most moving), so the bar rises with the step, to 50 at most
    CUT = 25.0
    CUT_FAR = 50.0

    def _scene_cut(self, rgb: np.ndarray) -> bool:
        """Whether ``rgb`` starts a new shot: followed regions would then sit on whatever is now
        there (the face mesh scores a half face or a wall highly), so faces are found afresh."""
        # the green channel of every step-th pixel, then area-averaged: the same figures as the full
        # grey image at a fifth of the cost (0.07 ms for 640×480)
        step = max(1, min(rgb.shape[:2]) // 128)
        small = cv2.resize(rgb[::step, ::step, 1].copy(), (32, 32), interpolation=cv2.INTER_AREA)
        before, self._thumb = self._thumb, small.astype(np.float32)
        bar = min(self.CUT + (self.frame_step - 1), self.CUT_FAR)
        return before is not None and float(np.abs(self._thumb - before).mean()) > bar

    # -- detection -----------------------------------------------------------------------------
    def _full(self) -> FaceDetector:
        if self._full_range is None:
            self._full_range = FaceDetector("blazeface.full-range", num_threads=self.num_threads)
        return self._full_range

    def detect(self, rgb: np.ndarray, *, thorough: bool, wide: bool = True) -> list[Detection]:
        """Faces in one frame, best first.

        Large frames (≥ 1000 px) also get the full-range model on the whole frame and on 640 px
        tiles, which finds faces too small for one pass over the whole frame (down to ~40 px); smaller
        frames get it when the short-range model finds nothing and ``wide`` (in video, every
        ``detect_every``-th detection: frames without a face are detected on every frame, and the
        full-range pass would triple their cost).
        ``thorough`` (still images) also looks at the three other right-angle rotations: BlazeFace
        was trained on upright faces, and an upside-down face scores higher when turned upright.
        """
        h, w = rgb.shape[:2]
        large = max(h, w) >= 1000
        found: list[Detection] = []
        for k in ((0, 1, 2, 3) if thorough else (0,)):
            img = np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb
            dets = self.detector(img)
            if thorough or large or (wide and not dets):  # (faces far from the camera: short-range misses them)
                dets += self._full()(img)
            found += [_unrotate(d, k, w, h) for d in dets] if k else dets
        if large:
            found += self._tiled(rgb)
        return _nms(found)

    TILE = 640  # px; faces of ~40-300 px in a large frame are found in tiles this size
    KEEP_FOLLOWED = 1.25  # --max-faces: a new face displaces a followed one when this much larger

    def _tiled(self, rgb: np.ndarray) -> list[Detection]:
        """Full-range model on overlapping 640 px tiles (half a tile apart)."""
        h, w = rgb.shape[:2]
        t = min(self.TILE, h, w)
        if t < self.TILE // 4:
            return []  # a strip: no face the whole-frame passes missed fits in it
        ys = sorted({*range(0, h - t, t // 2), h - t})
        xs = sorted({*range(0, w - t, t // 2), w - t})
        out = []
        for y0 in ys:
            for x0 in xs:
                for d in self._full()(np.ascontiguousarray(rgb[y0:y0 + t, x0:x0 + t])):
                    off = np.array([x0, y0], np.float64)
                    out.append(Detection(d.box + np.tile(off, 2), d.keypoints + off, d.score))
        return out

    # -- per frame ------------------------------------------------------------------------------
    def __call__(self, rgb: np.ndarray, *, still: bool = False) -> list[Face]:
        """Faces in ``rgb``; ``still`` treats it as an independent image (no following): the faces
        followed in a stream, and their numbering, are left as they were for its next frame."""
        if still:
            kept = self._tracks, self._next_id, self._since_detect, self._since_wide, self._thumb
            self.reset()
            try:
                return self._find(rgb, still=True)
            finally:
                self._tracks, self._next_id, self._since_detect, self._since_wide, self._thumb = kept
        return self._find(rgb, still=False)

    def _find(self, rgb: np.ndarray, *, still: bool) -> list[Face]:
        if not still and self._scene_cut(rgb):
            self._tracks = []
        h, w = rgb.shape[:2]
        faces: list[Face] = []
        moved: dict[int, float] = {}  # followed faces: how far each moved, in its own sizes
        for tr in self._tracks:  # follow known faces first
            face = self._mesh_face(rgb, tr.roi, tr.face_id, w, h)
            if face is not None:
                faces.append(face)
                centre = (face.box[:2] + face.box[2:]) / 2
                moved[face.face_id] = float(np.hypot(centre[0] - tr.roi.cx, centre[1] - tr.roi.cy)) / tr.roi.size
        due = still or not faces or (self._since_detect + 1) * self.frame_step >= self.detect_every
        self._since_detect = 0 if due else self._since_detect + 1
        followed = {f.face_id for f in faces}
        # (with --max-faces N reached, still looked for: a larger face arriving later must be found;
        # only detections wider than the narrowest followed face are worth a mesh then)
        full = self.max_faces is not None and len(faces) >= self.max_faces and not still
        narrowest = min(f.box[2] - f.box[0] for f in faces) if full else 0.0
        if due:
            candidates = []
            # (every detect_every video frames, as the short-range detector's cadence)
            wide_every = max(1, -(-self.detect_every // self.frame_step))
            wide, self._since_wide = self._since_wide == 0, (self._since_wide + 1) % wide_every
            for det in self.detect(rgb, thorough=still, wide=wide):
                if faces and iou(det.box, np.stack([f.box for f in faces])).max() > 0.3:
                    continue  # a face already followed
                if det.box[2] - det.box[0] <= narrowest:
                    continue  # (--max-faces full: it could not displace one)
                face = self._mesh_face(rgb, FaceMesh.roi_from_detection(det.box, det.keypoints), -1, w, h)
                if face is not None:
                    candidates.append(face)
            faces += self._new_faces(faces, candidates)
        faces = _dedupe(faces, moved)
        if self.max_faces is not None and len(faces) > self.max_faces:
            # the largest (width × score); a face followed already stays unless a new one is clearly
            # larger, so that two faces of about one size do not take turns
            faces = sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * f.score
                           * (self.KEEP_FOLLOWED if f.face_id in followed else 1.0))[: self.max_faces]
            faces.sort(key=lambda f: f.face_id)
        self._tracks = [_Track(f.face_id, FaceMesh.roi_from_mesh(f.mesh.points)) for f in faces]
        return faces

    def _new_faces(self, known: list[Face], candidates: list[Face]) -> list[Face]:
        """The candidates that are faces of their own, numbered in detection order: of the meshes
        that are one face seen again (:func:`_same_face`), the surest of its face wins."""
        taken = list(known)
        keep = []
        for i in sorted(range(len(candidates)), key=lambda i: -candidates[i].score):
            if not any(_same_face(candidates[i], other) for other in taken):
                taken.append(candidates[i])
                keep.append(i)
        new = [candidates[i] for i in sorted(keep)]
        for face in new:
            face.face_id, self._next_id = self._next_id, self._next_id + 1
        return new

    def cropped(self, rgb: np.ndarray) -> Face | None:
        """The face of an image that is already a face crop (no detection): two mesh passes, the
        second in the region the first one found."""
        h, w = rgb.shape[:2]
        roi = Roi(w / 2, h / 2, max(h, w) * 1.2, 0.0)
        face = self._mesh_face(rgb, roi, 0, w, h, min_score=0.0)
        refined = self._mesh_face(rgb, FaceMesh.roi_from_mesh(face.mesh.points), 0, w, h, min_score=0.0)
        best = refined if refined.score >= face.score else face
        best.box = np.array([0.0, 0.0, float(w), float(h)])
        return best

    def _mesh_face(self, rgb, roi, face_id, w, h, min_score=None) -> Face | None:
        res = self.mesh(rgb, roi)
        if res.score < (self.min_face_score if min_score is None else min_score):
            return None
        return Face(face_id, res.score, _mesh_box(res.points), res.lmk68(), head_pose_deg(res.points, w, h), res)


def _unrotate(d: Detection, k: int, w: int, h: int) -> Detection:
    """Map a detection on ``np.rot90(img, k)`` (k quarter turns counter-clockwise) back to ``img``."""
    def back(p: np.ndarray) -> np.ndarray:
        x, y = p[:, 0], p[:, 1]
        if k == 1:  # rot90 ccw: new(x, y) = old(w-1-y, x)
            return np.stack([w - 1 - y, x], 1)
        if k == 2:
            return np.stack([w - 1 - x, h - 1 - y], 1)
        return np.stack([y, h - 1 - x], 1)  # k == 3

    corners = back(d.box.reshape(2, 2))
    return Detection(np.concatenate([corners.min(0), corners.max(0)]), back(d.keypoints), d.score)


def _same_face(a: Face, b: Face) -> bool:
    """Whether two meshes are one face seen twice: their boxes overlap, or the smaller box lies
    mostly inside the larger with its facial features inside the larger's (what a detection of half
    a face, or the upside-down pass over an upright face, gives). A smaller real face over a larger
    one's cheek or chin has its features outside the larger's, and stays a face of its own."""
    if iou(a.box, b.box[None])[0] > 0.3:
        return True
    if containment(a.box, b.box[None])[0] <= 0.5:
        return False
    small, big = sorted((a, b), key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    features = cv2.convexHull(big.lmk68[17:].astype(np.float32))  # brows, eyes, nose, mouth
    centre = small.lmk68[17:].mean(0)
    return cv2.pointPolygonTest(features, (float(centre[0]), float(centre[1])), False) >= 0


def _nms(dets: list[Detection], iou_thr: float = 0.3) -> list[Detection]:
    """Keep the highest-scoring detection of each face."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if not kept or iou(d.box, np.stack([k.box for k in kept])).max() <= iou_thr:
            kept.append(d)
    return kept


def _dedupe(faces: list[Face], moved: dict[int, float]) -> list[Face]:
    """Two followed regions can converge on one face (people crossing): keep the track that moved
    least to get there — the face that was already there — then the older one."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (moved.get(f.face_id, np.inf), f.face_id)):
        if not kept or iou(f.box, np.stack([k.box for k in kept])).max() <= 0.5:
            kept.append(f)
    return sorted(kept, key=lambda f: f.face_id)
