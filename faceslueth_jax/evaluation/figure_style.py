"""One look for every figure the project draws (a run's figures, the report's, the
attention sheets): fonts, sizes and colours in ``RC`` (``styled`` draws a whole figure
in them), ``title_and_legend``, which keeps a figure's title and legend off its data
and its margins tight, and ``save``, which writes a figure as PNG (``DPI`` dots per
inch) and as PDF side by side, each atomically.

Colours: ``COLOURS`` is the Okabe-Ito palette (distinguishable with the common colour
blindnesses), in order for lines; ``COUNTS`` (sequential) for confusion matrices,
``MAGNITUDE`` (perceptually uniform) for attention maps.
"""

from __future__ import annotations

import functools
import io
import logging
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

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
    """``plt.subplots`` in the project's style (what is added to the figure later takes
    the style only inside ``styled``: a twin axis, a title, a legend, a cell's text)."""
    with plt.rc_context(RC):
        return plt.subplots(*args, **kwargs)


def styled(draw):
    """Decorator: ``draw`` runs in the project's style from start to end, so that every
    text it adds has RC's sizes (one tick size per figure, twin axes included)."""
    @functools.wraps(draw)
    def in_style(*args, **kwargs):
        with plt.rc_context(RC):
            return draw(*args, **kwargs)
    return in_style


def _drawn_extent(fig, renderer) -> Bbox:
    """The union, in display pixels, of every axes with its tick labels and axis labels."""
    return Bbox.union([ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()])


def _wrapped(text_artist, text: str, width: float, renderer) -> str:
    """``text`` with each line broken at spaces so that it is at most ``width`` display
    pixels wide as ``text_artist`` draws it (a single word wider than that stays whole),
    in as few lines as that takes, of balanced widths (no word left alone on a line)."""
    def wide(candidate: str) -> float:
        text_artist.set_text(candidate)
        return text_artist.get_window_extent(renderer).width

    def greedy(words: list, limit: float) -> list:
        lines, current = [], ""
        for word in words:
            candidate = f"{current} {word}" if current else word
            if current and wide(candidate) > limit:
                lines.append(current)
                current = word
            else:
                current = candidate
        return lines + [current]

    out = []
    for line in text.split("\n"):
        words = line.split(" ")
        lines = greedy(words, width)
        if len(lines) > 1:  # the narrowest limit that needs no more lines than these
            low, high = max(wide(w) for w in words), width
            while high - low > 1.0:
                middle = (low + high) / 2
                low, high = (low, middle) if len(greedy(words, middle)) <= len(lines) \
                    else (middle, high)
            lines = greedy(words, high)
        out += lines
    return "\n".join(out)


def title_and_legend(ax, title: str, handles=(), labels=(), gap_pt: float = 4.0) -> None:
    """Lay out ``ax``'s ``title`` and legend around the data, never over it: the title
    above, wrapped at spaces to the width of the drawn axes (tick and axis labels and
    twin axes included) and centred on it, so the figure has no empty margin beside
    it; the legend (``handles``, ``labels``; none when empty) below the x axis label,
    in as many columns as fit that width. Call it after everything else is drawn."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    ax.set_title("")
    extent = _drawn_extent(fig, renderer)
    centre = ax.transAxes.inverted().transform(((extent.x0 + extent.x1) / 2, 0))[0]
    ax.set_title(_wrapped(ax.title, title, extent.width, renderer))
    ax.title.set_x(centre)
    if not handles:
        return
    bottom = ax.transAxes.inverted().transform(
        (0, extent.y0 - gap_pt * fig.dpi / 72))[1]
    for columns in range(len(handles), 0, -1):
        legend = ax.legend(handles, labels, loc="upper center", ncol=columns,
                           bbox_to_anchor=(centre, bottom), bbox_transform=ax.transAxes)
        if columns == 1 or legend.get_window_extent(renderer).width <= extent.width:
            break


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
