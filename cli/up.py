"""`rift up` and `rift continuous`: a Prefect server for this checkout, its work pools, deployments and worker.

`rift up` starts a Prefect server over the project-local home `.prefect/` (cli/prefect_home.py),
creates the work pools and limits, deploys prefect.yaml, runs a worker for the local pool, and
writes the Prefect profile `ringrift` (API URL, home, settings) so that `prefect ...` and `rift ...`
in any new shell reach it after `prefect profile use ringrift`.

Trust: it deploys only into a server it started itself, or into the one named with `--api-url`; a
server already answering on the port is refused (another checkout's, or a stranger's). Listening
beyond loopback (`--host 0.0.0.0`) turns Prefect's API authentication on (PREFECT_SERVER_API_AUTH_STRING,
else a generated `rift:<token>` kept in `<home>/api-auth`, readable by its owner only).
`rift up --continuous` (or `rift continuous on` against a running server) also turns on continuous
mode (flows/continuous.py); `rift continuous off` drains it (cli/continuous.py). `--database postgres`
runs the server on a private PostgreSQL cluster the project starts (infra/postgres.py).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import output
from cli.output import fail
from cli.continuous import Batches, Boards, Players, Profile
from cli.fleet import HEARTBEAT_S, PREFECT, block_env, deploy_all
from cli.prefect_home import (PROFILE_NAME, is_active, profile_settings, use_project_home, user_profiles_path,
                              write_profile)
from cli.guards import probe
from cli.prefect_server import healthy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
console = output.console()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_string(host: str) -> str | None:
    """The server's auth string: PREFECT_SERVER_API_AUTH_STRING when set; beyond loopback without it, the one
    kept in `<home>/api-auth` (generated on first use, mode 0600); on loopback without it, none."""
    given = os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
    if given or is_loopback(host):
        return given or None
    path = Path(os.environ["PREFECT_HOME"]) / "api-auth"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"rift:{secrets.token_urlsafe(24)}\n")
    return path.read_text().strip()


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _start_server(host: str, port: int, auth: str | None, logs: Path, env: dict[str, str],
                  timeout_s: float) -> subprocess.Popen:
    url = f"http://{'127.0.0.1' if not is_loopback(host) else host}:{port}/api"
    console.print(f"starting Prefect server on {host}:{port} over {os.environ['PREFECT_HOME']}/prefect.db "
                  f"(log {logs / 'server.log'})" + ("; API authentication on" if auth else ""))
    server_env = {**env, **({"PREFECT_SERVER_API_AUTH_STRING": auth} if auth else {})}
    proc = _spawn([str(PREFECT), "server", "start", "--host", host,
                   "--port", str(port)], logs / "server.log", server_env)
    started = time.monotonic()
    noted = False
    while not healthy(url):
        waited = time.monotonic() - started
        if proc.poll() is not None or waited > timeout_s:
            _stop([proc])
            why = f"exit status {proc.returncode}" if waited <= timeout_s else f"no answer within {timeout_s:.0f} s"
            fail(f"the Prefect server did not start on {host}:{port} ({why}); see {logs / 'server.log'}")
        if waited > 60 and not noted:  # a fresh database on a busy machine: minutes, not a failure
            console.print(f"the server is still starting after {waited:.0f} s (waiting up to {timeout_s:.0f} s)")
            noted = True
        time.sleep(0.5)
    return proc


def up(
    port: Annotated[int, typer.Option(help="Port of the Prefect server to start.")] = 4200,
    host: Annotated[str, typer.Option(help="Address the server listens on. Beyond loopback (e.g. 0.0.0.0) "
                                           "the API requires authentication.")] = "127.0.0.1",
    api_url: Annotated[str | None, typer.Option("--api-url", help="Use this running Prefect server (deploy into "
                                                                  "it, run the worker against it) instead of "
                                                                  "starting one.")] = None,
    prefect_profile: Annotated[str, typer.Option(help="Prefect profile to create or update.")] = PROFILE_NAME,
    start_timeout: Annotated[float, typer.Option(help="Seconds to wait for the server to answer (a fresh "
                                                      "database on a busy machine takes minutes).")] = 900,
    pool: Annotated[str, typer.Option(help="Work pool this machine's worker serves.")] = "local",
    deploy: Annotated[bool, typer.Option(help="Register prefect.yaml's deployments.")] = True,
    pools: Annotated[Path | None, typer.Option(help="Work pools (default config/pools.yaml).")] = None,
    logs: Annotated[Path, typer.Option(help="Folder for the server's and worker's logs.")] = Path("data/logs"),
    continuous: Annotated[bool, typer.Option("--continuous", help="Also turn on continuous mode for --board.")]
    = False,
    board: Boards = None,
    players: Players = 2,
    profile: Profile = "default",
    batches: Batches = None,
    storage_block: Annotated[str | None, typer.Option(
        envvar="RIFT_STORAGE_BLOCK", help="Artifact block for a fleet (`rift storage s3` saves it), e.g. "
                                          "s3-bucket/rift-artifacts: the worker's runs upload through it.")] = None,
    results_block: Annotated[str | None, typer.Option(
        envvar="PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK", help="Result block for a fleet, e.g. "
                                                             "s3-bucket/rift-results.")] = None,
    database: Annotated[str, typer.Option(
        "--database", help="Database of the server this command starts: sqlite (default, embedded) or postgres "
                           "(a private PostgreSQL cluster under data/postgres, started and stopped with it; "
                           "docs/fleet.md says when).")] = "sqlite",
) -> None:
    """Start a Prefect server for this checkout (or use --api-url's), create the work pools and limits,
    deploy prefect.yaml (continuous triggers off), run a worker and write the Prefect profile; with
    --continuous, also turn on continuous mode for the boards. Ctrl-C stops what this command started."""
    profiles_path = user_profiles_path()
    use_project_home()
    from infra.pipeline_config import PipelineConfigError, load_pools_config
    try:
        pools_cfg = load_pools_config(pools)
    except PipelineConfigError as exc:
        fail(str(exc))
    if pool not in pools_cfg.pools:
        fail(f"pool {pool!r} is not in {pools_cfg.source} (pools: {', '.join(pools_cfg.pools)})")
    if database not in ("sqlite", "postgres"):
        fail(f"--database {database!r}: choose sqlite or postgres")
    logs = logs.resolve()
    procs: list[subprocess.Popen] = []
    postgres = None
    # `kill`, a closed terminal or a service manager stop this command like Ctrl-C does, so the
    # server and worker it started never outlive it.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    try:
        if api_url:
            api, auth = api_url.rstrip("/"), os.environ.get("PREFECT_API_AUTH_STRING")
            if not healthy(api):
                fail(f"--api-url {api} does not answer its health check ({api}/health)")
        else:
            api = f"http://{host if is_loopback(host) else '127.0.0.1'}:{port}/api"
            if probe(api, timeout=30) != "refused":  # something listens there, answering or busy
                fail(f"a Prefect server already answers at {api}, and this `rift up` did not start it (another "
                      f"checkout's, an earlier `rift up`, or a stranger's): stop it, choose another --port, or "
                      f"deploy into it on purpose with --api-url {api}")
            auth = auth_string(host)
        env = {**os.environ, "PREFECT_API_URL": api, **({"PREFECT_API_AUTH_STRING": auth} if auth else {})}
        if not api_url:
            if database == "postgres":
                postgres = _start_postgres(logs.parent / "postgres", env)
            procs.append(_start_server(host, port, auth, logs, env, start_timeout))
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

        from tasks.limits import ensure_pools, ensure_zombie_automation
        client = {PREFECT_API_URL: api, **({PREFECT_API_AUTH_STRING: auth} if auth else {})}
        with temporary_settings(updates=client):
            made = ensure_pools(pools_cfg)
            ensure_zombie_automation()
        console.print(f"work pools: {', '.join(made)}; runs whose worker dies are marked Crashed after 90 s")
        if deploy:
            with temporary_settings(updates=client):
                from_yaml, phases = deploy_all(pools_cfg, env)
            console.print(f"deployed {from_yaml} deployments from prefect.yaml and {phases} phase/<phase>-<pool> "
                          "deployments")
        procs.append(_spawn([str(PREFECT), "worker", "start", "--pool", pool], logs / f"worker-{pool}.log",
                            {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S), **env,
                             **block_env(storage_block, results_block)}))
        advice = database_advice(database, continuous, api_url)
        if advice:
            console.print(advice, soft_wrap=True)
        if continuous:
            with temporary_settings(updates=client):
                from cli.continuous import start
                start(board or ["hex8"], players, profile, batches)
        written = write_profile(prefect_profile, profile_settings(api, auth, profiles_path), profiles_path)
        use = "it is the active profile" if is_active(prefect_profile, written) else \
            f"use it in every shell from now on: prefect profile use {prefect_profile}"
        console.print(f"Prefect profile {prefect_profile!r} written to {written} (API {api}, home "
                      f"{os.environ['PREFECT_HOME']}{', auth string' if auth else ''}); {use}")
        blocks = f", artifacts through {storage_block}" if storage_block else ""
        console.print(f"worker for pool {pool} running (log {logs / f'worker-{pool}.log'}{blocks})\n"
                      f"UI: {api.removesuffix('/api')}   try: prefect deployment run iteration/hex8 -p profile=tiny\n"
                      "Ctrl-C stops the worker" + (" and the server" if not api_url else ""), soft_wrap=True)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        fail("a process stopped unexpectedly; see the logs in " + str(logs))
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        _stop(procs)
        if postgres is not None:
            postgres.stop()


def database_advice(database: str, continuous: bool, api_url: str | None) -> str | None:
    """A warning when this command starts continuous mode on its own SQLite server: under that load
    Prefect's SQLite database locks, and runs crash (9 of 136 in an hour, docs/benchmarks.md)."""
    if not continuous or api_url or database != "sqlite":
        return None
    return ("warning: continuous mode on the embedded SQLite server: over hours its database locks and some "
            "runs crash (9 in the 60-minute soak, none on PostgreSQL). For a long run: rift up --database "
            "postgres (docs/fleet.md, \"The Prefect server's database\").")


def _start_postgres(root: Path, env: dict[str, str]) -> Any:
    """Start the project's PostgreSQL cluster in `root` and point the server's environment at it."""
    from infra.postgres import PostgresCluster, PostgresError
    cluster = PostgresCluster(root, port=int(os.environ.get("RIFT_POSTGRES_PORT", "54329")))
    try:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = cluster.start()
    except PostgresError as exc:
        fail(f"--database postgres: {exc}")
    console.print(f"PostgreSQL for the Prefect server on 127.0.0.1:{cluster.port} (cluster {cluster.data})")
    return cluster


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    group = typer.Typer(help="Continuous mode: selfplay without a barrier, training follows new data.",
                        no_args_is_help=True)
    from cli.continuous import register as continuous_commands
    continuous_commands(group)
    app.add_typer(group, name="continuous")
