"""Host-key checking against real OpenSSH servers on 127.0.0.1 (issue 16, must-show 4).

Every connection checks the fleet's known_hosts file; an unknown or changed key is
refused before anything is sent, with a message naming the host and the fix, and
`rift cluster trust HOST` records a key after showing its fingerprint.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

from typer.testing import CliRunner

from cli.main import app
from infra.hosts import load_fleet
from infra.ssh import SSHRunner

from .conftest import LOOPBACK, SshServer, known_hosts_line

cli = CliRunner()
# Generous ceilings, never asserted on: this file checks what is refused, not how fast, and
# must hold on a loaded two-core machine where an SSH handshake can take seconds.
PATIENT = {"connect_timeout_s": 60, "command_timeout_s": 120}


def rift(*args: str, input: str | None = None):
    if args[:2] in (("cluster", "trust"), ("cluster", "status")):
        args = (*args, "--timeout", "120")
    return cli.invoke(app, list(args), input=input, env={"COLUMNS": "200"})


def ssh_fingerprint(pub: Path) -> str:
    """What OpenSSH itself says the key's fingerprint is."""
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def new_host_key(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "host2"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    key.chmod(0o600)
    return key


def test_unknown_key_refused_trust_records_it_and_a_swapped_key_is_refused(
    sshd: Callable[..., SshServer], write_hosts, ssh_keys, tmp_path: Path
) -> None:
    a = sshd()
    path = write_hosts({"alpha": a.port}, trust=False, **PATIENT)
    known = tmp_path / "known_hosts"
    assert not known.exists()
    runner = SSHRunner(load_fleet(path))

    # 1. First contact: the key is unknown, so nothing runs.
    res = runner.run("alpha", f"touch {tmp_path / 'ran-unknown'}")
    assert not res.reached and res.host_key_refused and res.attempts == 1
    assert not (tmp_path / "ran-unknown").exists()
    assert "host key of alpha" in res.error and "not trusted" in res.error
    assert f"[{LOOPBACK}]:{a.port}" in res.error and "rift cluster trust alpha" in res.error
    expected_fp = ssh_fingerprint(Path(f"{ssh_keys['host']}.pub"))
    assert expected_fp in res.error  # the offered fingerprint, to check out of band
    assert runner.breakers.record("alpha").failures == 0  # not the host's health

    # 2. `rift cluster trust` shows the fingerprint OpenSSH shows, asks, records.
    result = rift("cluster", "trust", "alpha", "--hosts", str(path), input="y\n")
    assert result.exit_code == 0, result.output
    assert f"alpha ([{LOOPBACK}]:{a.port}): ssh-ed25519 {expected_fp}" in result.output
    assert "recorded in" in result.output
    assert known.read_text() == known_hosts_line(a.port, Path(f"{ssh_keys['host']}.pub"))
    assert known.stat().st_mode & 0o777 == 0o600
    again = rift("cluster", "trust", "alpha", "--hosts", str(path))
    assert again.exit_code == 0 and "already trusted" in again.output

    res = runner.run("alpha", f"touch {tmp_path / 'ran-trusted'} && echo ok")
    assert res.ok and res.stdout == "ok\n" and (tmp_path / "ran-trusted").exists()

    # 3. The same address now answers with another host key.
    a.stop()
    other_key = new_host_key(tmp_path / "otherkey")
    impostor = SshServer(tmp_path / "impostor", {**ssh_keys, "host": other_key}, a.port).start()
    try:
        res = runner.run("alpha", f"touch {tmp_path / 'ran-swapped'}")
        assert not res.reached and res.host_key_refused and res.attempts == 1
        assert not (tmp_path / "ran-swapped").exists()
        new_fp = ssh_fingerprint(Path(f"{other_key}.pub"))
        assert "HOST KEY CHANGED for alpha" in res.error
        assert expected_fp in res.error and new_fp in res.error
        assert "rift cluster trust alpha --replace" in res.error

        # A cluster command reports it per host, and fails.
        status = rift("cluster", "status", "--hosts", str(path), "--json")
        assert status.exit_code == 0 and "HOST KEY CHANGED for alpha" in status.output
        update = rift("cluster", "update-code", "--hosts", str(path))
        assert update.exit_code == 1 and "HOST KEY CHANGED" in update.output

        # `trust` without --replace refuses and leaves the file alone.
        before = known.read_text()
        refused = rift("cluster", "trust", "alpha", "--hosts", str(path), "--yes")
        assert refused.exit_code == 1 and "HOST KEY CHANGED" in refused.stderr
        assert known.read_text() == before

        # After checking the new key out of band, the operator replaces it.
        replaced = rift("cluster", "trust", "alpha", "--hosts", str(path), "--replace", "--fingerprint", new_fp)
        assert replaced.exit_code == 0, replaced.output
        assert "replaced in" in replaced.output
        assert known.read_text() == known_hosts_line(a.port, Path(f"{other_key}.pub"))
        assert runner.run("alpha", "echo again").stdout == "again\n"
    finally:
        impostor.stop()


def test_declined_or_mismatched_fingerprint_records_nothing(
    sshd: Callable[..., SshServer], write_hosts, tmp_path: Path
) -> None:
    a = sshd()
    path = write_hosts({"alpha": a.port}, trust=False, **PATIENT)
    declined = rift("cluster", "trust", "alpha", "--hosts", str(path), input="n\n")
    assert declined.exit_code == 1 and "not recorded" in declined.stderr
    wrong = rift("cluster", "trust", "alpha", "--hosts", str(path), "--fingerprint", "SHA256:" + "A" * 43)
    assert wrong.exit_code == 1 and "not the expected" in wrong.stderr
    assert not (tmp_path / "known_hosts").exists()


def test_hashed_entries_written_by_openssh_are_honoured_and_replaced(
    sshd: Callable[..., SshServer], write_hosts, ssh_keys, tmp_path: Path
) -> None:
    a, b = sshd(), sshd()
    path = write_hosts({"alpha": a.port, "beta": b.port}, **PATIENT)
    known = tmp_path / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert LOOPBACK not in known.read_text() and known.read_text().count("|1|") == 2
    runner = SSHRunner(load_fleet(path))
    assert all(r.ok for r in runner.run_many(None, "true").values())

    a.stop()
    other_key = new_host_key(tmp_path / "otherkey")
    moved = SshServer(tmp_path / "moved", {**ssh_keys, "host": other_key}, a.port).start()
    try:
        assert runner.run("alpha", "true").host_key_refused
        result = rift("cluster", "trust", "alpha", "--hosts", str(path), "--replace", "--yes")
        assert result.exit_code == 0, result.output
        lines = known.read_text().splitlines()
        # beta's hashed line kept as it was, alpha's hashed line gone, alpha's new key added.
        assert len(lines) == 2 and lines[0].startswith("|1|")
        assert lines[1] == known_hosts_line(a.port, Path(f"{other_key}.pub")).strip()
        results = runner.run_many(None, "echo up")
        assert results["alpha"].ok and results["beta"].ok
    finally:
        moved.stop()


def test_a_key_recorded_for_another_port_does_not_count(
    sshd: Callable[..., SshServer], write_hosts, ssh_keys, tmp_path: Path
) -> None:
    a = sshd()
    path = write_hosts({"alpha": a.port}, trust=False, **PATIENT)
    (tmp_path / "known_hosts").write_text(known_hosts_line(a.port + 1, Path(f"{ssh_keys['host']}.pub")))
    res = SSHRunner(load_fleet(path)).run("alpha", "true")
    assert res.host_key_refused and "not trusted" in res.error


def test_unreadable_known_hosts_is_a_local_error_naming_the_file(
    write_hosts, ssh_keys, tmp_path: Path
) -> None:
    path = write_hosts({"alpha": 9}, trust=False, **PATIENT)  # never contacted
    known = tmp_path / "known_hosts"
    known.write_text(f"[{LOOPBACK}]:9 ssh-ed25519 not!base64!\n")
    runner = SSHRunner(load_fleet(path))
    res = runner.run("alpha", "true")
    assert res.host_key_refused and not res.reached
    assert f"cannot read known_hosts file {known}" in res.error and "settings.known_hosts" in res.error
    assert runner.breakers.record("alpha").failures == 0
