"""One look for every figure the project draws (a run's figures, the report's, the
attention sheets): fonts, sizes and colours in ``RC``, and ``save``, which writes a
figure as PNG (``DPI`` dots per inch) and as PDF side by side, each atomically.

Colours: ``COLOURS`` is the Okabe-Ito palette (distinguishable with the common colour
blindnesses), in order for lines; ``COUNTS`` (sequential) for confusion matrices,
``MAGNITUDE`` (perceptually uniform) for attention maps.
"""

from __future__ import annotations

import io
import logging
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from faceslueth_jax import atomic_files  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # its PDF font subsetting chatter

DPI = 200
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")
COUNTS = "Blues"
MAGNITUDE = "magma"
REFERENCE = "#7f7f7f"  # reference lines (the vertical axis, a paper's claim)
RC = {
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.prop_cycle":
        matplotlib.cycler(color=COLOURS), "lines.linewidth": 1.4, "pdf.fonttype": 42,
    "ps.fonttype": 42, "savefig.bbox": "tight", "image.cmap": MAGNITUDE,
}
FORMATS = ("png", "pdf")


def figure(*args, **kwargs):
    """``plt.subplots`` in the project's style."""
    with plt.rc_context(RC):
        return plt.subplots(*args, **kwargs)


def save(figure_, path) -> list[pathlib.Path]:
    """Write ``figure_`` as ``path`` with each of FORMATS' suffixes (PNG at DPI, PDF
    with embedded TrueType fonts), atomically, and close it. Returns the paths."""
    path = pathlib.Path(path)
    written = []
    with plt.rc_context(RC):
        for fmt in FORMATS:
            buffer = io.BytesIO()
            figure_.savefig(buffer, format=fmt, dpi=DPI, bbox_inches="tight")
            written.append(atomic_files.write_bytes(path.with_suffix(f".{fmt}"),
                                                    buffer.getvalue()))
    plt.close(figure_)
    return written
