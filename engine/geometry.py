"""Board geometry: cells, coordinate keys and precomputed neighbour and ray tables.

Every rule indexes these tables by integer cell index instead of recomputing
coordinates, so a board's geometry is built once per board type and shared by
every state on that board (`geometry(board_type)` is cached).

Square boards use (x, y) with keys "x,y"; hex boards use cube coordinates
(x, y, z) with x + y + z = 0 and keys "x,y,z" (RULES.md §1).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

BOARD_TYPES = ("square8", "square19", "hex8", "hexagonal")

SQUARE_DIRS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
HEX_DIRS = ((1, 0, -1), (1, -1, 0), (0, -1, 1), (-1, 0, 1), (-1, 1, 0), (0, 1, -1))
# Territory adjacency on square boards: the four orthogonal directions (indices into SQUARE_DIRS).
SQUARE_ORTHO = (0, 2, 4, 6)
# Line axes: one direction of each opposite pair (RULES.md §1).
SQUARE_AXES = (0, 2, 1, 7)  # (1,0) (0,1) (1,1) (1,-1)
HEX_AXES = (0, 1, 2)  # (1,0,-1) (1,-1,0) (0,-1,1)


@dataclass(frozen=True)
class BoardSpec:
    """Per-board parameters (RULES.md §2)."""

    board_type: str
    is_hex: bool
    size: int  # serialized `size` field: side for square, 2r+1 for hex
    rings_per_player: int

    def line_length(self, num_players: int) -> int:
        """Markers needed for an eligible line.

        hex8 needs 4 at every player count: the canonical engine's recorded games
        never process a 3-marker hex8 line (docs/conformance.md).
        """
        if self.board_type == "square8" and num_players >= 3:
            return 3
        return 4

    def collapse_length(self, num_players: int) -> int:
        """The effective line length L for rewards: a line longer than this is overlength.

        Exact-length lines collapse whole for one ring; overlength lines offer Option 1
        (all, one ring) or Option 2 (any L consecutive markers, free). On hex8 with 3-4
        players this is 3 while detection needs 4, so every hex8 line there is
        overlength, as in the canonical engine's recorded games (docs/conformance.md).
        """
        if self.board_type == "hex8" and num_players >= 3:
            return 3
        return self.line_length(num_players)

    def victory_threshold(self, num_players: int) -> int:
        return round(self.rings_per_player * (num_players + 1) / 3)

    def territory_minimum(self, num_cells: int, num_players: int) -> int:
        return num_cells // num_players + 1


SPECS = {
    "square8": BoardSpec("square8", False, 8, 18),
    "square19": BoardSpec("square19", False, 19, 72),
    "hex8": BoardSpec("hex8", True, 9, 18),
    "hexagonal": BoardSpec("hexagonal", True, 25, 96),
}


class Geometry:
    """Cells of one board and the tables the rules walk.

    Attributes (all indexed by cell index 0..n-1):
      coords[c]      coordinate tuple
      keys[c]        RingRift position key ("x,y" or "x,y,z")
      rays[c][d]     cells along direction d from c, nearest first (c excluded)
      adj[c]         movement neighbours (one per direction, edge-clipped), recovery slides use these
      terr_adj[c]    territory neighbours (orthogonal on square, hex neighbours on hex)
      moore_xy[c]    8-neighbours by (x, y) steps, used by border-marker expansion on
                     square8/square19/hex8 (RULES.md §16 item 6)
    """

    def __init__(self, spec: BoardSpec):
        self.spec = spec
        self.board_type = spec.board_type
        self.is_hex = spec.is_hex
        if spec.is_hex:
            r = (spec.size - 1) // 2
            self.radius = r
            coords = [
                (x, y, -x - y)
                for x in range(-r, r + 1)
                for y in range(-r, r + 1)
                if abs(-x - y) <= r
            ]
            dirs = HEX_DIRS
            axes = HEX_AXES
            terr_dirs = tuple(range(6))
        else:
            n = spec.size
            self.radius = n
            coords = [(x, y) for y in range(n) for x in range(n)]
            dirs = SQUARE_DIRS
            axes = SQUARE_AXES
            terr_dirs = SQUARE_ORTHO
        self.coords = coords
        self.keys = [",".join(str(v) for v in c) for c in coords]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self._coord_index = {c: i for i, c in enumerate(coords)}
        self.num_cells = len(coords)
        self._between: dict[int, tuple[int, int] | None] = {}  # direction_between's memo
        self.dirs = dirs
        self.num_dirs = len(dirs)
        self.axes = axes
        self.opposite = tuple(dirs.index(tuple(-v for v in d)) for d in dirs)

        rays = []
        for c in coords:
            per_dir = []
            for d in dirs:
                ray = []
                p = tuple(a + b for a, b in zip(c, d))
                while p in self._coord_index:
                    ray.append(self._coord_index[p])
                    p = tuple(a + b for a, b in zip(p, d))
                per_dir.append(tuple(ray))
            rays.append(tuple(per_dir))
        self.rays = tuple(rays)
        self.adj = tuple(tuple(r[0] for r in rays[c] if r) for c in range(self.num_cells))
        self.adj_by_dir = tuple(
            tuple(r[0] if r else -1 for r in rays[c]) for c in range(self.num_cells)
        )
        self.terr_adj = tuple(
            tuple(rays[c][d][0] for d in terr_dirs if rays[c][d]) for c in range(self.num_cells)
        )
        moore = []
        for c in coords:
            x, y = c[0], c[1]
            ns = []
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    if dx == 0 and dy == 0:
                        continue
                    q = (x + dx, y + dy, -(x + dx) - (y + dy)) if spec.is_hex else (x + dx, y + dy)
                    if q in self._coord_index:
                        ns.append(self._coord_index[q])
            moore.append(tuple(ns))
        self.moore_xy = tuple(moore)
        self._build_bitboard(terr_dirs)

    def _build_bitboard(self, terr_dirs) -> None:
        """Cells as bits of one Python int, in a grid padded by one column so that
        shifting never wraps a row into the next: territory flood fills become a few
        big-integer shifts per step instead of a Python loop per cell."""
        if self.is_hex:
            r = self.radius
            width = 2 * r + 2
            pos = [(c[1] + r) * width + (c[0] + r) for c in self.coords]  # row y, col x
            shifts = (1, width, width - 1)  # hex neighbours: ±x, ±y, ±(x-y) on axial coords
        else:
            width = self.spec.size + 1
            pos = [c[1] * width + c[0] for c in self.coords]
            shifts = (1, width)
        self.bits = tuple(1 << p for p in pos)
        self.cell_of_bitpos = {p: i for i, p in enumerate(pos)}
        self.all_bits = sum(self.bits)
        self.terr_shifts = shifts
        # Sanity: the shift set reproduces the territory adjacency table.
        for c in (0, self.num_cells // 2):
            grown = self.grow(self.bits[c], self.all_bits) & ~self.bits[c]
            assert sorted(self.cells_of(grown)) == sorted(self.terr_adj[c]), self.board_type

    def grow(self, mask: int, passable: int) -> int:
        """`mask` plus its territory neighbours, within `passable`."""
        out = mask
        for sh in self.terr_shifts:
            out |= (mask << sh) | (mask >> sh)
        return out & passable

    def cells_of(self, mask: int) -> list[int]:
        cells = []
        lookup = self.cell_of_bitpos
        while mask:
            low = mask & -mask
            cells.append(lookup[low.bit_length() - 1])
            mask ^= low
        return cells

    # --- coordinates -------------------------------------------------------------------------

    def cell_of(self, pos: dict) -> int:
        """Cell index of a JSON position {x, y[, z]}; raises KeyError when off the board."""
        if self.is_hex:
            x, y = int(pos["x"]), int(pos["y"])
            z = pos.get("z")
            z = -x - y if z is None else int(z)
            return self._coord_index[(x, y, z)]
        return self._coord_index[(int(pos["x"]), int(pos["y"]))]

    def pos_of(self, cell: int) -> dict:
        c = self.coords[cell]
        if self.is_hex:
            return {"x": c[0], "y": c[1], "z": c[2]}
        return {"x": c[0], "y": c[1]}

    def direction_between(self, a: int, b: int) -> tuple[int, int] | None:
        """(direction index, distance) when b lies on a ray from a, else None. Memoised: the
        policy indexes every move of every searched position through it (a tenth of a neural
        selfplay game's Python time before)."""
        key = a * self.num_cells + b
        try:
            return self._between[key]
        except KeyError:
            found = self._between[key] = self._direction_between(a, b)
            return found

    def _direction_between(self, a: int, b: int) -> tuple[int, int] | None:
        ca, cb = self.coords[a], self.coords[b]
        delta = tuple(q - p for p, q in zip(ca, cb))
        dist = max(abs(v) for v in delta)
        if dist == 0:
            return None
        unit = tuple(v // dist if v % dist == 0 else None for v in delta)
        if None in unit:
            return None
        try:
            d = self.dirs.index(unit)
        except ValueError:
            return None
        return d, dist

    def between(self, a: int, b: int) -> tuple[int, ...]:
        """Cells strictly between a and b on their common ray; () when not collinear."""
        db = self.direction_between(a, b)
        if db is None:
            return ()
        d, dist = db
        return self.rays[a][d][: dist - 1]


@lru_cache(maxsize=None)
def geometry(board_type: str) -> Geometry:
    """The shared, immutable geometry of a board type."""
    try:
        spec = SPECS[board_type]
    except KeyError:
        raise ValueError(
            f"unknown board type {board_type!r}: expected one of {', '.join(BOARD_TYPES)}"
        ) from None
    return Geometry(spec)
