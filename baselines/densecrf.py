"""Dense (fully connected) CRF refinement, after Dou et al. 2016, section 2.3.

Energy E(y) = sum_i -log p^(y_i) + sum_ij [y_i != y_j] phi(x_i, x_j) with
    p^ = (1 - sum_d tau_d) p_final + sum_d tau_d p_branch_d          (eq. 4)
    phi = mu1 exp(-|s_i - s_j|^2 / 2 theta_a^2 - |I_i - I_j|^2 / 2 theta_b^2)
        + mu2 exp(-|s_i - s_j|^2 / 2 theta_g^2)                      (eq. 5)
solved by mean-field inference (pydensecrf, Kraehenbuehl & Koltun's permutohedral lattice).

Choices where the paper is silent (documented here):
- Positions s are in **mm** (pixel indices times spacing), so theta_a and theta_g mean the same
  on every scanner; intensities I are in HU, so theta_b is in HU.
- The CRF runs on each transverse slice (mode="2d", as the paper) or on the whole region in 3D
  (mode="3d", the option the issue asks for), always inside a region of interest around the
  prediction (baselines/roi.py); in 2D each slice is cropped to its own box, and slices run on
  `workers` threads -- that, not a different algorithm, is what makes it fast.
- Branch maps come from `Prediction.extras` "branch1", "branch2", ... with weights `tau`;
  absent branches are skipped (a method without deep supervision uses its final map alone).
- Pairwise kernels use pydensecrf's default symmetric normalisation.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pydensecrf.densecrf as dcrf
from pydensecrf.utils import create_pairwise_bilateral, create_pairwise_gaussian

from baselines.roi import find_roi
from liverbench.data.volume import Volume
from liverbench.errors import ConfigError, InputError
from liverbench.plugins.base import Context, Param, PostProcessor, Prediction, Resources

EPS = 1e-6  # clip for -log p: a sure voxel costs 13.8, more than any pairwise sum (mu1 + mu2)


def combined_probability(pred: Prediction, tau) -> np.ndarray:
    """Eq. 4: weighted average of the final map and the branch maps that are present."""
    prob = np.asarray(pred.prob, dtype=np.float32)
    branches = [(float(t), pred.extras.get(f"branch{d}")) for d, t in enumerate(tau, start=1)]
    branches = [(t, b) for t, b in branches if b is not None and t != 0.0]
    total = sum(t for t, _ in branches)
    if not branches:
        return prob
    if total >= 1.0 or any(t < 0 for t, _ in branches):
        raise ConfigError(f"densecrf: tau weights must be >= 0 and sum below 1, got {list(tau)}")
    out = (1.0 - total) * prob
    for t, b in branches:
        if b.shape != prob.shape:
            raise InputError(f"densecrf: branch map shape {b.shape} differs from the final map {prob.shape}")
        out += t * np.asarray(b, dtype=np.float32)
    return out


def unary(prob: np.ndarray) -> np.ndarray:
    p = np.clip(prob.astype(np.float32).ravel(), EPS, 1.0 - EPS)
    return np.ascontiguousarray(np.stack([-np.log1p(-p), -np.log(p)]), dtype=np.float32)


def crf_inference(prob: np.ndarray, image: np.ndarray, spacing, p: dict[str, Any]) -> np.ndarray:
    """Mean-field CRF on an n-D block (2D slice or 3D region); returns the bool liver mask.

    In-plane spacing finer than `crf_spacing_mm` is block-averaged by an integer factor first and
    the CRF's liver marginal interpolated back: the lattice cost grows with the pixel count, and a
    0.57 mm slice refined at 1.71 mm costs a ninth of the lattice work (the kernels span 2-15 mm).
    """
    factor = 1
    if p.get("crf_spacing_mm"):
        factor = max(1, int(round(float(p["crf_spacing_mm"]) / min(spacing[-2:]))))
    if factor == 1:
        return _crf_marginal(prob, image, spacing, p) > 0.5
    from baselines.intensity.grid import block_mean, upsample_prob

    flat = prob.ndim == 2  # block_mean/upsample_prob work on 3D arrays: a slice gets a unit z axis
    prob3, image3 = (prob[None], image[None]) if flat else (prob, image)
    factors = (1, factor, factor)
    coarse_spacing = tuple(s * f for s, f in zip(spacing, factors[-len(spacing):]))
    coarse_prob, coarse_image = block_mean(prob3, factors), block_mean(image3, factors)
    marginal = _crf_marginal(coarse_prob[0] if flat else coarse_prob, coarse_image[0] if flat else coarse_image,
                             coarse_spacing, p)
    fine = upsample_prob(marginal[None] if flat else marginal, factors, prob3.shape, support_level=-1.0)
    return (fine[0] if flat else fine) > 0.5


def _crf_marginal(prob: np.ndarray, image: np.ndarray, spacing, p: dict[str, Any]) -> np.ndarray:
    shape = prob.shape
    crf = dcrf.DenseCRF(int(np.prod(shape)), 2)
    crf.setUnaryEnergy(unary(prob))
    # sdims are in index units: theta_mm / spacing puts positions in mm.
    appearance = create_pairwise_bilateral(
        sdims=tuple(p["theta_alpha"] / s for s in spacing), schan=(p["theta_beta"],),
        img=np.ascontiguousarray(image[..., None], dtype=np.float32), chdim=image.ndim)
    crf.addPairwiseEnergy(appearance, compat=float(p["mu1"]))
    smoothness = create_pairwise_gaussian(sdims=tuple(p["theta_gamma"] / s for s in spacing), shape=shape)
    crf.addPairwiseEnergy(smoothness, compat=float(p["mu2"]))
    q = np.asarray(crf.inference(int(p["iterations"]))).reshape((2,) + shape)
    return (q[1] / np.maximum(q[0] + q[1], 1e-12)).astype(np.float32)


class DenseCRF(PostProcessor):
    """Dou et al.'s fully connected CRF, per transverse slice (default) or in 3D, inside an ROI."""

    name = "densecrf"
    # 2: tuning searches all six parameters of Sec. 2.3 (coordinate search); 3: the key holds
    # every parameter (defaults filled in, issue 18), results unchanged
    version = "3"
    resources = Resources(num_cpus=2, memory_gb=2.0)
    wants = ("branch1", "branch2")
    DEFAULTS: dict[str, Any] = {
        "mu1": 5.0, "mu2": 3.0,  # appearance / smoothness weights
        "theta_alpha": 10.0,  # mm
        "theta_beta": 15.0,  # HU
        "theta_gamma": 2.0,  # mm
        "tau": [0.2, 0.2],  # branch weights (eq. 4); the DSN's supervision weights were 0.3/0.4
        "iterations": 5,
        "mode": "2d",  # "2d": transverse slices as in the paper; "3d": the whole region
        "roi": True, "roi_margin_mm": 10.0, "roi_level": 0.05,
        "workers": 2,  # threads over slices (mode "2d")
        "crf_spacing_mm": 1.5,  # in-plane grid the CRF runs on (rounded integer block factor); 0: native
    }
    param_checks = {
        "mu1": Param(float, ge=0), "mu2": Param(float, ge=0), "theta_alpha": Param(float, gt=0),
        "theta_beta": Param(float, gt=0), "theta_gamma": Param(float, gt=0),
        "tau": Param(list, item=Param(float, ge=0),
                     check=lambda t: None if sum(t) < 1 else f"{list(t)} must sum below 1 (eq. 4)"),
        "iterations": Param(int, ge=1), "mode": Param(str, choices=("2d", "3d")), "roi": Param(bool),
        "roi_margin_mm": Param(float, ge=0), "roi_level": Param(float, ge=0, lt=1), "workers": Param(int, ge=1),
        "crf_spacing_mm": Param(float, ge=0),
    }
    defaults = DEFAULTS

    def __call__(self, image: Volume, pred: Prediction, ctx: Context) -> np.ndarray:
        prob = combined_probability(pred, self.params["tau"])
        if prob.shape != image.shape:
            raise InputError(f"densecrf ({ctx.case_id or 'case'}): prob shape {prob.shape} != image {image.shape}")
        roi = find_roi(prob, image.spacing, self.params["roi_margin_mm"], self.params["roi_level"]) if self.params["roi"] else None
        if self.params["roi"] and roi is None:  # no foreground at all: nothing to refine
            return np.zeros(image.shape, dtype=bool)
        p_crop = prob if roi is None else roi.crop(prob)
        i_crop = np.asarray(image.array if roi is None else roi.crop(image.array), dtype=np.float32)
        if self.params["mode"] == "3d":
            refined = crf_inference(p_crop, i_crop, image.spacing, self.params)
        else:
            refined = self._slices(p_crop, i_crop, image.spacing[1:])
        return refined if roi is None else roi.paste(refined, fill=False)

    def _slices(self, prob: np.ndarray, image: np.ndarray, spacing) -> np.ndarray:
        """The 2D CRF on every transverse slice, each cropped to its own ROI, on `workers` threads
        (pydensecrf releases the GIL during inference: 2 threads ran 1.6x faster on 2 cores)."""
        refined = np.zeros(prob.shape, dtype=bool)
        jobs = []
        for k in range(prob.shape[0]):
            if not self.params["roi"]:
                jobs.append((k, (slice(None), slice(None))))
                continue
            roi = find_roi(prob[k][None], (1.0,) + tuple(spacing), self.params["roi_margin_mm"], self.params["roi_level"])
            if roi is not None:  # a slice with no liver near it stays empty
                jobs.append((k, roi.slices[1:]))

        def run(job):
            k, box = job
            refined[k][box] = crf_inference(prob[k][box], image[k][box], spacing, self.params)

        workers = max(1, int(self.params["workers"]))
        if workers == 1 or len(jobs) < 2:
            for job in jobs:
                run(job)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, jobs))
        return refined

    @classmethod
    def param_space(cls, extras: frozenset[str] = frozenset()) -> dict[str, list[Any]]:
        """All six parameters of Dou et al. Sec. 2.3 (tau_d per branch, mu1, mu2, theta_alpha,
        theta_beta, theta_gamma), each over three values (the default first), searched
        coordinate-wise on training-set predictions (liverbench.run.tuning: at most 29 points in two
        sweeps). A branch the predictions lack gets no tau axis: its weight stays 0, so a method
        without deep supervision (cnn3d) is refined from its final map alone by construction."""
        space: dict[str, list[Any]] = {
            "mu1": [5.0, 2.0, 10.0], "mu2": [3.0, 1.0, 6.0],
            "theta_alpha": [10.0, 5.0, 20.0],  # mm
            "theta_beta": [15.0, 8.0, 25.0],  # HU
            "theta_gamma": [2.0, 1.0, 4.0],  # mm
        }
        for d, _ in enumerate(cls.wants):
            # 0.2 + 0.4 + ... stays below 1 for two branches (eq. 4 needs sum(tau) < 1)
            space[f"tau[{d}]"] = [0.2, 0.0, 0.4] if f"branch{d + 1}" in extras else [0.0]
        return space
