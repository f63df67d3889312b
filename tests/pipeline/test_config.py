"""config/pipeline.yaml and config/pools.yaml: profiles resolve per config; errors name file and key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.pipeline_config import (PipelineConfigError, load_pipeline_config, load_pools_config)

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "pipeline.yaml"


def write(tmp_path: Path, data: dict, name: str = "pipeline.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def shipped() -> dict:
    return yaml.safe_load(SHIPPED.read_text())


def test_shipped_profiles_resolve_with_per_config_overrides_not_inherited():
    cfg = load_pipeline_config(SHIPPED)
    assert cfg.resolve("default", "square19", 3).selfplay.games == 120  # board-wide override
    assert cfg.resolve("default", "hex8", 4).selfplay.games == 300      # config override
    assert cfg.resolve("default", "hex8", 2).selfplay.games == 400
    tiny = cfg.resolve("tiny", "square19", 3)
    assert tiny.selfplay.games == 6 and tiny.selfplay.mix == "random-only"  # default's overrides stay there
    assert tiny.gate.win_rate == 0.55 and tiny.gate.min_games == 10       # inherited from default
    assert cfg.mix(tiny) == {"random": 1.0}
    assert cfg.resolve("tiny", "hex8", 2).digest() != cfg.resolve("default", "hex8", 2).digest()


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["profiles"]["tiny"]["selfplay"].update(games=-1), "profiles.tiny.selfplay.games"),
    (lambda d: d["profiles"]["tiny"]["selfplay"].update(gamez=3), "profiles.tiny.selfplay.gamez: unknown key"),
    (lambda d: d["profiles"]["tiny"]["selfplay"].update(mix="nope"), "profiles.tiny.selfplay.mix: unknown mix"),
    (lambda d: d["profiles"]["default"]["configs"].update(hex8_2p={"cmaes": {"population": 0}}),
     "profiles.default.configs.hex8_2p.cmaes.population"),
    (lambda d: d["profiles"]["tiny"]["cmaes"].update(confirm_games=0), "profiles.tiny.cmaes.confirm_games"),
    (lambda d: d["profiles"]["tiny"]["cmaes"].update(reference=""), "profiles.tiny.cmaes.reference"),
    (lambda d: d["profiles"]["default"]["configs"].update(hex9={"selfplay": {"games": 1}}),
     "profiles.default.configs.hex9: not a board"),
    (lambda d: d["profiles"]["tiny"].update(extends="missing"), "no profile 'missing'"),
    (lambda d: d.update(phases=["selfplay", "dance"]), "unknown phase"),
    # the closed loop's settings (infra/loop_config.py)
    (lambda d: d["profiles"]["alphazero"]["closed_loop"]["selfplay"].update(fast_sims=128),
     "profiles.alphazero.closed_loop.selfplay: fast_sims (128) exceeds full_sims (64)"),
    (lambda d: d["profiles"]["alphazero"]["closed_loop"]["bootstrap"].update(opening_plies=[8, 2]),
     "profiles.alphazero.closed_loop.bootstrap: opening_plies: needs 0 <= lo <= hi"),
    (lambda d: d["profiles"]["alphazero"]["closed_loop"]["gate"].update(maxgames=10),
     "profiles.alphazero.closed_loop.gate.maxgames: unknown key"),
    (lambda d: d["profiles"]["alphazero"]["closed_loop"]["gate"].update(first_model="maybe"),
     "profiles.alphazero.closed_loop.gate.first_model"),
    (lambda d: d["profiles"]["alphazero"]["closed_loop"].update(player="neural:sims=64,model=x.pt"),
     "profiles.alphazero.closed_loop: player: 'neural:sims=64,model=x.pt' names a model"),
    (lambda d: d["profiles"]["alphazero"]["closed_loop"]["train"].update(subset=10**6),
     "profiles.alphazero: closed_loop.train.subset (1000000) exceeds train.window_samples (200000)"),
    (lambda d: d["profiles"]["alphazero"]["gate"]["sprt"].update(elo1=0),
     "profiles.alphazero.gate.sprt: needs elo1 > elo0"),
])
def test_errors_name_the_file_and_the_key(tmp_path, edit, expected):
    data = shipped()
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(PipelineConfigError) as err:
        load_pipeline_config(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_closed_loop_profiles_resolve():
    cfg = load_pipeline_config(SHIPPED)
    az, tiny = cfg.resolve("alphazero", "hex8", 2), cfg.resolve("tiny-az", "hex8", 2)
    assert az.closed and tiny.closed and not cfg.resolve("default", "hex8", 2).closed
    assert az.closed_loop.player == "D9" and az.closed_loop.gate.first_model == "anchor"
    assert az.closed_loop.selfplay.root == "gumbel" and az.closed_loop.bootstrap.teachers == ["D5"]
    assert tiny.train.blocks == 1 and tiny.selfplay.processes == 1  # tiny's sizes, the loop's machinery


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(PipelineConfigError, match="not found"):
        load_pipeline_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [unclosed")
    with pytest.raises(PipelineConfigError, match="not valid YAML"):
        load_pipeline_config(bad)


def test_pools_and_placement_are_checked(tmp_path):
    pools = load_pools_config()
    assert {"local", "lambda-h100", "vast-5090", "gh200", "mac-studio"} <= set(pools.pools)
    assert pools.placement == {}  # the embedded default: everything in-process
    data = yaml.safe_load((SHIPPED.parent / "pools.yaml").read_text())
    data["placement"] = {"selfplay": "vast-5090", "train": "nowhere"}
    with pytest.raises(PipelineConfigError, match=r"(?s)pools.yaml: .*placement.train: unknown pool 'nowhere'"):
        load_pools_config(write(tmp_path, data, "pools.yaml"))
    data["placement"] = {"juggle": "local"}
    with pytest.raises(PipelineConfigError, match="placement.juggle: unknown phase"):
        load_pools_config(write(tmp_path, data, "pools.yaml"))


def test_placed_phases_have_limits_that_are_checked(tmp_path):
    pools = load_pools_config()
    assert pools.timeout_for("train") == pools.phase_timeout_s["train"] > 0  # shipped, named per phase
    assert pools.timeout_for("sync") == 6 * 3600  # the default for a phase the file does not name
    data = yaml.safe_load((SHIPPED.parent / "pools.yaml").read_text())
    data["phase_timeout_s"] = {"train": 0}
    with pytest.raises(PipelineConfigError, match="phase_timeout_s.train: needs a number of seconds above 0"):
        load_pools_config(write(tmp_path, data, "pools.yaml"))
    data["phase_timeout_s"] = {"trian": 60}
    with pytest.raises(PipelineConfigError, match="phase_timeout_s.trian: unknown phase"):
        load_pools_config(write(tmp_path, data, "pools.yaml"))
