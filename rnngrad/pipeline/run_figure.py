"""The per-run figure logged with each MLflow run: the gradient profile over training.

Saved at DPI dots per inch: 780 × 570 pixels for one panel, sharp in the MLflow UI's artifact
view."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np

DPI = 150


def profile_figure(steps, log10_long, log10_total, title: str, same: bool = False):
    """log10 ‖∂ℓ_T/∂h_t‖ (long-range) and ‖∂J/∂h_t‖ (total) against t, one line per recorded
    training step, from dark (step 0) to light (last). The axis shows log10 values (a log
    scale that keeps going below float64's 1e-308, where the long-range profile may be).
    With the loss at the last step only (`same`) the two are one profile: one panel."""
    n = 1 if same else 2
    fig, axes = plt.subplots(
        1, n, figsize=(5.2 * n, 3.8), sharex=True, squeeze=False, layout="constrained"
    )  # constrained: every label inside the figure, however long
    axes = axes[0]
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(steps)))
    t = np.arange(1, len(log10_long[0]) + 1)
    panels = [
        (axes[0], log10_long, "‖∂J/∂h_t‖ = ‖∂ℓ_T/∂h_t‖" if same else "long-range  ‖∂ℓ_T/∂h_t‖")
    ]
    if not same:
        panels.append((axes[1], log10_total, "total  ‖∂J/∂h_t‖"))
    for ax, history, name in panels:
        for step, values, colour in zip(steps, history, colours, strict=True):
            ax.plot(t, values, color=colour, lw=1.2, label=f"step {step}")
        ax.set_xlabel("time step t (loss at t = T)")
        ax.set_ylabel(f"log10 {name}")
        ax.set_title("mean over the probe batch", fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
    axes[-1].legend(fontsize=7, title="training step", title_fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    return fig
