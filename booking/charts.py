"""Chart geometry for server-drawn SVG (the reports, issue 15): numbers in, shapes out.

The templates draw the shapes with presentation attributes (``fill=``), which the admin's
strict CSP allows; no JavaScript, no style attributes, nothing fetched from elsewhere.
Colours come from the admin theme (static/css/admin_theme.css).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PRIMARY = "#2f5d50"
TEXT = "#23302b"
HAIRLINE = "#e4e9e4"
# Empty to busiest, from the theme's background to its primary green.
HEAT_SHADES = ("#f7f3ec", "#dbe8df", "#a9c9b6", "#6f9e88", "#2f5d50")

LABEL_WIDTH = 190
BAR_AREA = 380
VALUE_WIDTH = 110
ROW_HEIGHT = 24
BAR_HEIGHT = 16


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value_text: str
    y: int  # top of the row
    width: float  # the bar's length
    text_y: int  # baseline of the row's text
    value_x: float


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]
    fill: str = PRIMARY
    text: str = TEXT
    hairline: str = HAIRLINE


def bar_chart(rows: Sequence[tuple[str, float, str]], *, scale_to: float | None = None) -> BarChart:
    """Horizontal bars, one per ``(label, value, value as text)``, longest = ``scale_to``
    (or the largest value). Negative values draw as empty bars."""
    top = max([scale_to or 0, *(value for _, value, _ in rows)], default=0) or 1
    bars = []
    for index, (label, value, text) in enumerate(rows):
        width = round(BAR_AREA * max(value, 0) / top, 1)
        y = index * ROW_HEIGHT
        bars.append(
            Bar(
                label=label if len(label) <= 28 else label[:27] + "…",
                value_text=text,
                y=y + (ROW_HEIGHT - BAR_HEIGHT) // 2,
                width=min(width, BAR_AREA),
                text_y=y + ROW_HEIGHT // 2 + 5,
                value_x=LABEL_WIDTH + min(width, BAR_AREA) + 6,
            )
        )
    return BarChart(
        width=LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height=max(len(rows), 1) * ROW_HEIGHT,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
        bars=bars,
    )


CELL = 22
HEAT_LEFT = 48
HEAT_TOP = 20


@dataclass(frozen=True, slots=True)
class HeatCell:
    x: int
    y: int
    fill: str
    count: int


@dataclass(frozen=True, slots=True)
class HeatRow:
    label: str
    text_y: int
    cells: list[HeatCell]


@dataclass(frozen=True, slots=True)
class HeatMap:
    width: int
    height: int
    cell: int
    rows: list[HeatRow]
    hours: list[tuple[int, int]]  # (x of the label's middle, hour), every other hour
    text: str = TEXT


def shade(count: int, busiest: int) -> str:
    """The colour of a cell: empty, or one of four steps up to the busiest hour."""
    if count <= 0 or busiest <= 0:
        return HEAT_SHADES[0]
    step = -(-count * (len(HEAT_SHADES) - 1) // busiest)  # ceiling: any booking shows
    return HEAT_SHADES[min(step, len(HEAT_SHADES) - 1)]


def heat_map(grid: Sequence[Sequence[int]], *, labels: Sequence[str], hours: range) -> HeatMap:
    """Cells for ``grid[row][hour]`` over the ``hours`` shown, one row per label."""
    busiest = max((grid[r][h] for r in range(len(grid)) for h in hours), default=0)
    rows = []
    for r, label in enumerate(labels):
        y = HEAT_TOP + r * CELL
        cells = [
            HeatCell(x=HEAT_LEFT + i * CELL, y=y, fill=shade(grid[r][h], busiest), count=grid[r][h])
            for i, h in enumerate(hours)
        ]
        rows.append(HeatRow(label=label, text_y=y + CELL // 2 + 5, cells=cells))
    return HeatMap(
        width=HEAT_LEFT + len(hours) * CELL + 4,
        height=HEAT_TOP + len(labels) * CELL + 4,
        cell=CELL - 2,
        rows=rows,
        hours=[(HEAT_LEFT + i * CELL + CELL // 2, h) for i, h in enumerate(hours) if i % 2 == 0],
    )
