"""The learning curve of bench/learning.py's ledger: a markdown table (learning.md) and a plot
(learning.png) of each promoted model's score against the fixed anchors, iteration by iteration."""
from __future__ import annotations

from pathlib import Path

ANCHORS = ("D1", "D3", "D5")


def _cell(e: dict | None) -> str:
    if not e:
        return ""
    elo = "" if e.get("elo") is None else f", {e['elo']:+.0f} Elo"
    return f"{e['score']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}] /{e['games']}{elo}"


def table(ledger: dict) -> str:
    """One row per iteration: data, time, held-out losses, the gate, anchored scores of promoted models."""
    head = ("| it | games | samples | wall min (cum.) | val policy | val value | gate (score, games, SPRT) | promoted | "
            + " | ".join(f"vs {a}" for a in ANCHORS) + " |")
    rows = [head, "|" + "---|" * (8 + len(ANCHORS))]
    for e in ledger["iterations"]:
        t = e.get("train") or {}
        g = e.get("gate")
        gate = f"{g['score']:.2f}, {g['games']}, {g['sprt'].split(' (')[0]}" if g else "(bootstrap)"
        ev = e.get("eval") or {}
        rows.append(
            f"| {e['iteration']} | {e['games']} | {e['samples']} | {e['wall_s'] / 60:.1f} ({e['elapsed_s'] / 60:.0f}) | "
            f"{t.get('val_policy_loss', float('nan')):.3f} | {t.get('val_value_loss', float('nan')):.3f} | {gate} | "
            f"{'yes' if e.get('promoted') else ''} | " + " | ".join(_cell(ev.get(a)) for a in ANCHORS) + " |")
    return "\n".join(rows)


def final_table(ledger: dict) -> str:
    fin = ledger.get("final") or {}
    rows = ["| best model vs | games (distinct) | score [95% CI] | Elo | minutes |", "|---|---|---|---|---|"]
    for name, m in (fin.get("matches") or {}).items():
        elo = "" if m.get("elo") is None else f"{m['elo']:+.0f}"
        rows.append(f"| {name} | {m['games']} ({m['distinct']}) | {m['score']:.3f} [{m['lo']:.3f}, {m['hi']:.3f}] | "
                    f"{elo} | {m['seconds'] / 60:.1f} |")
    return "\n".join(rows)


def plot(ledger: dict, path: Path) -> Path:
    """Score of each promoted model against each anchor, with its 95% interval, by cumulative hours."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for a in ANCHORS:
        pts = [(e["elapsed_s"] / 3600, e["eval"][a]) for e in ledger["iterations"] if (e.get("eval") or {}).get(a)]
        if not pts:
            continue
        xs = [x for x, _ in pts]
        ax.errorbar(xs, [p["score"] for _, p in pts],
                    yerr=[[p["score"] - p["lo"] for _, p in pts], [p["hi"] - p["score"] for _, p in pts]],
                    marker="o", capsize=3, label=f"vs {a}")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set_xlabel("loop wall time (hours)")
    ax.set_ylabel("score of the promoted model (64 sims)")
    ax.set_title(f"{ledger['board']} {ledger['players']}p: promoted models against fixed anchors")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(root: Path, ledger: dict) -> Path:
    root = Path(root)
    text = (f"# Learning curve ({ledger['board']} {ledger['players']}p, commit {ledger.get('commit', '?')})\n\n"
            f"Loop wall time: {ledger['elapsed_s'] / 3600:.2f} h over {len(ledger['iterations'])} iterations.\n\n"
            + table(ledger) + "\n\n## Closing matches\n\n" + final_table(ledger) + "\n")
    (root / "learning.md").write_text(text)
    plot(ledger, root / "learning.png")
    return root / "learning.md"
