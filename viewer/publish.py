"""What the Prefect UI shows of an iteration beyond tables: plots and watchable games.

The UI renders markdown and image artifacts but runs no script and does not serve files, so:
- plots are PNGs embedded as data URLs: an image artifact `learning-curve-<config>` and the run-level
  markdown report `report-<config>` (every plot), whose key history keeps one version per iteration;
- games: each chosen game's viewer page (viewer.page, a self-contained HTML file) is stored through
  the project's artifact storage under `viewer/<config>/i<iteration>/`, and the summary shows a
  picture of its final position (an SVG data URL, which the UI renders) with a link to the page: an
  http(s) URL where the storage has one (an S3 bucket: a presigned URL), else the stored file's
  file:// URL (browsers open it when pasted, not when clicked from the UI's http page), and the
  `rift show` command that writes the same page anywhere.
"""
from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

from infra.data_config import DataConfig
from viewer.frames import replay_frames
from viewer.page import game_page
from viewer.plots import TITLES
from viewer.svg import position_svg

log = logging.getLogger(__name__)
LINK_DAYS = 7  # lifetime of a presigned link


def data_url(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def build_plots(data: DataConfig, board: str, players: int) -> dict[str, bytes | str]:
    from cli.report import report_data
    from infra.data_config import config_key
    from viewer.plots import make_plots
    games, ratings, models = report_data(data, board, players)
    return make_plots(config_key(board, players), players, games, ratings, models)


def report_markdown(config: str, plots: dict[str, bytes | str], iteration: int | None = None) -> str:
    head = f"# Report · {config}" + (f" · after iteration {iteration}" if iteration is not None else "")
    parts = [head, "", "Learning curve: Elo of each promoted model with its 95% interval against the fixed anchor "
             "(the first evaluation baseline at 0 Elo), by iteration and by wall-clock hours. Files: "
             f"`rift report --board {config.split('_')[0]} --players {config.split('_')[1][0]}`.", ""]
    for name, value in plots.items():
        parts.append(f"## {TITLES.get(name, name)}\n")
        parts.append(f"![{name}]({data_url('image/png', value)})\n" if isinstance(value, bytes) else f"_{value}_\n")
    return "\n".join(parts)


# --- games ---------------------------------------------------------------------------------------

def iteration_games(data: DataConfig, board: str, players: int, iteration: int) -> list[dict[str, Any]]:
    """(id, winner, length) of the games the iteration's selfplay stored, from the config's game store."""
    from infra.gamestore import GameStore
    path = data.game_db_path(board, players)
    if not path.exists():
        return []
    with GameStore(path, data.source_host, read_only=True) as store:
        rows = store._query("SELECT id, winner, length FROM games WHERE "
                            "json_extract(record, '$.metadata.pipeline.iteration') = ? ORDER BY rowid", (iteration,))
    return [{"id": r[0], "winner": r[1], "length": int(r[2] or 0)} for r in rows]


def choose_games(games: list[dict[str, Any]], players: int) -> list[tuple[str, str]]:
    """(label, game id): the longest game, then the longest win of each seat not already chosen (a game
    chosen twice is listed once, with both labels)."""
    chosen: list[list[str]] = []
    if not games:
        return []
    longest = max(games, key=lambda g: g["length"])
    chosen.append([f"longest game ({longest['length']} moves)", longest["id"]])
    for seat in range(1, players + 1):
        wins = sorted((g for g in games if g["winner"] == seat), key=lambda g: -g["length"])
        if not wins:
            chosen.append([f"a win for seat {seat}: none this iteration", ""])
            continue
        taken = {c[1] for c in chosen}
        fresh = [g for g in wins if g["id"] not in taken]
        if fresh:
            chosen.append([f"a win for seat {seat}", fresh[0]["id"]])
        else:
            entry = next(c for c in chosen if c[1] == wins[0]["id"])
            entry[0] += f", a win for seat {seat}"
    return [(label, gid) for label, gid in chosen]


def evaluation_game(data: DataConfig, config: str, iteration: int) -> dict[str, Any] | None:
    """One of the new model's evaluation games, when the evaluate phase kept their records."""
    path = data.data_dir / "pipeline" / config / f"evaluate-i{iteration}-games.jsonl"
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.strip():
            return json.loads(line)
    return None


def viewer_url(store: Any, key: str) -> str:
    """A link to a stored page: presigned http(s) for an object store, else the local file's URL."""
    block = store.block
    if hasattr(block, "bucket_name") and hasattr(block, "credentials"):
        folder = (getattr(block, "bucket_folder", "") or "").strip("/")
        client = block.credentials.get_s3_client()
        return client.generate_presigned_url(
            "get_object", ExpiresIn=LINK_DAYS * 86400,
            Params={"Bucket": block.bucket_name, "Key": f"{folder}/{key}" if folder else key,
                    "ResponseContentType": "text/html; charset=utf-8"})
    base = getattr(block, "basepath", None)
    if base:
        return (Path(base) / key).resolve().as_uri()
    return key


def publish_game(store: Any, config: str, iteration: int, label: str, record: dict[str, Any],
                 name: str) -> dict[str, Any]:
    """Store the game's viewer page; returns the summary's entry (label, link, thumbnail, facts)."""
    key = f"viewer/{config}/i{iteration}/{name}.html"
    store.write_bytes(key, game_page(record).encode("utf-8"))
    rep = replay_frames(record)
    thumb = position_svg(rep.board, rep.frame(len(rep.diffs)), width=260)
    return {"label": label, "id": str(record.get("id")), "key": key, "url": viewer_url(store, key),
            "moves": len(rep.moves), "winner": record.get("winner"), "outcome": record.get("outcome"),
            "thumbnail": data_url("image/svg+xml", thumb.encode("utf-8"))}


def publish_games(data: DataConfig, board: str, players: int, iteration: int, config: str) -> list[dict[str, Any]]:
    """Store the viewer pages of the iteration's chosen games; [] when it stored no games."""
    from infra.gamestore import GameStore
    from infra.storage import ArtifactStore
    picks = choose_games(iteration_games(data, board, players, iteration), players)
    evaluation = evaluation_game(data, config, iteration)
    if not picks and evaluation is None:
        return []
    store = ArtifactStore.from_config(data)
    entries: list[dict[str, Any]] = []
    try:
        records: dict[str, dict[str, Any]] = {}
        if picks:
            with GameStore(data.game_db_path(board, players), data.source_host, read_only=True) as games:
                for _, gid in picks:
                    if gid and gid not in records:
                        records[gid] = games.get(gid) or {}
        for n, (label, gid) in enumerate(picks):
            if not gid:
                entries.append({"label": label})
            elif records.get(gid):
                entries.append(publish_game(store, config, iteration, label, records[gid], f"{n}-{gid}"))
        if evaluation is not None:
            entry = publish_game(store, config, iteration, "an evaluation game of the new model", evaluation,
                                 f"eval-{evaluation.get('id', 'game')}")
            source = data.data_dir / "pipeline" / config / f"evaluate-i{iteration}-games.jsonl"
            entries.append(entry | {"command": f"rift show {source} --game {entry['id']}"})
    finally:
        store.close()
    return entries


def games_markdown(entries: list[dict[str, Any]]) -> str:
    """The summary's "Games" section: a picture of each final position, a link to its viewer page."""
    if not entries:
        return "\n## Games\n\nNo games stored by this iteration.\n"
    lines = ["\n## Games\n", "Each link opens the game viewer (board, step-through controls, move list). "
             "A file:// link opens when pasted into the browser's address bar; `rift show ID` writes the page "
             "anywhere.\n"]
    for e in entries:
        if "url" not in e:
            lines.append(f"- {e['label']}\n")
            continue
        result = f"winner P{e['winner']}" if e.get("winner") else "no winner"
        lines.append(f"- **{e['label']}**: [open the game viewer: {e['id']}]({e['url']}) · {e['moves']} moves, "
                     f"{result}{' (' + e['outcome'] + ')' if e.get('outcome') else ''} · "
                     f"`{e.get('command') or 'rift show ' + e['id']}`\n\n"
                     f"  ![final position of {e['id']}]({e['thumbnail']})\n")
    return "\n".join(lines)


def iteration_visuals(summary: dict[str, Any], data: DataConfig) -> str:
    """Publish the plots (image artifact, run-level report) and the chosen games' viewer pages; returns
    the summary's extra markdown. Runs inside a flow run. A failure here is reported in the summary and
    the log, never raised: the iteration's own result must still be published."""
    from prefect.artifacts import create_image_artifact, create_markdown_artifact
    from tasks.common import artifact_key
    config, board, players, iteration = summary["config"], summary["board"], summary["players"], summary["iteration"]
    out = ["\n## Learning curve\n"]
    try:
        plots = build_plots(data, board, players)
        curve = plots["learning_curve"]
        if isinstance(curve, bytes):
            create_image_artifact(data_url("image/png", curve), key=artifact_key("learning-curve", config),
                                  description=f"Learning curve of {config} after iteration {iteration}")
            out.append(f"![learning curve of {config}]({data_url('image/png', curve)})\n")
        else:
            out.append(f"_{curve}_\n")
        create_markdown_artifact(report_markdown(config, plots, iteration), key=artifact_key("report", config),
                                 description=f"Plots of {config} (whole run) after iteration {iteration}")
        out.append(f"All plots: artifact `{artifact_key('report', config)}`.\n")
    except Exception as exc:  # noqa: BLE001 - reported, not raised (see docstring)
        log.warning("plots of %s not published: %s", config, exc, exc_info=True)
        out.append(f"_Plots could not be made: {exc}_\n")
    try:
        out.append(games_markdown(publish_games(data, board, players, iteration, config)))
    except Exception as exc:  # noqa: BLE001
        log.warning("games of %s iteration %s not published: %s", config, iteration, exc, exc_info=True)
        out.append(f"\n## Games\n\n_The game viewer pages could not be stored: {exc}_\n")
    return "".join(out)
