"""Finding conformance files, recognising their kind by shape, and honouring EXCLUDED.json.

Kinds are recognised from content, not names, so vectors can be copied or regrouped
freely. Every problem with the inputs is collected and raised together, before anything
runs, as a ConformanceInputError.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from engine.conformance.contract import run_vector
from engine.conformance.games import run_game
from engine.conformance.model import CONTRACT, GOLDEN, PARITY, RANDOM, Case, ConformanceInputError
from engine.conformance.parity import run_fixture

EXCLUDED_NAME = "EXCLUDED.json"


def classify(data: Any) -> str | None:
    """The file kind of parsed JSON, or None when the shape is not one we run."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("vectors"), list) or ("input" in data and "expectedOutput" in data):
        return "contract-bundle"
    if isinstance(data.get("games"), list):
        return "game-collection"
    if "initialState" in data and isinstance(data.get("steps"), list):
        return "parity-trace"
    if "state" in data and "expected" in data and "move" in data:
        return "parity-state-action"
    if "state" in data and "move" not in data and "boardType" in data:
        return "parity-state-only"
    if isinstance(data.get("moves"), list) and "boardType" in data:
        return "game-record"
    return None


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named or found (recursively, `*.json`) under the given paths, in order, once."""
    found: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            missing.append(f"{raw}: no such file or directory")
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.name != EXCLUDED_NAME and p.is_file()))
        else:
            found.append(path)
    if missing:
        raise ConformanceInputError("\n".join(missing))
    seen: set[Path] = set()
    return [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]


def load_exclusions(directory: Path, cache: dict[Path, dict[str, str]] | None = None) -> dict[str, str]:
    """Excluded ids -> reasons from EXCLUDED.json in `directory` and every parent; the
    nearest file wins when two give a reason for the same id."""
    cache = {} if cache is None else cache
    directory = directory.resolve()
    if directory in cache:
        return cache[directory]
    parent = directory.parent
    merged = dict(load_exclusions(parent, cache)) if parent != directory else {}
    candidate = directory / EXCLUDED_NAME
    if candidate.is_file():
        merged.update(_read_exclusions(candidate))
    cache[directory] = merged
    return merged


def _read_exclusions(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConformanceInputError(f"{path}: cannot read exclusions: {exc}") from exc
    entries = data.get("excluded", data) if isinstance(data, dict) else data
    if isinstance(entries, dict):
        return {str(k): str(v) for k, v in entries.items() if k != "about"}
    if isinstance(entries, list):
        return {str(k): "listed in EXCLUDED.json" for k in entries}
    raise ConformanceInputError(f"{path}: `excluded` must map ids to reasons")


def cases_from(path: Path, data: Any) -> list[Case]:
    """The counted units of one parsed file."""
    kind = classify(data)
    if kind == "contract-bundle":
        vectors = data["vectors"] if "vectors" in data else [data]
        return [Case(str(v.get("id", f"{path.stem}[{i}]")), CONTRACT, path, _bind(run_vector, v, path))
                for i, v in enumerate(vectors)]
    if kind == "game-collection":
        defaults = {k: data.get(k) for k in ("boardType", "numPlayers")}
        return [Case(str(g.get("id", f"{path.stem}[{i}]")), RANDOM, path,
                     _bind(run_game, g, path, RANDOM, defaults), size=max(1, len(g.get("moves") or [])))
                for i, g in enumerate(data["games"])]
    if kind and kind.startswith("parity-"):
        fixture_id = str(data.get("id") or path.stem)
        return [Case(fixture_id, PARITY, path, _bind(run_fixture, data, fixture_id, path))]
    if kind == "game-record":
        kind_name = RANDOM if isinstance(data.get("finalState"), dict) else GOLDEN
        return [Case(str(data.get("id", path.stem)), kind_name, path, _bind(run_game, data, path, kind_name),
                     size=max(1, len(data["moves"])))]
    raise ConformanceInputError(f"{path}: not a recognised kind (contract vectors, rules-parity fixture, game record or random-games file)")


def _bind(fn, *args):
    return lambda: fn(*args)


def load_disputed(path: Path) -> dict[str, str]:
    """Project-side disputes: {id: {"reason", "rule"}} ids that docs/conformance.md shows,
    citing the rule, to be wrong. Reported apart like exclusions, never counted."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConformanceInputError(f"{path}: cannot read disputed vectors: {exc}") from exc
    entries = data.get("disputed", {}) if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConformanceInputError(f"{path}: `disputed` must map ids to {{reason, rule}}")
    out = {}
    for k, v in entries.items():
        if not isinstance(v, dict) or not v.get("reason") or not v.get("rule"):
            raise ConformanceInputError(f"{path}: disputed {k!r} needs a reason and the rule it cites")
        out[str(k)] = f"disputed ({v['rule']}): {v['reason']}"
    return out


def collect_cases(
    paths: Iterable[str | Path], only: str | None = None, disputed: dict[str, str] | None = None,
) -> list[Case]:
    """All cases under `paths` (filtered by id substring), each marked with its exclusion
    (EXCLUDED.json beside the data) or dispute (`disputed`, from the project's docs)."""
    problems: list[str] = []
    cases: list[Case] = []
    cache: dict[Path, dict[str, str]] = {}
    for path in find_files(paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found = cases_from(path, data)
            excluded = load_exclusions(path.parent, cache)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            problems.append(f"{path}: not valid JSON: {exc}")
            continue
        except (OSError, ConformanceInputError) as exc:
            problems.append(str(exc) if isinstance(exc, ConformanceInputError) else f"{path}: {exc}")
            continue
        for case in found:
            if only is None or only in case.id:
                reason = excluded.get(case.id) or (disputed or {}).get(case.id)
                cases.append(case if reason is None else _with_exclusion(case, reason))
    if problems:
        raise ConformanceInputError("\n".join(problems))
    return cases


def _with_exclusion(case: Case, reason: str) -> Case:
    return Case(case.id, case.kind, case.source, case.runner, case.size, reason)
