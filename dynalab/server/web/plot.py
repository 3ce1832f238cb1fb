"""The leaderboard's plot, drawn on the server as SVG: the main metric against throughput, Pareto front marked.

A model is on the Pareto front when no other model is at least as good on both
axes and better on one. Throughput is on a log scale when it spans more than
``LOG_SPAN`` times (models often differ by orders of magnitude).
"""

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 48
LOG_SPAN = 20
TICKS = 5


@dataclass(frozen=True)
class Point:
    x: float  # throughput
    y: float  # the main metric
    label: str
    href: str


def pareto_front(points):
    """The points no other point dominates, by throughput."""
    front = [p for p in points
             if not any(q.x >= p.x and q.y >= p.y and (q.x > p.x or q.y > p.y) for q in points)]
    return sorted(front, key=lambda p: (p.x, -p.y))


def svg(points, x_label, y_label):
    """The plot as an ``<svg>`` element (text), or None when there is nothing to plot."""
    if not points:
        return None
    front = set(pareto_front(points))
    log_x = min(p.x for p in points) > 0 and max(p.x for p in points) / min(p.x for p in points) > LOG_SPAN
    fx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    x_lo, x_hi = _range([fx(p.x) for p in points])
    y_lo, y_hi = _range([p.y for p in points])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(value):
        return LEFT + (fx(value) - x_lo) / (x_hi - x_lo) * plot_w

    def sy(value):
        return TOP + plot_h - (value - y_lo) / (y_hi - y_lo) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="plot" role="img" '
             f'aria-labelledby="plot-title"><title id="plot-title">{escape(y_label)} against {escape(x_label)}; '
             f'{len(front)} of {len(points)} models on the Pareto front</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>']
    for value in _ticks(x_lo, x_hi, log_x):
        x = LEFT + (value - x_lo) / (x_hi - x_lo) * plot_w
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" class="grid"/>'
                     f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" class="tick" text-anchor="middle">'
                     f'{_number(10 ** value if log_x else value)}</text>')
    for value in _ticks(y_lo, y_hi):
        y = TOP + plot_h - (value - y_lo) / (y_hi - y_lo) * plot_h
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 8}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_number(value)}</text>')
    scale = " (log scale)" if log_x else ""
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">'
                 f'{escape(x_label)}{scale} →</text>'
                 f'<text x="14" y="{TOP + plot_h / 2}" class="axis" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2})">{escape(y_label)} →</text>')
    ordered = sorted(front, key=lambda p: p.x)
    if len(ordered) > 1:
        # The front as a staircase: what is reachable at each throughput.
        steps = [f"{sx(ordered[0].x):.1f},{sy(ordered[0].y):.1f}"]
        for before, after in zip(ordered, ordered[1:]):
            steps += [f"{sx(after.x):.1f},{sy(before.y):.1f}", f"{sx(after.x):.1f},{sy(after.y):.1f}"]
        parts.append(f'<polyline points="{" ".join(steps)}" class="front"/>')
    for p in sorted(points, key=lambda p: p in front):
        on_front = p in front
        kind = "point front-point" if on_front else "point"
        parts.append(f'<a href="{escape(p.href)}"><circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{6 if on_front else 4.5}" '
                     f'class="{kind}"><title>{escape(p.label)}: {escape(y_label)} {_number(p.y)}, '
                     f'{_number(p.x)} examples/s{" (Pareto front)" if on_front else ""}</title></circle>')
        if on_front:
            anchor = "end" if sx(p.x) > LEFT + plot_w * 0.8 else "start"
            dx = -9 if anchor == "end" else 9
            parts.append(f'<text x="{sx(p.x) + dx:.1f}" y="{sy(p.y) - 8:.1f}" class="label" '
                         f'text-anchor="{anchor}">{escape(p.label)}</text>')
        parts.append("</a>")
    parts.append("</svg>")
    return "".join(parts)


def _ticks(lo, hi, log=False):
    """Round values between ``lo`` and ``hi`` for the axis: steps of 1, 2 or 5 times a power of ten
    (on a log axis, ``lo`` and ``hi`` are logarithms: 1, 2 and 5 of each decade)."""
    if log:
        marks = [math.log10(m * 10 ** e) for e in range(math.floor(lo), math.ceil(hi) + 1) for m in (1, 2, 5)]
        return [mark for mark in marks if lo <= mark <= hi]
    raw = (hi - lo) / TICKS
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if raw <= m * power)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _range(values):
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or (abs(hi) * 0.05 or 1.0)
    return lo - pad, hi + pad


def _number(value):
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
