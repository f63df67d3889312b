"""`BatchedGames`: B games of one configuration, advanced one move per game per step.

A step: stack tops and caps, one full-board ray scan, the legal mask of the
vectorized phases, one choice per game from the mask, one batched application; then
the games flagged for the fallback go through the reference engine (fallback.py).
No Python loop over games in the vectorized part. The moves played are kept as small
per-step tensors and decoded to `engine.moves.Move` lists only when asked (`moves()`).
"""
from __future__ import annotations

import random
import time

import torch

from engine.batched.apply import apply_actions
from engine.batched.fallback import run_fallback
from engine.batched.legal import legal_mask
from engine.batched.moves import SKIP_RECOVERY, decode, layout
from engine.batched.players import SCORE_BUDGET, heuristic_choice, random_choice
from engine.batched.recovery import choose_extraction, weighted_slot
from engine.batched.scan import scan, stack_tops
from engine.batched.state import BatchState, from_states, read_states
from engine.game import new_game
from engine.moves import Move
from engine.state import GameState

PLAYERS = ("random", "heuristic")


def pick_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class BatchedGames:
    """B games of (board, num_players) played by `player`: 'random' or 'heuristic' for every
    seat, or one of them per seat (a list, seat 1 first)."""

    def __init__(self, board: str, num_players: int, batch: int, *,
                 player: str | list[str] = "random", device: str = "cpu", seed: int = 0,
                 move_cap: int | None = None, rules_options: dict | None = None,
                 games: int | None = None, refill_every: float = 0.125):
        seats = [player] * num_players if isinstance(player, str) else list(player)
        if len(seats) != num_players or any(x not in PLAYERS for x in seats):
            raise ValueError(f"player must be one of {PLAYERS} or one per seat, got {player!r}")
        if games is not None and games < 1:
            raise ValueError(f"games must be at least 1, got {games}")
        self.board, self.num_players, self.player = board, num_players, player
        self.seats = seats
        self.games = batch if games is None else games
        batch = min(batch, self.games)
        self._game_id = f"batched-{board}-{num_players}p-{seed}-{{}}".format
        self._new_game = lambda i: new_game(board, num_players, rules_options=rules_options, move_cap=move_cap,
                                            game_id=self._game_id(i))
        self._hold(from_states([self._new_game(i) for i in range(batch)], pick_device(device)))
        self.refill_at = max(1, int(batch * refill_every))  # ended slots worth one read-out
        self._initial: BatchState | None = None
        self.gen = torch.Generator(device=self.bs.device)
        self.gen.manual_seed(seed)
        self.rng = random.Random(seed)
        self.steps = 0
        self.score_budget = SCORE_BUDGET  # elements per heuristic scoring chunk (players.py)
        self.vec_moves = 0
        self.fallback_moves = 0
        self.fallback_seconds = 0.0
        self._vec_log: list[torch.Tensor] = []  # rows (game, step, action, player, phase, target)
        self._fb_log: list[tuple[int, int, list[Move]]] = []
        self._region_log: list[tuple[torch.Tensor, int, torch.Tensor]] = []
        self._rec_log: list[tuple] = []

    @classmethod
    def from_states(cls, states: list[GameState], *, player: str = "random", device: str = "cpu",
                    seed: int = 0) -> "BatchedGames":
        """Continue games from given positions (all of one board and player count)."""
        s0 = states[0]
        g = cls(s0.board_type, s0.num_players, 1, player=player, device=device, seed=seed)
        g.games = len(states)
        g._hold(from_states(states, pick_device(device)))
        return g

    def _hold(self, bs: BatchState) -> None:
        """Take `bs` as the batch, one game per slot: game i in slot i, none read out yet.

        Refilling (games > batch) then gives a slot whose game has ended the next game, so the
        batch stays full instead of stepping a shrinking tail of long games. `ids` names the game
        in each slot (its index among all games played); `live` marks the slots whose game has not
        been read out; ended games are read out once, into `read_out`."""
        self.bs = bs
        self.ids = torch.arange(bs.batch, device=bs.device)
        self.live = torch.ones(bs.batch, dtype=torch.bool, device=bs.device)
        self.started = bs.batch
        self.read_out: dict[int, GameState] = {}  # final states of the games read out, by game index

    @property
    def active(self) -> int:
        return int((self.bs.status == 0).sum())

    def step(self) -> None:
        bs = self.bs
        top, cap = stack_tops(bs)
        sc = scan(bs, cap)
        legal = legal_mask(bs, top, cap, sc)
        uses = set(self.seats)
        if uses == {"random"}:
            a = random_choice(legal.mask, self.gen)
        elif uses == {"heuristic"}:
            a = heuristic_choice(bs, legal, sc, top, cap, self.gen, self.score_budget)
        else:
            seat_heur = torch.tensor([False] + [x == "heuristic" for x in self.seats],
                                     device=bs.device)
            heur = seat_heur[bs.current_player]
            a = torch.where(heur, heuristic_choice(bs, legal, sc, top, cap, self.gen, self.score_budget),
                            random_choice(legal.mask, self.gen))
        extraction = None
        if legal.slides is not None:
            extraction = choose_extraction(legal.slides.extract, self.gen)
            if "random" in uses:
                # a slide paid by extraction stands for one reference move per stack
                seat_rand = torch.tensor([False] + [x == "random" for x in self.seats],
                                         device=bs.device)
                rg = torch.nonzero(legal.recovering & seat_rand[bs.current_player]).squeeze(1)
                sld = legal.slides
                flat = weighted_slot(sld.slots[rg], sld.extract[rg].sum(1), self.gen)
                lo = layout(bs.tables, self.num_players)
                skip = flat == sld.slots[0].numel()
                a[rg] = torch.where(skip, lo.special0 + SKIP_RECOVERY, lo.rec0 + flat)
        g = torch.nonzero(legal.vec).squeeze(1)
        p, ph = bs.current_player[g].clone(), bs.phase[g].clone()
        target, extras = apply_actions(bs, a, legal, sc, top, cap, extraction)
        if "regions" in extras:
            g_r, member = extras["regions"]
            self._region_log.append((self.ids[g_r].cpu(), self.steps, member.cpu()))
        if "recovery" in extras:
            g_rec, *rest = extras["recovery"]
            self._rec_log.append((self.steps, self.ids[g_rec].cpu()) + tuple(t.cpu() for t in rest))
        stepcol = torch.full_like(g, self.steps)
        self._vec_log.append(torch.stack([self.ids[g], stepcol, a[g], p, ph, target[g]], 1).to(torch.int32))
        self.vec_moves += g.numel()
        fb = torch.nonzero(legal.fallback).squeeze(1).tolist()
        if fb:
            t0 = time.perf_counter()
            played = run_fallback(bs, fb, self.seats, self.rng)
            self.fallback_seconds += time.perf_counter() - t0
            for i, ms in zip(fb, played):
                self._fb_log.append((int(self.ids[i]), self.steps, ms))
                self.fallback_moves += len(ms)
        self.steps += 1
        if self.started < self.games:
            self._refill()

    def _refill(self) -> None:
        """Read out the ended games and start the next ones in their slots, once enough slots have
        ended (`refill_at`) to make the read-out worth its host round trip, or when none is left."""
        ended = (self.bs.status != 0) & self.live
        k = int(ended.sum())
        if k == 0 or (k < self.refill_at and self.active):
            return
        slots = torch.nonzero(ended).squeeze(1)
        for gid, state in zip(self.ids[slots].tolist(), read_states(self.bs, slots.tolist())):
            self.read_out[gid] = state
        n = min(k, self.games - self.started)
        fresh, spent = slots[:n], slots[n:]
        self.live[spent] = False
        if n:
            self._start_games(fresh)

    def _start_games(self, slots: torch.Tensor) -> None:
        """Start the next games in `slots`: a copy of one initial position's tensors (every new
        game of a configuration starts the same), not a per-game encode on the host."""
        if self._initial is None:
            self._initial = from_states([self._new_game(0)], str(self.bs.device))
        n, t = slots.numel(), self.bs.t
        for name, row in self._initial.t.items():
            if name == "stacks":  # the batch's ring axis may have grown past the initial one
                t[name][slots] = 0
                t[name][slots, :, : row.shape[2]] = row
            else:
                t[name][slots] = row
        for slot, gid in zip(slots.tolist(), range(self.started, self.started + n)):
            self.bs.game_id[slot] = self._game_id(gid)
            self.bs.rules_options[slot] = dict(self._initial.rules_options[0])
        self.ids[slots] = torch.arange(self.started, self.started + n, device=self.bs.device)
        self.started += n

    def play(self, max_steps: int | None = None) -> None:
        """Step until every game is over (or `max_steps`)."""
        while (self.active or self.started < self.games) and (max_steps is None or self.steps < max_steps):
            self.step()

    @property
    def fallback_share(self) -> float:
        total = self.vec_moves + self.fallback_moves
        return self.fallback_moves / total if total else 0.0

    def moves(self) -> list[list[Move]]:
        """The moves each game played, in order, as reference `Move`s."""
        tb = self.bs.tables
        per: list[list[tuple[int, list[Move]]]] = [[] for _ in range(self.started)]
        cells = {}
        for g, st, member in self._region_log:
            for gi, row in zip(g.tolist(), member):
                cells[(gi, st)] = torch.nonzero(row).squeeze(1).tolist()
        rec = {}
        n = tb.n
        for st, g, mode, e, cl in self._rec_log:
            for gi, md, ee, row in zip(g.tolist(), mode.tolist(), e.tolist(), cl.tolist()):
                rec[(gi, st)] = (md, ee, [c for c in row if c != n])
        if self._vec_log:
            rows = torch.cat(self._vec_log).cpu().tolist()
            npl = self.num_players
            for gi, st, a, p, ph, tgt in rows:
                m = decode(tb, npl, a, p, ph, tgt, cells.get((gi, st)), rec.get((gi, st)))
                per[gi].append((st, [m]))
        for gi, st, ms in self._fb_log:
            per[gi].append((st, ms))
        out = []
        for entries in per:
            entries.sort(key=lambda e: e[0])
            out.append([m for _, ms in entries for m in ms])
        return out

    def final_states(self) -> list[GameState]:
        """The last state of every game started, by game index (ended or not)."""
        out: list[GameState | None] = [None] * self.started
        for gid, state in self.read_out.items():
            out[gid] = state
        slots = torch.nonzero(self.live).squeeze(1).tolist()
        for gid, state in zip(self.ids[slots].tolist(), read_states(self.bs, slots)):
            out[gid] = state
        return out  # type: ignore[return-value]
