"""Lines of markers and their rewards (R120–R123).

A line is a maximal run of one player's markers along a line axis; it is eligible
when at least the board's line length L long. Exact-length lines collapse whole
and cost one ring; overlength lines offer Option 1 (collapse all, cost one ring)
or Option 2 (collapse any L consecutive markers, free).
"""
from __future__ import annotations

from engine.moves import Move
from engine.state import GameState


def line_length(s: GameState) -> int:
    return s.geo.spec.line_length(s.num_players)


def runs_through(s: GameState, cell: int, player: int) -> list[tuple[int, ...]]:
    """The maximal runs of `player`'s markers through `cell`, one per axis (any length)."""
    geo = s.geo
    markers = s.markers
    runs = []
    for d in geo.axes:
        back = [c for c in _take_while(geo.rays[cell][geo.opposite[d]], markers, player)]
        fwd = [c for c in _take_while(geo.rays[cell][d], markers, player)]
        runs.append(tuple(reversed(back)) + (cell,) + tuple(fwd))
    return runs


def _take_while(ray, markers, player):
    for c in ray:
        if markers[c] != player:
            return
        yield c


def find_lines(s: GameState, player: int) -> list[tuple[int, ...]]:
    """All eligible lines of `player`, each as its cells in axis order."""
    geo = s.geo
    markers = s.markers
    L = line_length(s)
    lines = []
    for c, m in enumerate(markers):
        if m != player:
            continue
        rays = geo.rays[c]
        for d in geo.axes:
            back = rays[geo.opposite[d]]
            if back and markers[back[0]] == player:
                continue  # not the start of the run
            run = [c]
            for x in rays[d]:
                if markers[x] != player:
                    break
                run.append(x)
            if len(run) >= L:
                lines.append(tuple(run))
    return lines


def line_moves(s: GameState, player: int, lines: list[tuple[int, ...]]) -> list[Move]:
    """process_line for exact lines; choose_line_option (Option 1 and every Option 2 window)."""
    keys = s.geo.keys
    L2 = s.geo.spec.collapse_length(s.num_players)
    out = []
    for line in lines:
        lk = tuple(keys[c] for c in line)
        if len(line) == L2:
            out.append(Move("process_line", player, lk[0], line=lk))
        out.append(Move("choose_line_option", player, lk[0], line=lk, cells=lk))
        if len(line) > L2:
            for i in range(len(line) - L2 + 1):
                window = lk[i:i + L2]
                out.append(Move("choose_line_option", player, window[0], line=lk, cells=window))
    return out


def match_line(s: GameState, player: int, keys: tuple[str, ...] | None) -> tuple[int, ...] | None:
    """The current eligible line whose cells equal (or, failing that, contain) the given cells."""
    lines = find_lines(s, player)
    if not keys:
        return lines[0] if len(lines) == 1 else None
    index = s.geo.index
    want = {index[k] for k in keys if k in index}
    for line in lines:
        if set(line) == want:
            return line
    for line in lines:
        if want <= set(line):
            return line
    return None
