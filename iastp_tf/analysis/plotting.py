"""Figures for the analysis programs (SPEC §7): matplotlib without pyplot.

Figures are plain ``matplotlib.figure.Figure`` objects rendered with the Agg
canvas, so nothing depends on a display or on pyplot's global state, and each
PNG has exactly the pixel size its figure states (no tight bounding box).
"""

import dataclasses
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def new_figure(width_in, height_in, dpi=DPI) -> Figure:
    """A figure of ``width_in`` × ``height_in`` inches with constrained layout."""
    figure = Figure(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def pixel_size(figure) -> tuple[int, int]:
    """``(width, height)`` in pixels of the PNG :func:`save_png` writes."""
    width, height = figure.get_size_inches() * figure.dpi
    return int(round(width)), int(round(height))


def save_png(figure, path) -> tuple[int, int]:
    """Writes ``figure`` to ``path`` (parent folders made) and returns its pixel size."""
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=figure.dpi, format="png")
    return pixel_size(figure)


@dataclasses.dataclass(frozen=True)
class WrittenFigure:
    """What an analysis program wrote: a PNG of ``image_size`` and its tables."""

    png: str
    image_size: tuple[int, int]
    tables: tuple[str, ...]

    def summary(self) -> str:
        width, height = self.image_size
        return "\n".join([f"wrote {self.png} ({width}x{height} px)"] + [f"wrote {t}" for t in self.tables])
