"""A long video's timeline figure: the motion strength over time at the micro and macro
spans, the spotted intervals of each spotter and, where known, the true ones, each
labelled with its kind (and class where recognised)."""

from __future__ import annotations

import numpy as np

from faceslueth_jax.evaluation import figure_style
from faceslueth_jax.preprocess import motion_features
from faceslueth_jax.preprocess.video_features import Windows

KIND_COLOUR = {"micro": figure_style.COLOURS[1], "macro": figure_style.COLOURS[0]}


def curves(blocks: dict, fps: float) -> dict:
    """The top panel's curves: the strength at the micro and the macro span (``Windows``),
    labelled by span; ``blocks``: span k -> (T, G^2) block values."""
    w = Windows.for_fps(fps)
    return {f"k = {k} ({kind})": motion_features.strength(blocks[k])
            for kind, k in (("micro", w.k_micro), ("macro", w.k_macro))}


def draw(title: str, fps: float, strengths: dict, rows: dict, class_names=()):
    """The figure: ``strengths`` label -> (T,) curve (top panel); ``rows`` row name ->
    [Interval], one band each (bottom panel; 'truth' among them when known)."""
    fig, (top, bottom) = figure_style.figure(
        2, 1, figsize=(10, 2.2 + 0.35 * max(1, len(rows))), sharex=True,
        gridspec_kw={"height_ratios": [3, max(1, len(rows))]})
    for i, (label, curve) in enumerate(strengths.items()):
        seconds = np.arange(len(curve)) / fps
        top.plot(seconds, curve, lw=0.8, color=figure_style.COLOURS[2 + i], label=label)
    top.set_ylabel("motion strength (px)")
    top.legend(loc="upper right", fontsize=7, frameon=False)
    top.set_title(title, fontsize=9)
    for row, (name, intervals) in enumerate(rows.items()):
        for it in intervals:
            start, length = it.onset / fps, (it.offset - it.onset + 1) / fps
            bottom.broken_barh([(start, length)], (row - 0.4, 0.8),
                               color=KIND_COLOUR[it.kind], alpha=0.85)
            if it.label >= 0 and class_names and it.kind == "micro":
                bottom.text(start + length / 2, row, class_names[it.label][:3], fontsize=5,
                            ha="center", va="center", color="white")
    bottom.set_yticks(range(len(rows)), list(rows))
    bottom.set_ylim(-0.6, len(rows) - 0.4)
    bottom.invert_yaxis()
    bottom.set_xlabel("time (s)")
    handles = [bottom.plot([], [], lw=6, color=c, label=k)[0] for k, c in KIND_COLOUR.items()]
    bottom.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7,
                  frameon=False, ncol=2)
    return fig


def write(path, *args, **kwargs) -> list:
    """``draw`` saved as PNG and PDF (``figure_style.save``)."""
    return figure_style.save(draw(*args, **kwargs), path)
