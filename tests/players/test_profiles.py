"""Profiles: every configuration has one; a bad one is refused naming the file and the weight."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.players.features import FEATURE_NAMES
from engine.players.profiles import (
    ProfileError, load_profile, load_profile_file, profile_from_vector, save_profile,
    weights_vector,
)

from tests.players.helpers import CONFIGS


@pytest.mark.parametrize("board,n", CONFIGS)
def test_every_configuration_has_a_valid_default_profile(board, n):
    p = load_profile(board, n)
    assert list(p.weights) == list(FEATURE_NAMES)
    assert p.version


def _write(tmp_path, weights, **extra):
    path = tmp_path / "square8_2p.json"
    path.write_text(json.dumps({"version": "t", "fitness": None, "weights": weights, **extra}))
    return path


def test_missing_weight_is_refused_with_file_and_name(tmp_path):
    w = dict(load_profile("square8", 2).weights)
    del w["mobility"]
    path = _write(tmp_path, w)
    with pytest.raises(ProfileError, match=r"square8_2p\.json.*missing weight 'mobility'"):
        load_profile_file(path)


def test_unknown_weight_is_refused_with_file_and_name(tmp_path):
    w = dict(load_profile("square8", 2).weights, mobilty=1.0)
    path = _write(tmp_path, w)
    with pytest.raises(ProfileError, match=r"square8_2p\.json.*unknown weight 'mobilty'"):
        load_profile_file(path)


@pytest.mark.parametrize("bad", ["1.0", None, True, float("nan")])
def test_non_numeric_weight_is_refused(tmp_path, bad):
    w = dict(load_profile("square8", 2).weights, territory=bad)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"version": "t", "weights": w}).replace("NaN", "NaN"))
    with pytest.raises(ProfileError, match="territory"):
        load_profile_file(path)


def test_unknown_field_and_bad_json_are_refused(tmp_path):
    w = dict(load_profile("square8", 2).weights)
    with pytest.raises(ProfileError, match="unknown field 'weight'"):
        load_profile_file(_write(tmp_path, w, weight=1))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ProfileError, match="bad.json: not valid JSON"):
        load_profile_file(bad)
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile_file(tmp_path / "absent.json")


def test_vector_round_trip_and_save(tmp_path):
    p = load_profile("hex8", 3)
    v = weights_vector(p)
    assert v.shape == (len(FEATURE_NAMES),)
    q = profile_from_vector(v * 2, version="cma-1", fitness=0.61)
    assert np.allclose(weights_vector(q), v * 2)
    save_profile(q, tmp_path / "x.json")
    r = load_profile_file(tmp_path / "x.json")
    assert r.version == "cma-1" and r.fitness == 0.61 and r.weights == q.weights
    with pytest.raises(ProfileError, match="needs 20 values"):
        profile_from_vector([1.0, 2.0])


def test_profiles_dir_can_be_redirected(tmp_path, monkeypatch):
    from engine.players.profiles import profile_to_dict

    d = profile_to_dict(load_profile("square8", 2))
    d["weights"]["terminal"] = 7.0
    (tmp_path / "square8_2p.json").write_text(json.dumps(d))
    monkeypatch.setenv("RIFT_PROFILES_DIR", str(tmp_path))
    assert load_profile("square8", 2).weights["terminal"] == 7.0
