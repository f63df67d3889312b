"""The artifacts an iteration publishes: its summary, seat win rates and move-cap rate, leaderboard.

Builders are plain functions returning markdown or rows, so they are tested
without a server; `publish` sends them to Prefect under stable keys (only keyed
artifacts show in `prefect artifact ls`, and a key's history shows the trend).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from infra.data_config import DataConfig
from infra.game_stats import game_stats
from infra.gamestore import GameStore
from infra.registry import ModelRegistry
from tasks.common import artifact_key

STALENESS_WINDOW = 5000  # newest games looked at for "how stale is the training data"


def seat_rows(data: DataConfig) -> list[dict[str, Any]]:
    """Per config: games, seat win rates, no-winner and move-cap rate, mean length."""
    frame = game_stats(data).configs
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()
                     if not (isinstance(v, float) and v != v)})  # drop NaN seats of smaller configs
    return rows


def leaderboard_rows(data: DataConfig, board: str, players: int) -> list[dict[str, Any]]:
    """Rated models of the config, best first; [] before any rating exists."""
    if not data.registry_path.exists():
        return []
    with ModelRegistry(data.registry_path) as reg:
        frame = reg.models_frame(board, players)
    frame = frame[frame["rating"].notna()].sort_values("rating", ascending=False)
    return [{"model": r["id"], "rating": round(float(r["rating"]), 1), "status": r["status"], "tier": r["tier"],
             "iteration": int(r["iteration"])} for r in frame.to_dict("records")]


def staleness(data: DataConfig, board: str, players: int, current: int) -> dict[str, Any]:
    """How many iterations behind the current one the newest games were played (the training window)."""
    path = data.game_db_path(board, players)
    if not path.exists():
        return {"games": 0}
    with GameStore(path, data.source_host, read_only=True) as store:
        values = [row[4] for row in store.json_rows(["$.metadata.pipeline.iteration"], STALENESS_WINDOW)]
    known = [current - int(v) for v in values if v is not None]
    if not known:
        return {"games": len(values), "untagged": len(values)}
    return {"games": len(values), "untagged": len(values) - len(known),
            "mean_behind": round(sum(known) / len(known), 2), "max_behind": max(known),
            "by_behind": dict(sorted(Counter(known).items()))}


def _result_line(phase: str, result: dict[str, Any] | None) -> str:
    if not result:
        return ""
    if phase == "selfplay":
        source = {"bootstrap": "bootstrap teachers, ", "net": f"net {result.get('model')}, "}.get(
            result.get("source") or "", "")
        return (f"{source}{result['games']} games ({result['inserted']} new, {result['already_present']} already "
                f"stored), move-cap rate {result['move_cap_rate']:.1%}, store {result['store_games']} games")
    if phase == "sync":
        return (f"{result['keys']} published batches, {result['inserted']} new games, {result['shards']} shards, "
                f"store {result['store_games']} games")
    if phase == "train":
        m = result.get("metrics") or {}
        line = (f"model {result['model']} (parent {result['parent'] or 'none'}), {m.get('samples', 0)} samples, "
                f"policy loss {m.get('train_policy_loss')}, value loss {m.get('train_value_loss')}")
        if m.get("validation"):
            line += (f"; held-out ({result.get('held_games', 0)} new held-out games, {m.get('val_samples', 0)} "
                     f"samples): policy loss {m.get('val_policy_loss')}, value loss {m.get('val_value_loss')}")
        return line
    if phase == "evaluate":
        vs = ", ".join(f"{k} {v}" for k, v in result["vs"].items())
        return f"{result['games']} games, W-D-L vs {vs}; rating {result['rating']}"
    if phase == "gate" and "error_rates" in result:
        return _closed_gate_line(result)
    if phase == "gate":
        s = result["sprt"]
        return (f"{'promoted' if result['promoted'] else 'not promoted'} vs {result['reference']} "
                f"({result['wdl']}, score {result['score']:.1%}): {result['reason']}; SPRT [{s['elo0']:g}, "
                f"{s['elo1']:g}] LLR {s['llr']} in ({s['lower']}, {s['upper']}); tier {result['tier'] or '-'}")
    if phase == "cmaes":
        ci = result["confirm"]["ci95"]
        return (f"{result['candidates']} candidates from {result['base']}, {result['games']} games; confirmed "
                f"score {result['fitness']} [{ci[0]}, {ci[1]}] vs {result['reference']} -> {result['key']}")
    if phase == "profile_sync":
        return (f"{result['profiles']} published profiles, best {result['best']} (score {result['fitness']} vs "
                f"{result['reference']}), {len(result['refused'])} refused, {result['remeasured']} re-measured, "
                f"{'updated' if result['changed'] else 'unchanged'}")
    if phase == "monitor":
        bad = ", ".join(result["not_healthy"]) or "none"
        return f"{result['hosts']} hosts, not healthy: {bad}"
    small = {k: v for k, v in result.items() if k not in ("phase", "id", "seconds") and not isinstance(v, (list, dict))}
    return ", ".join(f"{k} {v}" for k, v in list(small.items())[:6])


def _closed_gate_line(result: dict[str, Any]) -> str:
    """The closed loop's gate: decision, rule and the rule's error rates (tasks/closed_gate.py)."""
    r = result["error_rates"]
    played = "" if result["rule"] == "first-model" else (
        f" vs {result['reference']} ({result['wdl']}, score {result['score']:.1%})")
    return (f"{'promoted' if result['promoted'] else 'not promoted'}{played}: {result['reason']}. Rule: "
            f"{result['rule_text']}; false promotion at equal strength {r['false_promotion']:.1%}, power at "
            f"+{r['power_elo']:g} Elo {r['power']:.1%} (simulated, {r['trials']} gates)")


def summary_markdown(summary: dict[str, Any], stale: dict[str, Any], leaderboard: list[dict[str, Any]],
                     error: str | None = None) -> str:
    """The iteration summary: every phase (where, state, time, result), data staleness, leaderboard."""
    head = (f"# Iteration {summary['iteration']} · {summary['config']} · profile {summary['profile']}\n\n"
            f"Wall time {summary['wall_s']:.1f} s, of which {summary['inside_s']:.1f} s inside the phases. "
            f"Code {summary['code_version']}. Data folder `{summary['data_dir']}`.\n")
    if error:
        head += f"\n**Failed:** {error}\n"
    lines = ["| phase | where | state | seconds | result |", "|---|---|---|---|---|"]
    for phase, info in summary["phases"].items():
        seconds = f"{info.get('wall_s', 0):.2f}"
        if "queue_s" in info:  # a placed run: waiting for a worker and its start-up are not phase time
            seconds += f" (queue + start-up {info['queue_s']:.1f}, run {info.get('run_s', 0):.1f})"
        lines.append(f"| {phase} | {info['where']} | {info['state']} | {seconds} | "
                     f"{info.get('note') or _result_line(phase, info.get('result'))} |")
    data = "\n## Training data\n\n"
    if stale.get("mean_behind") is not None:
        data += (f"Newest {stale['games']} games: on average {stale['mean_behind']} iterations behind this one "
                 f"(max {stale['max_behind']}); games per iterations-behind: {stale['by_behind']}.\n")
    else:
        data += f"{stale.get('games', 0)} games in the store, none tagged with an iteration.\n"
    board = "\n## Leaderboard\n\n"
    if leaderboard:
        board += "| model | rating | status | tier |\n|---|---|---|---|\n" + "\n".join(
            f"| {r['model']} | {r['rating']} | {r['status']} | {r['tier'] or ''} |" for r in leaderboard[:10])
    else:
        board += "No rated models yet for this config."
    see = (f"\n\nTables: `seat-win-rates`, `{artifact_key('leaderboard', summary['config'])}`, "
           f"`{artifact_key('resources', summary['config'])}`. Plots as files: `rift report --board {summary['board']} "
           f"--players {summary['players']}`.\n")
    return head + "\n" + "\n".join(lines) + "\n" + data + board + see


def publish(summary: dict[str, Any], data: DataConfig, error: str | None = None) -> None:
    """Create the iteration's artifacts on the current flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    config = summary["config"]
    board, players, current = summary["board"], summary["players"], summary["iteration"]
    stale = staleness(data, board, players, current)
    summary["staleness"] = stale
    leaderboard = leaderboard_rows(data, board, players)
    from viewer.publish import iteration_visuals
    create_markdown_artifact(summary_markdown(summary, stale, leaderboard, error) + iteration_visuals(summary, data),
                             key=artifact_key("iteration", config), description=f"iteration {current} of {config}")
    rows = seat_rows(data)
    if rows:
        create_table_artifact(rows, key="seat-win-rates", description="Seat win rates and move-cap rate per config")
    if leaderboard:
        create_table_artifact(leaderboard, key=artifact_key("leaderboard", config), description=f"Ratings of {config}")
