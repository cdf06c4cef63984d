"""Synthetic abdominal CT phantoms with a liver reference: the embedded default dataset.

`make_phantom(seed, preset="small") -> Case` draws one case, deterministically from the seed
(same seed, same arrays, on any machine and in any process). `generate_phantom` returns the
`Phantom` with the tissue label map as well (tests, figures). `SyntheticDataset` in
`liverbench.data.datasets.synthetic` serves them as the `synthetic` dataset.
`liverbench.data.phantom.failure_modes.with_failure_mode(phantom, mode)` draws one opt-in hard case
into a copy (effusion, gas loop, border lesion, thin left lobe, thick slices); the defaults
never change.

Presets (`PRESETS`):

| preset | grid (x, y, z) | pixel (mm) | slice (mm) | time per case (CPU time, one thread) |
|---|---|---|---|---|
| tiny | 48 x 48 x 32 | 7.3-9.4 (FOV 350-450) | 7-9 | 0.06 s CPU |
| small | 96 x 96 x 48-64 | 3.65-4.7 (FOV 350-450) | 4-6 | 0.16 s CPU |
| realistic | 512 x 512 x 36-300 | 0.5-0.9 | 0.7, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5 | 4-7 s CPU |
| wide | 96 x 96 x 40-400 (200-520 mm, up to 200 mm above the liver) | 3.65-5.2 | 1-6 | training across fields of view |

`generate_phantom(seed, preset, phase=..., hu_offset=...)` forces the contrast phase ("contrast",
"native" or the late "arterial", which a seed never draws by itself) or adds a HU calibration
offset; `preset` may also be a `Preset` made elsewhere. `liverbench.data.phantom.suite.SUITE` is the
fixed generalisation suite built from these (issue 29; `benchmarks/generalisation.py`).

What a seed decides (`anatomy.py`, `acquisition.py`):
- anatomy (same at every preset): body outline with subcutaneous fat and wall muscle, spine
  (vertebral bodies, discs, canal, posterior elements), ribs, paraspinal and psoas muscles;
  lungs and heart above a two-domed diaphragm; the liver (right lobe, left lobe thinning to the
  left, caudate lobe near the IVC; a smooth random warp plus surface ripples; its iso-level set
  so the volume hits a target drawn from 1.1-1.9 l); spleen, stomach (with an air-fluid level),
  kidneys, gall bladder in its fossa (absent in ~10 %), pancreas, IVC and aorta, colon and small
  bowel, mesenteric strands; portal and hepatic vein trees; 0-6 hypo- or hyper-dense tumours;
  pleural effusion above the right (and sometimes left) dome in ~20 %;
- acquisition: contrast (portal-venous, ~65 %) or native phase with per-study tissue HU (native:
  spleen 2-10 HU below the liver, inside the noise; contrast: spleen 15-35 HU above, vessels
  25-90 HU above, myocardium, pancreas, stomach and bowel wall at liver-like HU); spacing;
  scan range (~20 % deliberately end inside the liver, short thin-slice scans can too); a 3 mm
  tissue texture; partial-volume blur (in-plane PSF with voxel averaging, Gaussian slice
  profile of FWHM = slice thickness); correlated Gaussian noise of 9-22 HU.

The reference follows SLiver07: the whole liver including its vessels and tumours, without the
IVC and the gall bladder. Orientation as `liverbench.data.volume`: array (z, y, x) with x towards the
patient's Left (the liver at small x), y Posterior, z Superior; `affine_from_spacing` with the
origin at the patient-frame position of voxel 0. Images are int16 HU in [-1024, 3071], masks
uint8. `meta`: phase, preset, seed, generator_version, liver_cut, effusion, tumours (kind,
radius), gallbladder, noise_sd, slice_thickness_mm, liver_hu, liver_ml, labels (tissue codes of
`Tissue`), structures (tissues present).

Realism (measured with `benchmarks/phantom_realism.py`, the same statistics on both;
"liver HU" inside the whole mask, vessels and tumours included; "noise": in-plane high-pass
std in the eroded liver; fat/bone/lung: body-voxel medians in [-200, -30], > 200, < -500 HU):

| case | phase | liver ml | liver HU mean | liver HU std | noise | fat | bone | lung/gas | air |
|---|---|---|---|---|---|---|---|---|---|
| real `ircadb1_01` | contrast | 1489 | 111 | 25 | 14 | -85 | 274 | -843 | -1024 |
| real `ircadb1_17` | contrast | 1861 | 99 | 36 | 22 | -88 | 300 | -896 | -1024 |
| real `ts_dicom_slab` | contrast | 699 (slab) | 89 | 22 | 11 | -77 | 354 | -514 | -998 |
| real `ts_example_ct` | native (by HU) | 1126 (cut) | 44 | 16 | 14 | -96 | 313 | -970 | -991 |
| phantom small, median of 8 | contrast | 1549 | 105 | 22 | 17 | -104 | 278 | -786 | -999 |
| phantom small, median of 4 | native | 1540 | 57 | 19 | 16 | -97 | 320 | -862 | -999 |

(SyntheticDataset(n_cases=12, preset="small", seed=0); uncut phantom livers 1121-1630 ml.) The
real -1024 air is the scanners' padding outside the reconstruction circle; the phantoms'
lung/gas median is higher because 4 mm voxels mix lung with the chest wall and diaphragm.

Hard on purpose: a plain intensity window around the liver's own mean (+-0.5 to 3 std, the best
of them) reaches Dice 0.37-0.70 on the small preset (seeds 0-9) (tested to stay below 0.85), because
spleen, muscle, heart, pancreas, bowel and stomach share the liver's HU in one phase or other.
"""

from liverbench.data.phantom.generate import GENERATOR_VERSION, Phantom, generate_phantom, make_phantom
from liverbench.data.phantom.presets import PRESETS, Preset, get_preset
from liverbench.data.phantom.tissues import LABEL_NAMES, Tissue

__all__ = ["GENERATOR_VERSION", "LABEL_NAMES", "PRESETS", "Phantom", "Preset", "Tissue", "generate_phantom",
           "get_preset", "make_phantom"]
