"""Victory, stalemate and last player standing (R170–R179).

The canonical engine evaluates victory when a player's turn (or a region's
processing) is complete, not after every move: a capture that crosses the
elimination threshold mid-turn still plays out the turn's bookkeeping first.
"""
from __future__ import annotations

from engine.rules.movement import player_has_stack_action, stack_can_act
from engine.state import GameState, cap_height


def _finish(s: GameState, winner: int | None, reason: str, outcome: str | None = None) -> None:
    """End the game. A game ending on a bare board other than by ring elimination is
    recorded as a stalemate, whatever decided its winner (as RingRift records it)."""
    s.status = "completed"
    s.winner = winner
    s.victory_reason = reason
    if outcome is None and reason != "ring_elimination" and all(st is None for st in s.stacks):
        outcome = "stalemate"
    s.outcome = outcome or reason


def territory_counts(s: GameState) -> list[int]:
    counts = [0] * (s.num_players + 1)
    for o in s.collapsed:
        if o > 0:
            counts[o] += 1
    return counts


def count_legal_placements(s: GameState, player: int, at_most: int) -> int:
    """How many ring placements `player` has, counting no further than `at_most`: callers ask
    "any?" or "more than one?", and stopping early usually answers at the first empty cell
    instead of generating every placement (140 on square8)."""
    if s.hand[player] <= 0:
        return 0
    stacks, markers, collapsed = s.stacks, s.markers, s.collapsed
    top = min(3, s.hand[player])
    found = 0
    for c in range(s.geo.num_cells):
        if collapsed[c] or markers[c]:
            continue
        st = stacks[c]
        if st is None:
            for k in range(1, top + 1):
                if stack_can_act(s, c, k, k):
                    found += 1
                    if found >= at_most:
                        return found
        elif stack_can_act(s, c, len(st) + 1, cap_height(st) + 1 if st[-1] == player else 1):
            found += 1
        if found >= at_most:
            return found
    return found


def has_legal_placement(s: GameState, player: int) -> bool:
    return count_legal_placements(s, player, 1) >= 1


def has_real_action(s: GameState, player: int) -> bool:
    """Placement, movement or capture available (R172), ignoring must-move restrictions."""
    return player_has_stack_action(s, player) or has_legal_placement(s, player)


def has_any_action(s: GameState, player: int) -> bool:
    """Anything but a no-op: a real action, a forced elimination or a recovery slide.

    The canonical engine's recorded games never end by last-player-standing rounds while
    a rival still has a stack to eliminate from or a recovery to make, so such a rival
    blocks the count (docs/conformance.md).
    """
    if s.controls_any_stack(player) or has_legal_placement(s, player):
        return True
    from engine.rules.recovery import is_eligible

    return is_eligible(s, player)


def check_victory(s: GameState) -> bool:
    """Ring elimination, then a bare board (stalemate), territory, early last-player-standing.

    A bare board where nobody can place is a global stalemate even when someone also
    holds a territory majority: its tiebreak decides, as in the canonical engine.
    """
    n = s.num_players
    for p in range(1, n + 1):
        if s.elim[p] >= s.victory_threshold:
            _finish(s, p, "ring_elimination")
            return True
    terr = territory_counts(s)
    controllers = {st[-1] for st in s.stacks if st is not None}
    if not controllers and not any(has_legal_placement(s, p) for p in range(1, n + 1)):
        winner, reason = stalemate_winner(s, terr)
        _finish(s, winner, reason, outcome="stalemate")
        return True
    total = sum(terr)
    for p in range(1, n + 1):
        if terr[p] >= s.territory_minimum and terr[p] > total - terr[p]:
            _finish(s, p, "territory_control")
            return True
    if len(controllers) == 1:
        (q,) = controllers
        if all(not s.has_any_ring(p) for p in range(1, n + 1) if p != q):
            _finish(s, q, "last_player_standing")
            return True
    return False


def stalemate_winner(s: GameState, terr: list[int]) -> tuple[int, str]:
    """Global stalemate tiebreak (R173): the winner and the step that decided it.

    Territory, then eliminated rings, then markers, each needing a unique leader with a
    positive count; then the last player to act. The reason names the deciding step as
    the canonical engine does ('territory_control' for a territory tiebreak, ...).
    """
    n = s.num_players
    markers = [0] * (n + 1)
    for m in s.markers:
        if m:
            markers[m] += 1
    steps = ((terr, "territory_control"), (s.elim, "ring_elimination"), (markers, "stalemate"))
    for values, reason in steps:
        best = max(values[1:])
        leaders = [p for p in range(1, n + 1) if values[p] == best]
        if best > 0 and len(leaders) == 1:
            return leaders[0], reason
    return (s.last_actor or 1), "stalemate"


def update_lps(s: GameState, player: int, prev_player: int) -> bool:
    """Round bookkeeping at the start of `player`'s turn; True when LPS (R172) ends the game.

    A round is one turn of every seat still in rotation, closed when the turn order wraps.
    A round is exclusive to P when P had a real action at the start of its turn and no
    other seat holding rings had any action. After `lps_required` consecutive exclusive
    rounds, P wins at the start of its next turn if that still holds.
    """
    if s.lps_required <= 0:
        return False
    if player <= prev_player or s.lps_first == 0:
        if s.lps_first:
            actors = s.lps_actors
            if len(actors) == 1 and actors[0] > 0:
                if actors[0] == s.lps_candidate:
                    s.lps_count += 1
                else:
                    s.lps_candidate = actors[0]
                    s.lps_count = 1
            else:
                s.lps_candidate = 0
                s.lps_count = 0
        s.lps_first = player
        s.lps_actors = ()
    if s.has_any_ring(player):
        if has_real_action(s, player):
            s.lps_actors = s.lps_actors + (player,)
        elif has_any_action(s, player):
            s.lps_actors = s.lps_actors + (-player,)  # active, but not exclusive-making
    if s.lps_candidate == player and s.lps_count >= s.lps_required and has_real_action(s, player):
        others = [
            p for p in range(1, s.num_players + 1)
            if p != player and s.has_any_ring(p) and has_any_action(s, p)
        ]
        if not others:
            _finish(s, player, "last_player_standing")
            return True
    return False
