"""The rendered pgbouncer.ini and auth SQL with the real pgbouncer (Debian's package) in front of
a real PostgreSQL 15: SCRAM through auth_query, more clients than the pool, the admin console."""

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from pgcluster import Cluster, free_port
from pgtune.cli.app import app

pytestmark = pytest.mark.pg

APP_PASSWORD = "app-secret-1"
AUTH_PASSWORD = "auth-secret-2"
ADMIN_PASSWORD = "admin-secret-3"
POOL_SIZE = 2


def _generate(*args: str) -> str:
    out = CliRunner().invoke(
        app,
        [
            "generate",
            "-q",
            "--memory",
            "4GB",
            "--cpus",
            "2",
            "--storage",
            "ssd",
            "--pg-version",
            "15",
            *args,
        ],
    )
    assert out.exit_code == 0, out.output
    return out.stdout


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pgbouncer exited {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"pgbouncer did not listen on {port}:\n{log.read_text()}")


@pytest.fixture
def bouncer(pg_cluster_factory) -> Iterator[tuple[Cluster, int, str]]:  # type: ignore[no-untyped-def]
    if shutil.which("pgbouncer") is None:
        pytest.fail("pgbouncer is not installed (.ci/run installs Debian's pgbouncer package)")
    cluster: Cluster = pg_cluster_factory(15, listen_addresses="127.0.0.1")
    # Local socket for the harness, SCRAM over TCP for pgbouncer's server connections.
    (cluster.data_dir / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    cluster.write_conf(
        _generate("--pgbouncer", "--pool-size", str(POOL_SIZE), "--database", "app"), mode="include"
    )
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE app")
        conn.execute(sql.SQL("CREATE ROLE app_user LOGIN PASSWORD {}").format(APP_PASSWORD))
    auth_sql = _generate("--emit", "pgbouncer-auth-sql")
    with cluster.connect("app") as conn:
        conn.execute(auth_sql.encode())
        conn.execute(sql.SQL("ALTER ROLE pgbouncer_auth PASSWORD {}").format(AUTH_PASSWORD))
        conn.execute("CREATE TABLE hits (n int)")
        conn.execute("GRANT INSERT, SELECT ON hits TO app_user")
        secret = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'pgbouncer_auth'"
        ).fetchone()
    assert secret is not None and secret[0].startswith("SCRAM-SHA-256$")

    home = cluster.base_dir / "pgbouncer"
    home.mkdir()
    userlist = home / "userlist.txt"
    # pgbouncer logs in as the auth user itself, so it needs that password (a SCRAM secret only
    # serves logins a SCRAM client started); every app user's secret comes from auth_query.
    userlist.write_text(
        f'"pgbouncer_auth" "{AUTH_PASSWORD}"\n"pgbouncer_admin" "{ADMIN_PASSWORD}"\n'
    )
    port = free_port()
    ini = home / "pgbouncer.ini"
    ini.write_text(
        _generate(
            "--emit",
            "pgbouncer",
            "--pool-size",
            str(POOL_SIZE),
            "--database",
            f"app=host=127.0.0.1 port={cluster.port} dbname=app",
            "--pgbouncer-listen",
            "127.0.0.1",
            "--pgbouncer-port",
            str(port),
            "--pgbouncer-socket-dir",
            str(home),
            "--auth-file",
            str(userlist),
        )
    )
    for path in (home, userlist, ini):
        cluster.user.chown(path)
    userlist.chmod(0o600)
    log = home / "pgbouncer.log"
    with log.open("w") as log_handle:
        proc = subprocess.Popen(
            ["pgbouncer", str(ini)],
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            cwd=home,
            user=cluster.user.uid if cluster.user.switch else None,
            group=cluster.user.gid if cluster.user.switch else None,
        )
    try:
        _wait_for_port(port, proc, log)
        yield cluster, port, ini.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(port: int, password: str = APP_PASSWORD) -> psycopg.Connection[tuple[object, ...]]:
    # No server-side prepared statements: pgbouncer 1.18 in transaction mode cannot track them.
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        dbname="app",
        user="app_user",
        password=password,
        prepare_threshold=None,
        connect_timeout=10,
    )


def test_clients_beyond_the_pool_share_it_through_scram(bouncer) -> None:  # type: ignore[no-untyped-def]
    cluster, port, ini = bouncer
    assert "auth_type = scram-sha-256" in ini
    clients = POOL_SIZE * 4
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with _client(port) as conn:
                for _ in range(20):
                    with conn.transaction():
                        conn.execute("INSERT INTO hits VALUES (1)")
                        conn.execute("SELECT pg_sleep(0.005)")
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, (
        errors[:2],
        (cluster.base_dir / "pgbouncer" / "pgbouncer.log").read_text()[-3000:],
    )
    with cluster.connect("app") as conn:
        assert conn.execute("SELECT count(*) FROM hits").fetchone() == (clients * 20,)

    with psycopg.connect(
        host="127.0.0.1",
        port=port,
        dbname="pgbouncer",
        user="pgbouncer_admin",
        password=ADMIN_PASSWORD,
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
    ) as admin:
        cur = admin.execute("SHOW CONFIG")
        names = [c.name for c in cur.description or []]
        config = {row[names.index("key")]: row[names.index("value")] for row in cur.fetchall()}
        assert config["pool_mode"] == "transaction"
        assert config["default_pool_size"] == str(POOL_SIZE)
        assert config["auth_type"] == "scram-sha-256"
        cur = admin.execute("SHOW POOLS")
        names = [c.name for c in cur.description or []]
        pools = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        app_pool = next(p for p in pools if p["database"] == "app" and p["user"] == "app_user")
        # never more server connections than pool + reserve, though 8 clients came
        assert int(app_pool["sv_active"]) + int(app_pool["sv_idle"]) <= POOL_SIZE + 2


def test_wrong_password_is_refused(bouncer) -> None:  # type: ignore[no-untyped-def]
    _, port, _ = bouncer
    with pytest.raises(psycopg.OperationalError):
        _client(port, password="not-the-password")


def test_superusers_are_not_served_through_auth_query(bouncer) -> None:  # type: ignore[no-untyped-def]
    cluster, port, _ = bouncer
    with cluster.connect() as conn:
        conn.execute("ALTER ROLE postgres PASSWORD 'super-secret'")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1",
            port=port,
            dbname="app",
            user="postgres",
            password="super-secret",
            connect_timeout=10,
        )
