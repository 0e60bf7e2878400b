"""A real PostgreSQL server for the tests: a temporary cluster on a unix socket, torn down after.

Made with Debian's `initdb` and `pg_ctl` (on PATH, or in /usr/lib/postgresql/<version>/bin).
initdb refuses to run as root: as root (CI), the cluster belongs to the unprivileged `nobody`.
Every connection needs a password (scram-sha-256), so authentication failures are real ones.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ADMIN = "costlab_admin"
ADMIN_PASSWORD = "admin-Pw-0451"
DATABASE = "litellm"


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(versions[-1]).parent if versions else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parents[1].name)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class Server:
    """A running cluster: its socket folder, and URLs for the roles the tests make."""

    socket_dir: Path

    def url(
        self, user: str = ADMIN, password: str | None = ADMIN_PASSWORD, db: str = DATABASE
    ) -> str:
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@/{db}?host={self.socket_dir}"


@dataclass(frozen=True)
class _Cluster:
    bin: Path
    root: Path
    as_user: list[str]

    def run(self, tool: str, *args: str) -> None:
        command = [*self.as_user, str(self.bin / tool), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def start(bin_dir: Path) -> Iterator[Server]:
    """Make, start, yield and remove a cluster (a generator for a session fixture)."""
    root = Path(tempfile.mkdtemp(prefix="costlab-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    cluster = _Cluster(bin_dir, root, as_user)
    password_file = root / "admin-password"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    if as_user:
        shutil.chown(password_file, "nobody")
    data = root / "data"
    try:
        cluster.run(
            "initdb", "-D", str(data), "-U", ADMIN, f"--pwfile={password_file}",
            "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = f"-k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        cluster.run(
            "pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start"
        )
        yield Server(root)
    finally:
        if (data / "postmaster.pid").exists():
            cluster.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
