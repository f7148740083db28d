"""The rendered pg_hba.conf on real PostgreSQL 15 and 18: it parses without errors, and SCRAM
logins from allowed clients work while wrong passwords and other users are refused."""

import os
import signal
import time

import psycopg
import pytest
from psycopg import sql

from pgcluster import Cluster, self_signed_cert
from pgtune.tuning.hba import parse_allow
from pgtune.tuning.render import render_hba
from pgtune.tuning.server import detect_build

pytestmark = pytest.mark.pg


@pytest.mark.parametrize("major", [15, 18])
def test_hba_boots_and_enforces_scram(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(major, listen_addresses="127.0.0.1")
    # The embedded PostgreSQL 18 is built without SSL: there the rule is plain host + SCRAM.
    tls = detect_build(major, cluster.binaries.exe("pg_config")).ssl is True
    if tls:
        self_signed_cert(cluster)
        cluster.write_conf("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE app LOGIN PASSWORD 'right-pass'")
        conn.execute("CREATE ROLE other LOGIN PASSWORD 'other-pass'")

    text = render_hba([parse_allow("127.0.0.1/32:postgres:app")], plaintext=not tls)
    (cluster.data_dir / "pg_hba.conf").write_text(text)
    with cluster.connect() as conn:  # the file on disk, parsed by the server before loading it
        errors = conn.execute(
            "SELECT line_number, error FROM pg_catalog.pg_hba_file_rules WHERE error IS NOT NULL"
        ).fetchall()
        methods = {
            r[0]
            for r in conn.execute("SELECT auth_method FROM pg_catalog.pg_hba_file_rules").fetchall()
        }
    assert errors == []
    assert methods <= {"peer", "scram-sha-256", "reject"}
    # Load it with SIGHUP: the harness's own reload() needs a local superuser login, which the
    # hardened file now restricts to peer authentication of the OS user "postgres".
    pid = cluster.postmaster_pid()
    assert pid is not None
    os.kill(pid, signal.SIGHUP)

    def login(user: str, password: str) -> None:
        extra = {"sslmode": "require"} if tls else {"sslmode": "disable"}
        with psycopg.connect(
            host="127.0.0.1",
            port=cluster.port,
            dbname="postgres",
            user=user,
            password=password,
            connect_timeout=10,
            **extra,
        ) as conn:
            row = conn.execute(sql.SQL("SELECT current_user")).fetchone()
            assert row == (user,)

    deadline = time.monotonic() + 10
    while True:  # until the new rules are in force: the old ones (trust) admit "other"
        try:
            login("other", "other-pass")
        except psycopg.OperationalError as exc:
            assert "rejects connection" in str(exc) or "no pg_hba.conf entry" in str(exc)
            break
        assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
        time.sleep(0.1)

    login("app", "right-pass")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        login("app", "wrong-pass")
    if tls:  # the hostssl rule does not match a connection without TLS
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                host="127.0.0.1",
                port=cluster.port,
                dbname="postgres",
                user="app",
                password="right-pass",
                sslmode="disable",
                connect_timeout=10,
            )
