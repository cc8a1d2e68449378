"""Private PostgreSQL and Redis servers for fault tests: started in a temp folder on free ports.

Tests that restart a server must never touch the shared ones. PostgreSQL refuses to run as root,
so as root the cluster belongs to the ``postgres`` user (as in ``.ci/run``).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """``initdb`` into a temp folder, ``pg_ctl start`` on a free port; restart and stop on demand."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="ctrstudio-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.name = "ctrstudio_fault"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.user, capture_output=True, text=True,
                              check=check, cwd=self.root, timeout=60)

    def start(self) -> "PrivatePostgres":
        if not self.data.exists():
            self.root.chmod(0o755)
            self.data.mkdir()
            if self.user:
                shutil.chown(self.root, self.user)
                shutil.chown(self.data, self.user)
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")

    def url(self, name: str | None = None) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name or self.name}"

    def settings_dict(self) -> dict:
        return {"ENGINE": "django.db.backends.postgresql", "NAME": self.name, "USER": "postgres", "PASSWORD": "",
                "HOST": "127.0.0.1", "PORT": str(self.port)}

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every client connection is cut."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-m", "fast", "-w", "restart",
                  "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` without persistence on a free port (as the issue's fault: a restart loses the queue)."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        self.root = Path(tempfile.mkdtemp(prefix="ctrstudio-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Kill and start again: with no persistence, every queued message is gone."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def django_on(database: dict, broker_url: str) -> Iterator[None]:
    """Point this test process's ORM connection and Celery app at the private servers, then restore."""
    from django.db import connections
    from django.db.utils import load_backend

    from ctrsite.celery import app

    old_connection = connections["default"]
    old_connection.close()
    settings_dict = {**old_connection.settings_dict, **database, "OPTIONS": {}, "CONN_MAX_AGE": 0,
                     "CONN_HEALTH_CHECKS": True, "ATOMIC_REQUESTS": False, "AUTOCOMMIT": True}
    connections["default"] = load_backend(database["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    old_broker = (app.conf.broker_url, app.conf.broker_transport_options)
    _reset_pools(app)
    app.conf.broker_url, app.conf.broker_transport_options = broker_url, {"visibility_timeout": 7200}
    try:
        yield
    finally:
        connections["default"].close()
        connections["default"] = old_connection
        _reset_pools(app)
        app.conf.broker_url, app.conf.broker_transport_options = old_broker


def _reset_pools(app) -> None:
    try:
        app.pool.force_close_all()
    except Exception:  # noqa: BLE001 - a pool on a dead server may not close cleanly
        pass
    app._pool = None
    app.amqp._producer_pool = None


def mount_available() -> bool:
    """Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, e.g. not in most containers)."""
    probe = Path(tempfile.mkdtemp(prefix="ctrstudio-mount-"))
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], capture_output=True)
        return ok
    except FileNotFoundError:
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` (a job folder), unmounted at the end."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
