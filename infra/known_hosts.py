"""Host keys: every SSH connection checks the fleet's known_hosts file; `trust` records a key.

A host whose key is not in the file, or whose key differs from the one recorded, is
refused before authentication, so no command (code update, worker start, selfplay)
ever reaches a machine that merely answers on a fleet host's address. Keys get into
the file only through `rift cluster trust HOST` (which shows the fingerprint and asks),
or by the operator's own `ssh`/`ssh-keyscan`: the file is OpenSSH's format, hashed
entries included, and non-default ports are stored as `[host]:port`.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry, HostKeys, InvalidHostKey

from infra.hosts import Host


class HostKeyError(paramiko.SSHException):
    """The host's key is unknown or changed: nothing was sent. The message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def key_name(host: Host) -> str:
    """The host's name in known_hosts: `host` on port 22, else `[host]:port` (as OpenSSH)."""
    return host.ssh_host if host.port == 22 else f"[{host.ssh_host}]:{host.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as `ssh-keygen -lf` and `ssh` print it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _where(host: Host) -> str:
    return f"{host.user}@{host.ssh_host}:{host.port}"


def unknown_key_message(host: Host, path: Path, key: paramiko.PKey) -> str:
    return (
        f"host key of {host.name} ({_where(host)}) is not trusted: {key_name(host)} is not in {path}; "
        f"the server offered {key.get_name()} {fingerprint(key)}. Nothing was run. Check that fingerprint "
        f"with the host's owner, then run `rift cluster trust {host.name}` to record it."
    )


def changed_key_message(host: Host, path: Path, got: paramiko.PKey, expected: paramiko.PKey) -> str:
    return (
        f"HOST KEY CHANGED for {host.name} ({_where(host)}): {path} records {expected.get_name()} "
        f"{fingerprint(expected)} for {key_name(host)}, the server now offers {got.get_name()} {fingerprint(got)}. "
        "Someone may be intercepting the connection, or the host was reinstalled. Nothing was run. "
        f"If the change is expected, check the new fingerprint with the host's owner and run "
        f"`rift cluster trust {host.name} --replace`."
    )


class RejectUnknownHost(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, with a message that names the fleet host and the fix."""

    def __init__(self, host: Host, path: Path) -> None:
        self.host, self.path = host, path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(unknown_key_message(self.host, self.path, key))


def load_known_hosts(path: Path) -> HostKeys:
    """The file's keys (none when it does not exist); an unreadable file is a HostKeyError."""
    keys = HostKeys()
    if path.exists():
        try:
            keys.load(str(path))
        except (OSError, UnicodeDecodeError, InvalidHostKey) as exc:
            raise HostKeyError(f"cannot read known_hosts file {path}: {exc!r}; fix or remove the bad "
                               "line, or set settings.known_hosts in the hosts file to another file") from None
    return keys


def secure_client(client: paramiko.SSHClient, host: Host, path: Path) -> None:
    """Make `client` check host keys against `path` and refuse unknown ones (replacing
    fabric's AutoAddPolicy, which would accept and remember any key)."""
    client.set_missing_host_key_policy(RejectUnknownHost(host, path))
    if load_known_hosts(path):  # read once here so that a broken file is a clear error
        client.load_host_keys(str(path))  # checked by paramiko's connect(); never saved back


def describe_bad_key(exc: paramiko.BadHostKeyException, host: Host, path: Path) -> str:
    return changed_key_message(host, path, exc.key, exc.expected_key)


# --- trust ---------------------------------------------------------------------------------

@dataclass
class ScannedKey:
    """What a host presented, and how it compares with known_hosts."""

    host: Host
    key: paramiko.PKey
    status: str  # "trusted" (recorded and equal), "unknown", "changed"
    recorded: paramiko.PKey | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)


def scan_host_key(host: Host, path: Path, timeout: float = 10.0) -> ScannedKey:
    """Connect (no authentication) and read the host's key, preferring the type already
    recorded for it, as a checked connection would. Raises OSError / SSHException."""
    known = load_known_hosts(path).lookup(key_name(host))
    sock = socket.create_connection((host.ssh_host, host.port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        if known:
            opts = transport.get_security_options()
            first = [t for t in known.keys() if t in opts.key_types]
            opts.key_types = first + [t for t in opts.key_types if t not in first]
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    finally:
        transport.close()
    recorded = known.get(key.get_name()) if known else None
    if recorded is None and known:
        return ScannedKey(host, key, "changed", next(iter(known.values())))
    if recorded is None:
        return ScannedKey(host, key, "unknown")
    return ScannedKey(host, key, "trusted" if recorded == key else "changed", recorded)


def _names_match(names: list[str], name: str) -> list[bool]:
    out = []
    for h in names:
        if h.startswith("|1|"):
            out.append(HostKeys.hash_host(name, h) == h)
        else:
            out.append(h == name)
    return out


def record_host_key(path: Path, host: Host, key: paramiko.PKey, replace: bool = False) -> None:
    """Add `key` for the host to `path` (created 0600 in a 0700 folder if missing).

    With `replace`, every other entry for the host's name goes first (other names on a
    shared line stay). The file is rewritten atomically; other lines are kept as they are.
    """
    name = key_name(host)
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    kept: list[str] = []
    for line in lines:
        entry = None
        if replace and line.strip() and not line.lstrip().startswith(("#", "@")):
            try:
                entry = HostKeyEntry.from_line(line)
            except (paramiko.SSHException, InvalidHostKey, ValueError):
                entry = None
        if entry is None:
            kept.append(line)
            continue
        matches = _names_match(entry.hostnames, name)
        if not any(matches):
            kept.append(line)
        elif not all(matches):
            others = [h for h, m in zip(entry.hostnames, matches) if not m]
            kept.append(",".join(others) + " " + line.split(None, 1)[1])
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    kept.append(f"{name} {key.get_name()} {key.get_base64()}\n")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=".known_hosts.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.writelines(kept)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
