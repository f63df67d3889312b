"""Real OpenSSH servers on 127.0.0.1 as the fleet's "hosts".

Each server is Debian's `/usr/sbin/sshd` run in the foreground with a config,
host key and authorized key generated into a temporary folder, so the fleet
code is exercised against the real protocol: connection refused when a server
is stopped, a silent TCP listener for a hung node, a `ForceCommand` that never
returns for a hung command. Only loopback is ever used.
"""
from __future__ import annotations

import getpass
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

SSHD = "/usr/sbin/sshd"
LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
# Worker checks fall back to a machine-wide process scan for `prefect ... worker ... POOL`: pool names that
# only this test session uses keep it from finding the workers and probes of other checkouts' tests.
RUN_TAG = f"t{os.getpid()}x{secrets.token_hex(3)}"


def unique_pool(name: str) -> str:
    """`name` made unique to this test session (see RUN_TAG)."""
    return f"{name}-{RUN_TAG}"


def _ensure_sshd() -> None:
    """Skip, saying how to install it, when OpenSSH's server is missing: tests never install system
    packages (.ci/run does, announced)."""
    if not os.path.exists(SSHD):
        pytest.skip(f"OpenSSH server not installed (no {SSHD}): `apt-get install openssh-server` "
                    "(.ci/run installs it) to run the fleet tests")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _wait_for_banner(port: int, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd on port {port} did not come up")


class SshServer:
    """One sshd process on 127.0.0.1:port that can be stopped and started again."""

    def __init__(self, root: Path, keys: dict[str, Path], port: int, extra: str = "") -> None:
        self.root, self.keys, self.port, self.extra = root, keys, port, extra
        self.proc: subprocess.Popen | None = None
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {port}\nListenAddress {LOOPBACK}\nHostKey {keys['host']}\nPidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {keys['authorized']}\nPermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPrintMotd no\nLogLevel ERROR\n" + extra
        )

    def start(self) -> "SshServer":
        try:
            Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory
        except OSError as exc:
            pytest.skip(f"cannot create /run/sshd for the OpenSSH server: {exc}")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=open(self.root / "sshd.log", "ab"), start_new_session=True,
        )
        _wait_for_banner(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class SilentServer:
    """Accepts TCP connections on loopback and never says a word: a hung node."""

    def __init__(self) -> None:
        self.sock = socket.create_server((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway client key (authorized) and host key, made with ssh-keygen."""
    _ensure_sshd()
    d = tmp_path_factory.mktemp("sshkeys")
    for name in ("client", "host"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"rift-test-{name}", "-f", str(d / name)],
                       check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    for f in d.iterdir():
        f.chmod(0o600)
    return {"client": d / "client", "host": d / "host", "authorized": d / "authorized_keys"}


@pytest.fixture
def sshd(tmp_path: Path, ssh_keys: dict[str, Path]) -> Iterator[Callable[..., SshServer]]:
    """Factory: `sshd(extra_config="")` starts a server on a free loopback port."""
    servers: list[SshServer] = []

    def make(extra: str = "") -> SshServer:
        server = SshServer(tmp_path / f"sshd{len(servers)}", ssh_keys, free_port(), extra)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


FAST_SETTINGS: dict[str, Any] = {
    "connect_timeout_s": 3,
    "command_timeout_s": 15,
    "retry": {"tries": 2, "base_s": 0.05, "max_s": 0.2, "factor": 2},
    "breaker": {"failure_threshold": 3, "recovery_timeout_s": 1.0, "half_open_probes": 1},
    "health": {"require_worker": False},
}


def host_entry(port: int, keys: dict[str, Path], data_dir: Path, **over: Any) -> dict[str, Any]:
    """A hosts.yaml entry for a loopback server, running this checkout's code and venv."""
    activate = Path(sys.prefix) / "bin" / "activate"
    entry = {
        "ssh_host": LOOPBACK,
        "port": port,
        "user": getpass.getuser(),
        "key_path": str(keys["client"]),
        "project_path": str(REPO),
        "venv": str(activate) if activate.exists() else None,
        "data_dir": str(data_dir),
        "memory_gb": 16,
        "cpus": 2,
        "role": "selfplay",
        "work_pool": unique_pool("local"),
    }
    entry.update(over)
    return entry


def known_hosts_line(port: int, host_pub: Path) -> str:
    """The known_hosts entry OpenSSH writes for a loopback server on `port`."""
    key_type, key_b64 = host_pub.read_text().split()[:2]
    return f"[{LOOPBACK}]:{port} {key_type} {key_b64}\n"


@pytest.fixture
def write_hosts(tmp_path: Path, ssh_keys: dict[str, Path]) -> Callable[..., Path]:
    """Factory: `write_hosts({"a": port_or_entry, ...}, trust=True, **settings)` -> path of a hosts.yaml.

    Host keys are checked on every connection, so with `trust` each server's key (the
    test host key, known here out of band) is written to the fleet's known_hosts file,
    `<tmp>/known_hosts`; with `trust=False` that file is left alone.
    """

    def write(hosts: dict[str, int | dict[str, Any]], trust: bool = True, **settings: Any) -> Path:
        entries = {}
        for name, spec in hosts.items():
            if isinstance(spec, int):
                spec = host_entry(spec, ssh_keys, tmp_path / "hostdata" / name)
            entries[name] = spec
        known_hosts = tmp_path / "known_hosts"
        if trust:
            ports = sorted({int(e["port"]) for e in entries.values()})
            known_hosts.write_text("".join(known_hosts_line(p, Path(f"{ssh_keys['host']}.pub")) for p in ports))
        merged = {**FAST_SETTINGS, "state_dir": str(tmp_path / "state"), "known_hosts": str(known_hosts), **settings}
        path = tmp_path / "hosts.yaml"
        path.write_text(yaml.safe_dump({"settings": merged, "hosts": entries}, sort_keys=False))
        return path

    return write
