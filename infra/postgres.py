"""A private PostgreSQL cluster for the Prefect server, started by the project (`rift up --database postgres`).

SQLite is the embedded default and right for one machine. Under a fleet's load (several workers,
continuous mode's events and triggers) the server's SQLite database locks (issue 18: 121 "database
is locked" in a minute); Prefect's answer for a real deployment is PostgreSQL. This module runs one
from Debian's `postgresql` package (`initdb`, `pg_ctl`; no system service, no mock):

- the cluster lives in a folder of its own (default `data/postgres/cluster`), listens on 127.0.0.1
  only (and a socket in its folder), and is created on first use with a role `prefect` whose random
  password is kept beside it in `password` (mode 0600, never committed) with scram-sha-256 auth;
- PostgreSQL refuses to run as root: under root, initdb and the server run as the `postgres`
  account (or RIFT_POSTGRES_USER) through `runuser`, and the cluster folder is handed to it;
- `start()` returns the URL for PREFECT_SERVER_DATABASE_CONNECTION_URL; Prefect creates its tables
  on first start. A cluster already running is reused; `stop()` stops it (fast shutdown).

Binaries: RIFT_POSTGRES_BIN, else the newest /usr/lib/postgresql/<version>/bin, else PATH.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

DEFAULT_PORT = 54329
ROLE = "prefect"
DATABASE = "prefect"


class PostgresError(RuntimeError):
    """PostgreSQL could not be set up or started; the message says what to do."""


def bin_dir() -> Path:
    if env := os.environ.get("RIFT_POSTGRES_BIN"):
        return Path(env)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                      if p.parent.parent.name.isdigit() else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise PostgresError("PostgreSQL is not installed: `apt-get install postgresql` (Debian/Ubuntu), or set "
                        "RIFT_POSTGRES_BIN to the folder holding initdb and pg_ctl")


class PostgresCluster:
    """One private cluster in `root` (cluster data in `root/cluster`, password in `root/password`)."""

    def __init__(self, root: Path, port: int = DEFAULT_PORT, run_as: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.data = self.root / "cluster"
        self.port = int(port)
        self.bin = bin_dir()
        self.run_as = run_as or (os.environ.get("RIFT_POSTGRES_USER", "postgres") if os.geteuid() == 0 else None)
        self.log = self.data / "postgres.log"

    # -- running commands as the cluster's owner --------------------------------------------------
    def _cmd(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bin / tool), *args]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, tool: str, *args: str, owner: bool = True, timeout: float = 300) -> str:
        cmd = self._cmd(tool, *args) if owner else [str(self.bin / tool), *args]
        env = {**os.environ, "PGPASSWORD": self.password(), "LC_ALL": "C.UTF-8"}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd="/")
        if out.returncode != 0:
            raise PostgresError(f"{' '.join(cmd[-len(args) - 1:])} failed (exit {out.returncode}): "
                                f"{(out.stderr or out.stdout).strip()[-1500:]}\nlog: {self.log}")
        return out.stdout

    def password(self) -> str:
        path = self.root / "password"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def url(self) -> str:
        """The SQLAlchemy URL Prefect's server takes (PREFECT_SERVER_DATABASE_CONNECTION_URL)."""
        return f"postgresql+asyncpg://{ROLE}:{self.password()}@127.0.0.1:{self.port}/{DATABASE}"

    # -- lifecycle ------------------------------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster unless it exists; returns whether it was created."""
        if (self.data / "PG_VERSION").exists():
            return False
        self.data.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / ".pwfile"
        pwfile.write_text(self.password() + "\n")
        try:
            if self.run_as:
                self._hand_over(pwfile)
            self._run("initdb", "-D", str(self.data), "-U", ROLE, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                      "-E", "UTF8")
        finally:
            pwfile.unlink(missing_ok=True)
        return True

    def _hand_over(self, *files: Path) -> None:
        """Under root: the cluster folder belongs to the account PostgreSQL runs as, and that account
        must reach it (every folder above it searchable)."""
        try:
            account = pwd.getpwnam(self.run_as)
        except KeyError:
            raise PostgresError(f"PostgreSQL does not run as root and the account {self.run_as!r} does not exist: "
                                "create it (Debian's postgresql package does), or set RIFT_POSTGRES_USER, "
                                "or run `rift up` as an ordinary user") from None
        for path in (self.data, *files):
            os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(self.root, 0o755)  # holds the cluster and the 0600 password file only
        for parent in self.root.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise PostgresError(f"the PostgreSQL account {self.run_as!r} cannot reach {self.data}: {parent} "
                                    f"is not searchable by others; choose a folder it can reach (e.g. under /tmp "
                                    f"or /var/lib) or `chmod o+x {parent}`")

    def running(self) -> bool:
        if not (self.data / "postmaster.pid").exists():
            return False
        out = subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "status"), capture_output=True, cwd="/")
        return out.returncode == 0

    def start(self, timeout_s: int = 120) -> str:
        """Create (first time) and start the cluster, create the database; returns the URL."""
        self.init()
        if not self.running():
            opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c max_connections=200"
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", str(timeout_s),
                      "start", timeout=timeout_s + 30)
        exists = self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", database="postgres")
        if not exists.strip():
            self.sql(f"CREATE DATABASE {DATABASE}", database="postgres")
        return self.url()

    def sql(self, query: str, database: str = DATABASE) -> str:
        """Run one statement over TCP as the `prefect` role (psql, unaligned, no headers)."""
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-d", database, "-At",
                         "-v", "ON_ERROR_STOP=1", "-c", query, owner=False)

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
