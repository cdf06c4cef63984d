"""The report's figures (matplotlib, Agg backend, PNG files).

- Overlays (Dou et al. Fig. 3): reference contour in green, segmentation in red, in the
  transverse, sagittal and coronal planes through the liver's centre, for the best, median
  and worst case of each entry. Images come from the run's dataset (re-loaded through the
  registry), masks from the predictions the run saved.
- Box plots of each metric per entry, learning curves of trained methods (Dou et al.
  Fig. 2a), and a runtime bar chart by stage.

Each function writes one PNG and returns its path, or returns a note (str) saying why the
figure could not be drawn; the report prints the note instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from scipy import ndimage  # noqa: E402

from liverbench import schema  # noqa: E402
from liverbench.report.tables import STAGES  # noqa: E402

DPI = 90
HU_WINDOW = (-200.0, 300.0)  # abdominal soft-tissue window, as the preprocessing default
REFERENCE_COLOUR, SEGMENTATION_COLOUR = "#22c55e", "#ef4444"
SMOOTH_ABOVE = 60  # points per curve beyond which a moving average is drawn over the raw losses
STAGE_COLOURS = dict(zip(STAGES, ("#94a3b8", "#60a5fa", "#f59e0b", "#ef4444", "#a78bfa")))


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def best_median_worst(case_scores: pd.Series) -> list[tuple[str, str]]:
    """[(role, case_id)] for the best, median and worst case by score (fewer when fewer cases).

    The median case is the middle one of the cases sorted by score (the better of the two
    middle ones for an even count). Ties are broken by case id so the choice is stable.
    """
    ordered = case_scores.dropna().sort_index().sort_values(ascending=False, kind="mergesort")
    if ordered.empty:
        return []
    picks = [("best", ordered.index[0]), ("median", ordered.index[(len(ordered) - 1) // 2]),
             ("worst", ordered.index[-1])]
    seen, unique = set(), []
    for role, case_id in picks:
        if case_id not in seen:
            seen.add(case_id)
            unique.append((role, case_id))
    return unique


def liver_centre(reference: np.ndarray, segmentation: np.ndarray) -> tuple[int, int, int]:
    """Voxel index (z, y, x) of the reference liver's centre of mass (the segmentation's when the
    reference is empty, the grid centre when both are)."""
    for mask in (reference, segmentation):
        if mask.any():
            return tuple(int(round(c)) for c in ndimage.center_of_mass(mask))
    return tuple(s // 2 for s in reference.shape)


def planes(array: np.ndarray, centre, spacing):
    """(name, 2D slice, aspect, origin) for the three planes through `centre`.

    Arrays are canonical (z, y, x) with x towards the patient's left, y posterior, z superior:
    the transverse slice is shown radiologically (anterior up, patient's right on the left),
    sagittal and coronal with superior up. Aspect = row spacing / column spacing, so anisotropic
    voxels keep the body's real proportions.
    """
    z, y, x = centre
    sz, sy, sx = spacing
    return [
        ("transverse", array[z], sy / sx, "upper"),
        ("sagittal", array[:, :, x], sz / sy, "lower"),
        ("coronal", array[:, y, :], sz / sx, "lower"),
    ]


def overlay_views(image: np.ndarray, reference: np.ndarray, segmentation: np.ndarray, spacing) -> list[dict]:
    """The three planes through the liver centre, as small 2D arrays (large volumes are not kept)."""
    centre = liver_centre(reference, segmentation)
    return [
        {"plane": plane, "image": np.asarray(img, np.float32), "reference": ref, "segmentation": seg,
         "aspect": aspect, "origin": origin}
        for (plane, img, aspect, origin), (_, ref, _, _), (_, seg, _, _) in zip(
            planes(image, centre, spacing), planes(reference, centre, spacing), planes(segmentation, centre, spacing))
    ]


def overlay_figure(panels: list[dict], title: str, path: Path) -> Path:
    """One column per case (dicts with case_id, role, score, views from `overlay_views`), rows
    transverse/sagittal/coronal, like Dou et al. Fig. 3."""
    fig, axes = plt.subplots(3, len(panels), figsize=(2.9 * len(panels), 8.4), squeeze=False)
    for column, panel in enumerate(panels):
        for row, view in enumerate(panel["views"]):
            ax = axes[row, column]
            ax.imshow(view["image"], cmap="gray", vmin=HU_WINDOW[0], vmax=HU_WINDOW[1], aspect=view["aspect"],
                      origin=view["origin"], interpolation="nearest")
            for mask, colour in ((view["reference"], REFERENCE_COLOUR), (view["segmentation"], SEGMENTATION_COLOUR)):
                if mask.any() and not mask.all():
                    ax.contour(mask.astype(np.float32), levels=[0.5], colors=[colour], linewidths=1.1)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(view["plane"])
        axes[0, column].set_title(f"{panel['role']}: {panel['case_id']}\nscore {panel['score']:{schema.SCORE_FORMAT}}",
                                  fontsize=9)
    handles = [Line2D([], [], color=REFERENCE_COLOUR, label="reference"),
               Line2D([], [], color=SEGMENTATION_COLOUR, label="segmentation")]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return _save(fig, path)


def boxplots(values: pd.DataFrame, order: list[str], path: Path) -> Path | str:
    """One panel per leaderboard metric and the SLiver07 score, one horizontal box per entry
    (best-ranked at the top)."""
    order = [e for e in order if (values["entry"] == e).any()]
    if not order:
        return "no successful rows to plot"
    panels = [(m.column, m.header) for m in schema.METRICS if m.leaderboard] + [(schema.SCORE, "SLiver07 score")]
    fig, axes = plt.subplots(1, len(panels), sharey=True,
                             figsize=(2.3 * len(panels) + 2.5, 0.32 * len(order) + 1.4), squeeze=False)
    for ax, (column, label) in zip(axes[0], panels):
        data = [values.loc[values["entry"] == e, column].dropna().to_numpy(float) for e in reversed(order)]
        ax.boxplot(data, orientation="horizontal", widths=0.6, showfliers=True,
                   medianprops={"color": "#dc2626"}, flierprops={"markersize": 3})
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(range(1, len(order) + 1), labels=list(reversed(order)), fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def learning_curves(curves: pd.DataFrame, path: Path) -> Path | str:
    """Loss against step for every trained model: training solid, validation dashed (any other
    recorded split dotted), one colour per method (Dou et al. Fig. 2a compares 3D CNN and 3D DSN
    this way)."""
    if curves is None or curves.empty:
        return "no learning curves were recorded (no trained methods, or fits predate curves.json)"
    curves = curves.dropna(subset=["step", "loss"])
    if curves.empty:
        return "learning curves hold no finite losses"
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = list(dict.fromkeys(curves["method"].astype(str)))
    for i, method in enumerate(methods):
        colour = colours[i % len(colours)]
        for j, (_, fit) in enumerate(curves[curves["method"].astype(str) == method].groupby("fit_key", sort=False)):
            for split in sorted(set(fit["split"].astype(str)), key=lambda x: (x != "train", x != "val", x)):
                part = fit[fit["split"].astype(str) == split].sort_values("step")
                style = {"train": "-", "val": "--"}.get(split, ":")  # e.g. an adversarial loss
                loss = part["loss"].astype(float)
                if len(part) > SMOOTH_ABOVE:  # per-step losses are noisy: faint raw curve, moving average on top
                    ax.plot(part["step"], loss, style, color=colour, linewidth=0.6, alpha=0.25)
                    loss = loss.rolling(max(5, len(part) // 25), center=True, min_periods=1).mean()
                ax.plot(part["step"], loss, style, color=colour, linewidth=1.4 if j == 0 else 0.8,
                        alpha=1.0 if j == 0 else 0.5, label=f"{method} ({split})" if j == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def runtime_chart(profile: pd.DataFrame, fits: pd.DataFrame, order: list[str], path: Path) -> Path | str:
    """Left: median seconds per case, stacked by stage, per entry and device. Right: median
    fit time per trained method."""
    per_case = profile[profile["stage"] != "fit"] if len(profile) else profile
    if per_case is None or per_case.empty:
        return "no stage timings were recorded"
    keys = [(e, d) for e in order for d in sorted(set(per_case.loc[per_case["entry"] == e, "device"]))]
    multi_device = per_case["device"].nunique() > 1
    labels = [f"{e} [{d}]" if multi_device else e for e, d in keys]
    has_fits = fits is not None and not fits.empty
    fig, axes = plt.subplots(1, 2 if has_fits else 1, figsize=(13 if has_fits else 8.5, 0.32 * len(keys) + 1.6),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 1.4]} if has_fits else None)
    ax = axes[0, 0]
    left = np.zeros(len(keys))
    positions = np.arange(len(keys))[::-1]
    for stage in STAGES:
        widths = np.array([
            per_case.loc[(per_case["entry"] == e) & (per_case["device"] == d) & (per_case["stage"] == stage),
                         "median_s"].sum() for e, d in keys])
        if not widths.any():
            continue
        ax.barh(positions, widths, left=left, color=STAGE_COLOURS[stage], label=stage, height=0.7)
        left += widths
    ax.set_yticks(positions, labels=labels, fontsize=8)
    ax.set_xlabel("median seconds per case (warm)")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(STAGES), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    if has_fits:
        ax = axes[0, 1]
        fit_pos = np.arange(len(fits))[::-1]
        ax.barh(fit_pos, fits["median_s"], color="#0ea5e9", height=0.6)
        ax.set_yticks(fit_pos, labels=fits["method"], fontsize=8)
        ax.set_ylim(-0.8, max(len(fits) - 0.2, 2.2))  # one model must not fill the panel
        ax.set_xlabel("median fit seconds per model")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


# Verdict -> colour of its marker in the forest plot: for the question, against it, neither, unknown.
VERDICT_COLOURS = {"reproduced": "#16a34a", "gain": "#16a34a", "A better": "#16a34a",
                   "contradicted": "#dc2626", "loss": "#dc2626", "B better": "#dc2626",
                   "not significant": "#64748b"}
INCONCLUSIVE_COLOUR = "#cbd5e1"
KIND_TITLES = {"claim": "papers' claims (A − B: claimed better − worse)", "comparison": "your comparisons (A − B)",
               "gain": "refinements (refined − threshold)"}


def forest_plot(questions: pd.DataFrame, path: Path, label_chars: int = 60) -> Path | str:
    """One line per question of the Findings family: the mean ΔScore as a dot coloured by its
    verdict, its (unadjusted) 95 % bootstrap CI as a bar, zero as a dashed line; questions grouped
    by kind (claims, the user's comparisons, refinement gains), in the Findings order."""
    if questions is None or questions.empty:
        return "no question of the Findings family could be tested"
    labels, ys, group_titles = [], [], []
    y = 0.0
    for kind, group in questions.groupby("kind", sort=False):
        group_titles.append((y, KIND_TITLES.get(kind, kind)))
        y += 1.1  # a row of its own for the group's title
        for row in group.itertuples(index=False):
            text = str(row.question)
            labels.append(text if len(text) <= label_chars else text[: label_chars - 1] + "…")
            ys.append(y)
            y += 1.0
        y += 0.4
    fig, ax = plt.subplots(figsize=(9.0, 0.34 * y + 1.2))
    for yi, row in zip(ys, questions.itertuples(index=False)):
        colour = VERDICT_COLOURS.get(row.verdict, INCONCLUSIVE_COLOUR)
        if np.isfinite(row.ci_low) and np.isfinite(row.ci_high):
            ax.plot([row.ci_low, row.ci_high], [yi, yi], color=colour, linewidth=2.2, solid_capstyle="butt")
        ax.plot([row.mean_diff], [yi], "o", color=colour, markersize=6, markeredgecolor="#1f2937",
                markeredgewidth=0.6)
    ax.axvline(0.0, color="#475569", linestyle="--", linewidth=0.9)
    ax.set_yticks(ys, labels=labels, fontsize=8)
    for y0, title in group_titles:
        ax.text(0.0, y0 + 0.15, title, transform=ax.get_yaxis_transform(), fontsize=8.5, fontweight="bold",
                ha="right", va="center", color="#334155", clip_on=False)
    ax.set_ylim(y - 0.2, -0.4)
    ax.set_xlabel("ΔScore, SLiver07 points (dot: mean over cases; bar: unadjusted 95 % bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=t) for t, c in (
        ("significant for A / gain / reproduced", "#16a34a"), ("significant against", "#dc2626"),
        ("not significant", "#64748b"), ("inconclusive (n too small)", INCONCLUSIVE_COLOUR))]
    ax.legend(handles=handles, fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return _save(fig, path)
