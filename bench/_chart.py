"""An SVG bar chart of the speed ratios (the summary table's time rows), with no dependency.

Horizontal bars on a log2 axis: a ratio of 2 and one of 0.5 are the same distance from
asyncio's 1.0, which is the honest picture of "twice as fast" and "half as fast". The output
is deterministic (same results in, same bytes out), so the chart in the docs can be checked
against the JSON it was made from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

# anysubprocess in strong colours, the others in muted ones, asyncio (the 1.0 line) in grey.
COLOURS = {
    "asyncio": "#9e9e9e",
    "uvloop": "#c5b0d5",
    "anyio_asyncio": "#aec7e8",
    "anyio_trio": "#98c1d9",
    "trio": "#ffbb78",
    "floor": "#d9d9d9",
    "asp_asyncio": "#1f77b4",
    "asp_uvloop": "#6a3d9a",
    "asp_trio": "#d95f02",
    "asp_threads_asyncio": "#17becf",
    "asp_threads_trio": "#e6ab02",
}
FALLBACK_COLOUR = "#7f7f7f"

LO, HI = 0.25, 16.0  # the axis, as ratios; bars beyond are clipped and say so
BAR, GAP, LABEL_W, PLOT_W, RIGHT, TOP, LEGEND_ROW = 9, 12, 150, 560, 60, 56, 18


def _x(ratio: float) -> float:
    r = min(max(ratio, LO), HI)
    return LABEL_W + PLOT_W * (math.log2(r) - math.log2(LO)) / (math.log2(HI) - math.log2(LO))


def ratio_chart(
    ratios: Mapping[str, Mapping[str, float | None]],
    impls: Sequence[str],
    labels: Mapping[str, str],
    title: str,
    subtitle: str,
) -> str:
    """``ratios[workload][impl]`` (None: no result) as grouped horizontal bars, one group per
    workload, one bar per implementation in ``impls`` order."""
    workloads = list(ratios)
    group_h = len(impls) * BAR + GAP
    plot_h = len(workloads) * group_h
    legend_rows = math.ceil(len(impls) / 3)
    width = LABEL_W + PLOT_W + RIGHT
    height = TOP + plot_h + 34 + legend_rows * LEGEND_ROW + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LABEL_W}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LABEL_W}" y="37" fill="#555555">{escape(subtitle)}</text>',
    ]
    # Grid: one line per power of two; 1.0 (asyncio) stronger.
    k = math.log2(LO)
    while k <= math.log2(HI):
        ratio = 2.0**k
        x = _x(ratio)
        strong = ratio == 1.0
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{TOP + plot_h}" '
            f'stroke="{"#444444" if strong else "#e0e0e0"}" '
            f'stroke-width="{1.5 if strong else 1}"/>'
        )
        label = f"{ratio:g}\u00d7" if ratio >= 1 else f"1/{1 / ratio:g}"
        out.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" '
            f'fill="#555555">{label}</text>'
        )
        k += 1
    out.append(
        f'<text x="{_x(1.0):.1f}" y="{TOP + plot_h + 28}" text-anchor="middle" fill="#555555">'
        "speed relative to stdlib asyncio (log scale; right is faster)</text>"
    )
    for g, workload in enumerate(workloads):
        y0 = TOP + g * group_h
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y0 + len(impls) * BAR / 2 + 4:.1f}" '
            f'text-anchor="end" font-weight="bold">{escape(workload)}</text>'
        )
        for i, impl in enumerate(impls):
            ratio = ratios[workload].get(impl)
            if ratio is None:
                continue
            y = y0 + i * BAR
            x0, x1 = sorted((_x(1.0), _x(ratio)))
            colour = COLOURS.get(impl, FALLBACK_COLOUR)
            out.append(
                f'<rect x="{x0:.1f}" y="{y + 1}" width="{max(x1 - x0, 1.0):.1f}" '
                f'height="{BAR - 2}" fill="{colour}">'
                f"<title>{escape(labels.get(impl, impl))}: {ratio:.2f}</title></rect>"
            )
            clipped = "+" if ratio > HI else ""
            anchor_x = (x1 + 3) if ratio >= 1 else (x0 - 3)
            anchor = "start" if ratio >= 1 else "end"
            out.append(
                f'<text x="{anchor_x:.1f}" y="{y + BAR - 1}" text-anchor="{anchor}" '
                f'font-size="8" fill="#333333">{ratio:.2f}{clipped}</text>'
            )
    legend_y = TOP + plot_h + 46
    for i, impl in enumerate(impls):
        lx = LABEL_W + (i % 3) * (PLOT_W // 3)
        ly = legend_y + (i // 3) * LEGEND_ROW
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="12" height="10" '
            f'fill="{COLOURS.get(impl, FALLBACK_COLOUR)}"/>'
        )
        out.append(f'<text x="{lx + 17}" y="{ly}">{escape(labels.get(impl, impl))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
