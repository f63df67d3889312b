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
    """Left: each promoted model's score against each anchor (95% CI) by loop hours. Right: each
    candidate's gate score against the best of its time (95% CI), promoted ones filled."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = ledger["iterations"]
    hours = max((e["elapsed_s"] for e in its), default=3600) / 3600
    fig, (ax, gx) = plt.subplots(1, 2, figsize=(11, 4))
    for a in ANCHORS:
        pts = [(e["elapsed_s"] / 3600, e["eval"][a]) for e in its if (e.get("eval") or {}).get(a)]
        if pts:
            ax.errorbar([x for x, _ in pts], [p["score"] for _, p in pts],
                        yerr=[[p["score"] - p["lo"] for _, p in pts], [p["hi"] - p["score"] for _, p in pts]],
                        marker="o", capsize=3, label=f"vs {a}")
    gates = [e for e in its if e.get("gate")]
    for promoted in (True, False):
        sel = [e for e in gates if bool(e.get("promoted")) == promoted]
        if sel:
            gx.errorbar([e["iteration"] for e in sel], [e["gate"]["score"] for e in sel],
                        yerr=[[e["gate"]["score"] - e["gate"]["lo"] for e in sel],
                              [e["gate"]["hi"] - e["gate"]["score"] for e in sel]],
                        fmt="o", mfc=None if promoted else "white", capsize=3,
                        label="promoted" if promoted else "kept the best")
    for axis in (ax, gx):
        axis.axhline(0.5, color="grey", lw=0.8, ls="--")
        axis.set_ylim(0, 1)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    ax.set_xlim(0, hours * 1.05)
    ax.set_xlabel("loop wall time (hours)")
    ax.set_ylabel("score (64 simulations)")
    ax.set_title("promoted models against fixed anchors")
    gx.set_xlabel("iteration")
    gx.set_title("gate: candidate against the best")
    fig.suptitle(f"{ledger['board']} {ledger['players']}p learning run")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
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
