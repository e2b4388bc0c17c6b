"""Fresh databases and the ``hub serve`` subprocess (gunicorn, production mode)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/hub_bench"
HOST = "127.0.0.1"  # the benchmark only ever talks to this machine


def fresh_database(backend: str, workdir: Path, pg_url: str) -> str:
    """An empty database for ``backend``; returns its SQLAlchemy URL."""
    if backend == "sqlite":
        path = workdir / "hub.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = make_url(pg_url)
    if url.host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing a non-local PostgreSQL host: {url.host}")
    name = url.database or "hub_bench"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.render_as_string(hide_password=False)


def copy_database(database_url: str, suffix: str) -> str:
    """A fresh copy of the (idle) database at ``database_url``, named after it plus ``suffix``;
    returns the copy's URL. SQLite: the online backup API; PostgreSQL:
    ``CREATE DATABASE … TEMPLATE`` (no session may be attached to the original meanwhile)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        src = Path(url.database or "")
        dst = src.with_name(f"{src.stem}-{suffix}{src.suffix}")
        for s in ("", "-wal", "-shm"):
            Path(f"{dst}{s}").unlink(missing_ok=True)
        with (
            contextlib.closing(sqlite3.connect(src)) as a,
            contextlib.closing(sqlite3.connect(dst)) as b,
        ):
            a.backup(b)
        return url.set(database=str(dst)).render_as_string(hide_password=False)
    name = url.database or "hub_bench"
    copy = f"{name}_{suffix}".replace("-", "_")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
            for attempt in range(50):  # the stopped server's sessions may linger a moment
                try:
                    conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
                    break
                except Exception:
                    if attempt == 49:
                        raise
                    time.sleep(0.2)
    finally:
        admin.dispose()
    return url.set(database=copy).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    """Remove a copy made by ``copy_database``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        for s in ("", "-wal", "-shm"):
            Path(f"{url.database}{s}").unlink(missing_ok=True)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def postgres_pids(database_url: str) -> list[int]:
    """PostgreSQL server processes attached to the benchmark database (not this query's)."""
    if not database_url.startswith("postgresql"):
        return []
    import psycopg

    conninfo = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _get_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (urllib.error.URLError, OSError):
        return 0


class HubServer:
    """``hub serve`` in its own process group; always stopped by ``stop()`` (or ``with``)."""

    def __init__(
        self,
        database_url: str,
        workers: int,
        threads: int,
        log: Path,
        env: dict[str, str] | None = None,
        module: str = "hub.cli",
    ) -> None:
        self.module = module  # bench.noaudit: the audit-off baseline (bench.audit_cost)
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.log_path = log
        self.env = env if env is not None else {"HUB_AUTH": "off"}
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def start(self, timeout: float = 90.0) -> float:
        """Start and wait for ``/fhir/metadata`` to answer 200; returns the start-up time (s)."""
        env = {
            **os.environ,
            "HUB_DATABASE_URL": self.database_url,
            **self.env,
        }
        cmd = [
            sys.executable,
            "-m",
            self.module,
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
        ]
        t0 = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub serve exited ({self.proc.returncode}):\n{self.log_tail()}")
            if _get_status(f"{self.base}/fhir/metadata") == 200:
                self.startup_s = time.perf_counter() - t0
                return self.startup_s
            time.sleep(0.05)
        raise RuntimeError(f"hub serve did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group (gunicorn's graceful stop), SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # stray workers of the group
            os.killpg(self.proc.pid, signal.SIGKILL)

    def pids(self) -> list[int]:
        """The arbiter and its workers (for a profiler)."""
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


@contextlib.contextmanager
def running(server: HubServer) -> Iterator[HubServer]:
    try:
        server.start()
        yield server
    finally:
        server.stop()
