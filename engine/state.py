"""The one game-state class.

A compact internal form: integer cell indices, flat per-cell lists and per-player
counters, stacks as tuples of ring owners ordered BOTTOM first (so the top ring is
`stack[-1]`; the wire format lists the top first). Tuples are immutable, so a copy
of the state is a handful of shallow list copies: cheap enough for search.

JSON conversion lives in `engine.serialize`; `GameState.from_json` / `to_json`
delegate there.
"""
from __future__ import annotations

from engine.geometry import Geometry, geometry

PHASES = (
    "ring_placement", "movement", "capture", "chain_capture", "line_processing",
    "territory_processing", "forced_elimination", "game_over",
)


def cap_height(stack: tuple) -> int:
    """Number of rings from the top that share the top ring's owner."""
    top = stack[-1]
    h = 0
    for owner in reversed(stack):
        if owner != top:
            break
        h += 1
    return h


class GameState:
    """Board, players, phase and the turn-scoped bookkeeping the rules need."""

    __slots__ = (
        "geo", "board_type", "num_players", "stacks", "markers", "collapsed",
        "hand", "elim", "board_elim", "territory", "total_elim", "lost",
        "current_player", "phase", "status", "winner", "victory_reason", "outcome",
        "must_move", "chain_pos", "pending", "recovery_turn", "acted",
        "turn_number", "move_count", "last_actor",
        "lps_first", "lps_actors", "lps_candidate", "lps_count", "lps_required",
        "swap_enabled", "swap_used", "seat_moved",
        "victory_threshold", "territory_threshold", "territory_minimum",
        "game_id", "rules_options", "move_cap", "elim_order", "stack_born", "born_seq",
    )

    def __init__(self, board_type: str, num_players: int):
        geo = geometry(board_type)
        self.geo: Geometry = geo
        self.board_type = board_type
        self.num_players = num_players
        n = geo.num_cells
        self.stacks: list[tuple | None] = [None] * n
        self.markers: list[int] = [0] * n
        self.collapsed: list[int] = [0] * n
        rpp = geo.spec.rings_per_player
        self.hand = [0] + [rpp] * num_players
        self.elim = [0] * (num_players + 1)
        self.board_elim = [0] * (num_players + 1)
        self.territory = [0] * (num_players + 1)
        self.total_elim = 0
        # Rings of each colour eliminated (whoever was credited): conservation checks use it.
        self.lost = [0] * (num_players + 1)
        self.current_player = 1
        self.phase = "ring_placement"
        self.status = "active"
        self.winner: int | None = None
        self.victory_reason: str | None = None
        # How the game ended for the record: the victory reason, or 'stalemate' when a bare
        # board was resolved by tiebreak (victory_reason then names the deciding step).
        self.outcome: str | None = None
        self.must_move = -1
        self.chain_pos = -1
        self.pending: str | None = None  # 'line' | 'territory' | 'recovery'
        self.recovery_turn = False
        self.acted = False
        self.turn_number = 1
        self.move_count = 0
        self.last_actor = 0
        self.lps_first = 0
        self.lps_actors: tuple = ()
        self.lps_candidate = 0
        self.lps_count = 0
        self.lps_required = 3
        self.swap_enabled = False
        self.swap_used = False
        self.seat_moved = [False] * (num_players + 1)
        self.victory_threshold = geo.spec.victory_threshold(num_players)
        self.territory_threshold = n // 2 + 1
        self.territory_minimum = geo.spec.territory_minimum(n, num_players)
        self.game_id = ""
        self.rules_options: dict = {}
        self.move_cap = 0
        # Turn number at which each player was permanently eliminated (0 = never); ranking uses it.
        self.elim_order = [0] * (num_players + 1)
        # When the stack now on each cell arrived there (a sequence number). The canonical
        # engine keeps stacks in an insertion-ordered map and takes "the first eligible
        # stack" in that order when a recorded recovery leaves the extraction unchosen.
        self.stack_born = [0] * n
        self.born_seq = 0

    # --- copying -------------------------------------------------------------------------------

    def copy(self) -> "GameState":
        c = GameState.__new__(GameState)
        for name in GameState.__slots__:
            setattr(c, name, getattr(self, name))
        c.stacks = self.stacks[:]
        c.markers = self.markers[:]
        c.collapsed = self.collapsed[:]
        c.hand = self.hand[:]
        c.elim = self.elim[:]
        c.board_elim = self.board_elim[:]
        c.territory = self.territory[:]
        c.lost = self.lost[:]
        c.seat_moved = self.seat_moved[:]
        c.elim_order = self.elim_order[:]
        c.stack_born = self.stack_born[:]
        return c

    def stack_arrived(self, cell: int) -> None:
        """Record that a stack was newly placed on `cell` (see `stack_born`)."""
        self.born_seq += 1
        self.stack_born[cell] = self.born_seq

    # --- queries -------------------------------------------------------------------------------

    @property
    def is_over(self) -> bool:
        return self.status != "active"

    def controlled_stacks(self, player: int) -> list[int]:
        return [c for c, s in enumerate(self.stacks) if s is not None and s[-1] == player]

    def controls_any_stack(self, player: int) -> bool:
        for s in self.stacks:
            if s is not None and s[-1] == player:
                return True
        return False

    def rings_on_board(self, player: int) -> int:
        return sum(s.count(player) for s in self.stacks if s is not None)

    def has_any_ring(self, player: int) -> bool:
        """Rings in hand or anywhere on the board (a permanently eliminated player has none)."""
        if self.hand[player] > 0:
            return True
        for s in self.stacks:
            if s is not None and player in s:
                return True
        return False

    def has_buried_ring(self, player: int) -> bool:
        for s in self.stacks:
            if s is not None and player in s[:-1]:
                return True
        return False

    def marker_count(self, player: int) -> int:
        return self.markers.count(player)

    @property
    def pending_decision_type(self) -> str | None:
        """What the player to move must decide, in RingRift's decision vocabulary."""
        if self.status != "active":
            return None
        if self.pending == "line":
            return "line_reward_elimination"
        if self.pending in ("territory", "recovery"):
            return "region_elimination"
        if self.phase == "chain_capture":
            return "chain_capture"
        if self.phase == "line_processing":
            return "select_line_to_process"
        if self.phase == "territory_processing":
            return "select_region_to_process"
        return None

    # --- JSON ----------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, d: dict, *, partial: bool = False) -> "GameState":
        """Read RingRift state JSON; StateFormatError names the bad field. `partial=True` only for
        hand-made positions (vectors, test fixtures): see `engine.serialize.state_from_json`."""
        from engine.serialize import state_from_json

        return state_from_json(d, partial=partial)

    def to_json(self) -> dict:
        from engine.serialize import state_to_json

        return state_to_json(self)

    def __repr__(self) -> str:
        return (
            f"GameState({self.board_type} {self.num_players}p player={self.current_player} "
            f"phase={self.phase} status={self.status} moves={self.move_count})"
        )
