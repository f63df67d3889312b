"""SVG drawing of a RingRift position: board cells, stacks with their rings by colour, markers,
collapsed spaces (a player's territory).

Square boards draw (x, y) cells as squares, x to the right and y downwards; hex boards draw cube
(x, y, z) cells as pointy-top hexagons (column x, row z). Every cell's content is drawn in the
cell's own coordinates (centre 0,0) by `content_svg`, so the page can swap one cell's drawing
without redrawing the board; `position_svg` draws a compact picture of one position (thumbnails).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from engine.geometry import geometry

# Seat colours: distinguishable for the common colour-vision deficiencies (Okabe-Ito palette).
PLAYER_COLOURS = {1: "#d55e00", 2: "#0072b2", 3: "#009e73", 4: "#e69f00"}
PLAYER_NAMES = {1: "orange-red", 2: "blue", 3: "green", 4: "amber"}
CELL = 40.0  # square side / hexagon circumradius in SVG units
SQRT3 = math.sqrt(3.0)


def colour(player: int) -> str:
    return PLAYER_COLOURS.get(player, "#777777")


@dataclass(frozen=True)
class Layout:
    """Cell centres and outlines of one board type, and the drawing's size."""

    board: str
    is_hex: bool
    centres: tuple[tuple[float, float], ...]
    labels: tuple[str, ...]
    width: float
    height: float
    radius: float  # how far content may reach from a centre

    def outline(self, cell: int) -> str:
        x, y = self.centres[cell]
        if self.is_hex:
            pts = [(x + CELL * math.cos(math.radians(60 * k - 30)), y + CELL * math.sin(math.radians(60 * k - 30)))
                   for k in range(6)]
            return '<polygon points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>'
        h = CELL / 2
        return f'<rect x="{x - h:.1f}" y="{y - h:.1f}" width="{CELL:.0f}" height="{CELL:.0f}"/>'


@lru_cache(maxsize=None)
def layout(board: str) -> Layout:
    geo = geometry(board)
    pad = CELL
    if geo.is_hex:
        raw = [(CELL * SQRT3 * (x + z / 2), CELL * 1.5 * z) for x, _y, z in geo.coords]
    else:
        raw = [(CELL * x, CELL * y) for x, y in geo.coords]
    minx, miny = min(p[0] for p in raw), min(p[1] for p in raw)
    centres = tuple((round(px - minx + pad, 1), round(py - miny + pad, 1)) for px, py in raw)
    width = max(p[0] for p in centres) + pad
    height = max(p[1] for p in centres) + pad
    radius = CELL * (0.8 if geo.is_hex else 0.46)
    return Layout(board, geo.is_hex, centres, tuple(geo.keys), round(width, 1), round(height, 1), radius)


def _stack(rings: str, radius: float) -> str:
    """A stack seen from the side: one flat disc per ring, bottom first, so the controller (top ring)
    is drawn last and uppermost; tall stacks get thinner discs, with the height written on top."""
    h = len(rings)
    total = radius * 1.5
    disc = min(radius * 0.34, total / h)
    w = radius * 1.3
    base = total / 2
    parts = []
    for k, owner in enumerate(rings):
        top = base - (k + 1) * disc
        parts.append(f'<rect class="ring p{owner}" x="{-w / 2:.1f}" y="{top:.1f}" width="{w:.1f}" '
                     f'height="{disc:.1f}" rx="{min(disc / 2, 4):.1f}" fill="{colour(int(owner))}"/>')
    if h > 1:
        parts.append(f'<text class="height" y="{base - h * disc - 3:.1f}">{h}</text>')
    return "".join(parts)


def content_svg(value: str, is_hex: bool) -> str:
    """The drawing of one cell's content (see viewer.frames) around the centre 0,0."""
    radius = CELL * (0.8 if is_hex else 0.46)
    if not value:
        return ""
    kind, rest = value[0], value[1:]
    if kind == "s":
        return f'<g class="stack" data-rings="{escape(rest)}">{_stack(rest, radius)}</g>'
    owner = int(rest or 0)
    if kind == "m":
        return (f'<circle class="marker p{owner}" r="{radius * 0.45:.1f}" fill="none" stroke="{colour(owner)}" '
                f'stroke-width="{radius * 0.22:.1f}"/>')
    if kind == "c":  # collapsed space: permanent territory of its owner
        r = CELL * (0.86 if is_hex else 0.5)
        shape = (f'<polygon points="' + " ".join(
            f"{r * math.cos(math.radians(60 * k - 30)):.1f},{r * math.sin(math.radians(60 * k - 30)):.1f}"
            for k in range(6)) + '"' if is_hex else f'<rect x="{-r:.1f}" y="{-r:.1f}" width="{2 * r:.1f}" '
                 f'height="{2 * r:.1f}"')
        return (f'<g class="collapsed p{owner}">{shape} fill="{colour(owner)}" fill-opacity="0.55"/>'
                f'{shape} fill="url(#hatch)"/></g>')
    raise ValueError(f"unknown cell content {value!r}")


STYLE = (".board .cell{fill:#f3ead8;stroke:#8a7a5c;stroke-width:1}.board .hl{fill:#ffe36e}"
         ".board text.height{font:bold 13px sans-serif;fill:#fff;stroke:#222;stroke-width:3px;"
         "paint-order:stroke;text-anchor:middle}.board .ring{stroke:#222;stroke-width:0.8}"
         ".board .coord{font:8px sans-serif;fill:#8a7a5c}")


def board_svg(board: str, cells: list[str] | None = None, *, coords: bool = False, width: int | None = None) -> str:
    """The board with `cells` drawn (viewer.frames contents; None = empty). Each cell's outline is
    `<g id="b{i}">` and its content `<g id="c{i}">`, which the page's script redraws per frame."""
    lay = layout(board)
    out = [f'<svg class="board" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {lay.width} {lay.height}"'
           + (f' width="{width}" height="{round(width * lay.height / lay.width)}"' if width else "")
           + f' role="img" aria-label="{board} board">',
           '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#000" stroke-opacity="0.35" '
           'stroke-width="2"/></pattern></defs>']
    out.append('<g class="cells">')
    for i in range(len(lay.centres)):
        out.append(f'<g id="b{i}" class="cell">{lay.outline(i)}</g>')
    out.append("</g>")
    if coords:
        dx, dy, anchor = (0.0, CELL * 0.72, "middle") if lay.is_hex else (-CELL * 0.46, -CELL * 0.34, "start")
        out.append('<g class="coords">' + "".join(
            f'<text class="coord" x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}">{escape(k)}</text>'
            for (x, y), k in zip(lay.centres, lay.labels)) + "</g>")
    out.append('<g class="contents">')
    for i, (x, y) in enumerate(lay.centres):
        inner = content_svg(cells[i], lay.is_hex) if cells else ""
        out.append(f'<g id="c{i}" transform="translate({x:.1f},{y:.1f})">{inner}</g>')
    out.append("</g></svg>")
    return "".join(out)


def _picture_content(value: str, x: float, y: float, is_hex: bool) -> str:
    """A compact drawing of one cell for pictures: a stack as a disc in its controller's colour with
    its height, a marker as a ring, a collapsed space filled with its owner's colour."""
    kind, owner = value[0], int(value[-1])
    r = CELL * (0.8 if is_hex else 0.46)
    if kind == "c":
        return f'<use href="#t" x="{x:.0f}" y="{y:.0f}" fill="{colour(owner)}" fill-opacity="0.6"/>'
    if kind == "m":
        return (f'<circle cx="{x:.0f}" cy="{y:.0f}" r="{r * 0.45:.0f}" fill="none" stroke="{colour(owner)}" '
                f'stroke-width="{r * 0.22:.0f}"/>')
    disc = f'<circle cx="{x:.0f}" cy="{y:.0f}" r="{r * 0.7:.0f}" fill="{colour(owner)}" stroke="#222"/>'
    height = len(value) - 1
    return disc + (f'<text x="{x:.0f}" y="{y + 5:.0f}">{height}</text>' if height > 1 else "")


def position_svg(board: str, cells: list[str], width: int = 360) -> str:
    """A compact standalone picture of one position (no script, every cell a <use> of one shape):
    thumbnails in the Prefect UI, where each one is a data URL inside the summary's markdown."""
    lay = layout(board)
    if lay.is_hex:
        shape = '<polygon id="t" points="' + " ".join(
            f"{CELL * math.cos(math.radians(60 * k - 30)):.1f},{CELL * math.sin(math.radians(60 * k - 30)):.1f}"
            for k in range(6)) + '"/>'
    else:
        shape = f'<rect id="t" x="{-CELL / 2:.0f}" y="{-CELL / 2:.0f}" width="{CELL:.0f}" height="{CELL:.0f}"/>'
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {lay.width} {lay.height}" width="{width}" '
           f'height="{round(width * lay.height / lay.width)}" role="img" aria-label="{board} position">',
           "<style>.b use{fill:#f3ead8;stroke:#8a7a5c}text{font:bold 14px sans-serif;fill:#fff;stroke:#222;"
           "stroke-width:3px;paint-order:stroke;text-anchor:middle}</style>", f"<defs>{shape}</defs>", '<g class="b">']
    out += [f'<use href="#t" x="{x:.0f}" y="{y:.0f}"/>' for x, y in lay.centres]
    out.append("</g>")
    out += [_picture_content(v, x, y, lay.is_hex) for v, (x, y) in zip(cells, lay.centres) if v]
    out.append("</svg>")
    return "".join(out)
