"""Neural-net speed: inference throughput by batch size, the server under concurrent games,
weight-reload latency under load, training samples/s, and what a checkpoint holds training up.

Usage:  python bench/nn.py [--board square8] [--players 2] [--preset small] [--seconds 2] [--threads N]
                           [--batches 1,2,4,...,256] [--clients 1,8,32,128] [--selfplay 64]
                           [--markdown] [--json OUT]
On a GPU, for the issue's table:  --batches 1,2,4,...,256,2048 --selfplay 64,256,1024

Every ratio compares with a baseline measured in the same run: positions/s at batch size b
against batch size 1 (the cost of evaluating positions one by one), the server's rate
against one client, neural selfplay against the raw net's best rate (the ceiling), the
background checkpoint against the same save done synchronously.
Runs on CUDA when present (then also with CUDA graphs), else MPS, else CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine import apply_in_place, legal_moves, new_game  # noqa: E402
from engine.nn.checkpoint import BackgroundCheckpointer  # noqa: E402
from engine.nn.device import pick_device  # noqa: E402
from engine.nn.encoding import encode_batch  # noqa: E402
from engine.nn.evaluator import NeuralEvaluator  # noqa: E402
from engine.nn.inference import InferenceConfig, InferenceServer  # noqa: E402
from engine.nn.model import NetConfig, build_model  # noqa: E402
from engine.nn.policy import layout, legal_indices  # noqa: E402
from engine.nn.runner import BatchRunner  # noqa: E402
from engine.nn.selfplay import play_neural_games  # noqa: E402
from engine.nn.train import TrainConfig, train_on_samples  # noqa: E402
from infra.shards import Samples, SparsePolicy  # noqa: E402


def game_positions(board: str, n: int, count: int, seed: int = 1) -> list:
    """Decision positions (more than one legal move) of random games."""
    rng, out = random.Random(seed), []
    while len(out) < count:
        s = new_game(board, n)
        while s.status == "active" and len(out) < count:
            ms = legal_moves(s)
            if len(ms) > 1:
                out.append(s.copy())
            apply_in_place(s, ms[rng.randrange(len(ms))])
    return out


def timed(fn, seconds: float) -> float:
    """Calls per second of fn over about `seconds` (after one warm-up call)."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed


def bench_batches(model, states, batches, seconds, device) -> list[dict]:
    planes_all = encode_batch(states[: max(batches)])
    legal_all = [legal_indices(s)[1] for s in states[: max(batches)]]
    runners = {"eager": BatchRunner(model, device=device, cuda_graphs=False, max_batch_size=max(batches))}
    if device.type == "cuda":
        runners["cuda graphs"] = BatchRunner(model, device=device, cuda_graphs=True, max_batch_size=max(batches))
    rows = []
    for name, runner in runners.items():
        for b in batches:
            planes = planes_all[:b]

            def fwd():
                logits, _ = runner.forward(planes)
                if device.type == "cuda":
                    torch.cuda.synchronize()

            with torch.inference_mode():
                raw = timed(fwd, seconds) * b
            full = timed(lambda: runner.run(states[:b], legal_all[:b]), seconds) * b
            rows.append({"mode": name, "batch": b, "forward_pos_s": raw, "full_pos_s": full})
        base = [r for r in rows if r["mode"] == name and r["batch"] == batches[0]][0]
        for r in rows:
            if r["mode"] == name:
                r["x_forward"] = r["forward_pos_s"] / base["forward_pos_s"]
                r["x_full"] = r["full_pos_s"] / base["full_pos_s"]
    return rows


def bench_server(model, states, clients, seconds, device, reloads: int = 0) -> dict:
    """Positions/s answered by the server with `clients` threads each submitting one position
    at a time (legal indices precomputed, as a game would have them); optional reloads."""
    legal = [legal_indices(s)[1] for s in states]
    stop, counts = threading.Event(), [0] * clients
    server = InferenceServer(model, InferenceConfig(max_batch_size=256, batch_timeout_ms=5, device=str(device)))
    traces = []
    with server:
        def client(c):
            i = c
            while not stop.is_set():
                server.evaluate([states[i % len(states)]], [legal[i % len(states)]])
                counts[c] += 1
                i += clients

        threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
        for t in threads:
            t.start()
        time.sleep(min(0.5, seconds / 4))
        base, t0 = sum(counts), time.perf_counter()
        for _ in range(reloads):
            time.sleep(seconds / max(reloads, 1))
            traces.append(server.reload(model).wait(30, until_used=True))
        if not reloads:
            time.sleep(seconds)
        rate = (sum(counts) - base) / (time.perf_counter() - t0)
        stop.set()
        for t in threads:
            t.join()
    out = {"clients": clients, "pos_s": rate, "mean_batch": server.stats.mean_batch}
    if traces:
        until_loaded = sorted((t.queued_s + t.load_s) * 1e3 for t in traces)
        total = sorted(t.total_s * 1e3 for t in traces)
        out.update(reloads=len(traces), loaded_p50_ms=statistics.median(until_loaded),
                   loaded_p99_ms=float(np.percentile(until_loaded, 99)), used_p50_ms=statistics.median(total),
                   used_p99_ms=float(np.percentile(total, 99)))
    return out


def bench_selfplay(model, board: str, n: int, games: int, move_cap: int, device) -> dict:
    """Neural selfplay (NeuralPlayer, temperature 1) with `games` games at once through the server:
    positions the server evaluated per second, and its mean batch."""
    server = InferenceServer(model, InferenceConfig(max_batch_size=256, batch_timeout_ms=5, device=str(device)))
    with server:
        t0 = time.perf_counter()
        play_neural_games(NeuralEvaluator(server), board, n, games, concurrency=games, move_cap=move_cap)
        elapsed = time.perf_counter() - t0
    return {"games": games, "pos_s": server.stats.positions / elapsed, "mean_batch": server.stats.mean_batch}


def bench_training(cfg: NetConfig, samples: int, batch: int, device) -> dict:
    g = layout(cfg.board_type)
    rng = np.random.default_rng(0)
    feats = encode_batch(game_positions(cfg.board_type, cfg.num_players, 256))
    x = feats[rng.integers(0, len(feats), samples)].astype(np.float16)
    pol = SparsePolicy.from_pairs([[(int(rng.integers(0, g.spatial_size)), 1.0)] for _ in range(samples)])
    vals = rng.choice([-1.0, 1.0], size=(samples, cfg.num_players)).astype(np.float32)
    model = build_model(cfg)
    res = train_on_samples(model, Samples(x, pol, vals),
                           TrainConfig(epochs=2, batch_size=batch, val_fraction=0, device=str(device)))
    return {"samples": samples, "batch": batch, "samples_per_s": res.epochs[-1].samples_per_s, "model": model}


def bench_checkpoint(model, saves: int = 5) -> dict:
    from infra.data_config import DataConfig
    from infra.storage import ArtifactStore
    with tempfile.TemporaryDirectory() as tmp:
        store = ArtifactStore.from_config(DataConfig(data_dir=Path(tmp) / "data", source_host="bench"))
        ck = BackgroundCheckpointer(Path(tmp) / "ck", store, "bench")
        sync = [ck.save_sync(model, f"sync{i}.pt") for i in range(saves)]
        background = [ck.save(model, f"bg{i}.pt") for i in range(saves)]
        ck.wait()
        store.close()
        size = (Path(tmp) / "ck" / "bg0.pt").stat().st_size
    return {"bytes": size, "sync_ms": statistics.median(sync) * 1e3, "background_ms": statistics.median(background) * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="square8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--preset", default=None, help="net size (default: small on CPU, large on GPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    ap.add_argument("--clients", default="1,8,32,128")
    ap.add_argument("--selfplay", default="64", help="concurrent neural selfplay games to measure, e.g. 64,256,1024")
    ap.add_argument("--move-cap", type=int, default=200, help="moves per selfplay game")
    ap.add_argument("--reloads", type=int, default=20)
    ap.add_argument("--train-samples", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    preset = args.preset or ("large" if device.type == "cuda" else "small")
    cfg = NetConfig.preset(preset, args.board, args.players)
    batches = [int(b) for b in args.batches.split(",")]
    clients = [int(c) for c in args.clients.split(",")]
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    states = game_positions(args.board, args.players, max(max(batches), 512))
    machine = (f"{os.cpu_count()} cores ({platform.machine()}), torch {torch.__version__}, device {device}"
               + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
               + f", {torch.get_num_threads()} torch threads")
    print(f"# {args.board} {args.players}p, net {preset} ({cfg.blocks}x{cfg.channels}), "
          f"policy {layout(args.board).size}; {machine}")
    rows = bench_batches(model, states, batches, args.seconds, device)
    server = [bench_server(model, states, c, args.seconds, device) for c in clients]
    selfplay = [bench_selfplay(model, args.board, args.players, int(g), args.move_cap, device)
                for g in args.selfplay.split(",") if g]
    loaded = bench_server(model, states, max(clients), args.seconds * 2, device, reloads=args.reloads)
    train = bench_training(cfg, args.train_samples, 256, device)
    ckpt = bench_checkpoint(train.pop("model"))
    report = {"machine": machine, "board": args.board, "players": args.players, "preset": preset,
              "batches": rows, "server": server, "selfplay": selfplay, "reload": loaded, "training": train, "checkpoint": ckpt}
    bar = "|" if args.markdown else " "
    print(f"\n{bar} mode {bar} batch {bar} net forward pos/s {bar} x batch 1 {bar} encode+forward+priors pos/s "
          f"{bar} x batch 1 {bar}")
    if args.markdown:
        print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"{bar} {r['mode']} {bar} {r['batch']} {bar} {r['forward_pos_s']:,.0f} {bar} {r['x_forward']:.1f} "
              f"{bar} {r['full_pos_s']:,.0f} {bar} {r['x_full']:.1f} {bar}")
    print(f"\n{bar} server clients {bar} pos/s {bar} x 1 client {bar} mean batch {bar}")
    if args.markdown:
        print("|---|---|---|---|")
    for s in server:
        print(f"{bar} {s['clients']} {bar} {s['pos_s']:,.0f} {bar} {s['pos_s'] / server[0]['pos_s']:.1f} "
              f"{bar} {s['mean_batch']:.1f} {bar}")
    ceiling = max(r["forward_pos_s"] for r in rows)
    for sp in selfplay:
        print(f"neural selfplay, {sp['games']} games at once: {sp['pos_s']:,.0f} positions/s, mean batch "
              f"{sp['mean_batch']:.1f}, {sp['pos_s'] / ceiling:.0%} of the raw net's best rate above")
    print(f"\nreloads under load ({loaded['clients']} clients, {loaded['pos_s']:,.0f} pos/s, "
          f"{loaded.get('reloads', 0)} reloads): submitted->loaded p50 {loaded.get('loaded_p50_ms', 0):.1f} ms, "
          f"p99 {loaded.get('loaded_p99_ms', 0):.1f} ms; submitted->first batch on new weights done "
          f"p50 {loaded.get('used_p50_ms', 0):.1f} ms, p99 {loaded.get('used_p99_ms', 0):.1f} ms")
    print(f"training: {train['samples_per_s']:,.0f} samples/s (batch {train['batch']}, {train['samples']} samples)")
    print(f"checkpoint ({ckpt['bytes'] / 1e6:.1f} MB): training held {ckpt['background_ms']:.1f} ms in the "
          f"background path vs {ckpt['sync_ms']:.1f} ms saving and uploading synchronously")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
