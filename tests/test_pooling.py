"""PgBouncer sizing: pools decide max_connections, freed memory goes to work_mem."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pgtune.cli.app import app
from pgtune.errors import BudgetError, UsageError
from pgtune.tuning.pooling import Database, PoolerOptions, parse_database
from pgtune.units import GB, parse_size
from tuning_helpers import make

FIXED = ["--memory", "16GB", "--cpus", "4", "--storage", "ssd", "--pg-version", "16", "-q"]


def test_pools_set_max_connections_and_free_memory_for_work_mem() -> None:
    direct = make(2 * GB, 2, "ssd", "web", 16)
    pooled = make(2 * GB, 2, "ssd", "web", 16, pooler=PoolerOptions())
    plan = pooled.pool_plan
    assert plan is not None
    conns = int(pooled.get("max_connections").value)
    assert conns == plan.pools * (plan.pool_size + plan.reserve) + 13
    assert conns < int(direct.get("max_connections").value)
    assert parse_size(pooled.get("work_mem").value) > parse_size(direct.get("work_mem").value)
    assert "pgbouncer in front" in pooled.get("max_connections").reason
    assert pooled.budget.peak <= pooled.budget.limit


def test_pools_together_follow_cpus_and_storage() -> None:
    def pooled(cpus: int, storage: str) -> int:
        plan = make(64 * GB, cpus, storage, "oltp", 16, pooler=PoolerOptions()).pool_plan  # type: ignore[arg-type]
        assert plan is not None
        return plan.pooled_connections

    assert pooled(16, "nvme") > pooled(16, "ssd") > pooled(16, "hdd")
    assert pooled(16, "ssd") == 48  # 3 per CPU
    assert pooled(2, "ssd") == 10  # the floor


def dbs(*names: str) -> tuple[Database, ...]:
    return tuple(parse_database(n, 5432) for n in names)


def test_pools_share_the_machine_as_databases_and_users_grow() -> None:
    # 16 GB / 4 CPUs: 1 database gave max_connections 27, 5 gave 83, 30 gave 433 (work_mem 3.6MB).
    direct = make(16 * GB, 4, "ssd", "web", 16)
    previous_pool = None
    for n in (1, 5, 12, 30):
        rec = make(
            16 * GB,
            4,
            "ssd",
            "web",
            16,
            pooler=PoolerOptions(databases=dbs(*(f"db{i}" for i in range(n)))),
        )
        plan = rec.pool_plan
        assert plan is not None
        assert plan.pooled_connections <= max(12, n)  # 3 per CPU, or one per database
        assert int(rec.get("max_connections").value) <= int(direct.get("max_connections").value)
        assert parse_size(rec.get("work_mem").value) >= parse_size(direct.get("work_mem").value)
        if previous_pool is not None:
            assert plan.pool_size <= previous_pool
        previous_pool = plan.pool_size
    many_users = make(pooler=PoolerOptions(databases=dbs("a", "b"), users_per_database=3))
    plan = many_users.pool_plan
    assert plan is not None and plan.pools == 6
    assert plan.max_db_connections == 6  # 12 shared by 2 databases, 3 users each
    assert plan.pooled_connections == 12
    assert "max_db_connections" in {s.name for s in plan.settings}
    assert "max_db_connections" in many_users.get("max_connections").reason


def test_a_repeated_database_is_one_entry() -> None:
    once = make(pooler=PoolerOptions(databases=dbs("app"))).pool_plan
    twice = make(pooler=PoolerOptions(databases=dbs("app", "app"))).pool_plan
    assert once is not None and twice is not None
    assert twice.databases == once.databases and twice.pools == 1
    assert twice.server_connections == once.server_connections
    with pytest.raises(UsageError, match="given twice with different settings"):
        make(pooler=PoolerOptions(databases=(*dbs("app"), parse_database("app=host=x", 5432))))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1 * GB, max_value=512 * GB),
    st.integers(min_value=1, max_value=64),
    st.sampled_from(["hdd", "ssd", "nvme"]),
    st.sampled_from(["web", "oltp", "dw", "mixed", "desktop"]),
    st.integers(min_value=1, max_value=120),
    st.integers(min_value=1, max_value=6),
)
def test_pgbouncer_never_asks_for_more_server_connections_than_no_pooler(
    memory: int, cpus: int, storage: str, workload: str, n_db: int, users: int
) -> None:
    direct = make(memory, cpus, storage, workload, 16)  # type: ignore[arg-type]
    opts = PoolerOptions(databases=dbs(*(f"db{i}" for i in range(n_db))), users_per_database=users)
    try:
        pooled = make(memory, cpus, storage, workload, 16, pooler=opts)  # type: ignore[arg-type]
    except UsageError as exc:
        assert "wildcard entry" in str(exc)
        assert n_db > direct.budget.connections - 13
        return
    plan = pooled.pool_plan
    assert plan is not None
    assert pooled.budget.connections <= direct.budget.connections
    assert plan.pooled_connections <= max(n_db, min(400, max(10, cpus * 4)))
    assert parse_size(pooled.get("work_mem").value) >= parse_size(direct.get("work_mem").value)
    assert pooled.budget.peak <= pooled.budget.limit


def test_max_prepared_statements_only_for_pgbouncer_that_has_it() -> None:
    def names(version: tuple[int, int]) -> set[str]:
        plan = make(pooler=PoolerOptions(version=version)).pool_plan
        assert plan is not None
        return {s.name for s in plan.settings}

    assert "max_prepared_statements" in names((1, 21))
    assert "max_prepared_statements" not in names((1, 18))
    with pytest.raises(UsageError, match=r"1\.14"):
        names((1, 12))


def test_user_max_connections_below_the_pools_is_refused() -> None:
    with pytest.raises(UsageError, match="below what the pgbouncer pools need"):
        make(pooler=PoolerOptions(), max_connections=10)


def test_pools_too_big_for_memory_name_the_pool_size_flag() -> None:
    with pytest.raises(BudgetError, match="--pool-size"):
        make(
            2 * GB, 4, "ssd", "web", 16, pooler=PoolerOptions(pool_size=100, users_per_database=20)
        )


def test_fd_limit_warning() -> None:
    rec = make(pooler=PoolerOptions(fd_limit=1024, max_client_conn=5000))
    assert any("ulimit -n" in n and "LimitNOFILE" in n for n in rec.notes)
    quiet = make(pooler=PoolerOptions(fd_limit=1_000_000))
    assert not any("ulimit -n" in n for n in quiet.notes)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("app=host=db password=secret", "must not carry a password"),
        ("bad name", "invalid --database"),
        ("app=hostdb", "invalid --database setting"),
    ],
)
def test_database_specs_are_validated(spec: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        parse_database(spec, 5432)


def test_cli_renders_pgbouncer_ini_and_auth_sql() -> None:
    runner = CliRunner()
    ini = runner.invoke(
        app,
        [
            "generate",
            *FIXED,
            "--emit",
            "pgbouncer",
            "--database",
            "shop",
            "--pgbouncer-version",
            "1.22",
        ],
    )
    assert ini.exit_code == 0, ini.output
    text = ini.stdout
    assert "[databases]\nshop = host=127.0.0.1 port=5432 dbname=shop\n" in text
    assert "auth_type = scram-sha-256" in text and "pool_mode = transaction" in text
    assert "max_prepared_statements = 200" in text
    assert "for pgbouncer 1.22 (--pgbouncer-version)" in text

    sql = runner.invoke(
        app, ["generate", *FIXED, "--emit", "pgbouncer-auth-sql", "--auth-user", 'we"ird']
    )
    assert sql.exit_code == 0, sql.output
    assert 'GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO "we""ird";' in sql.stdout
    assert "SECURITY DEFINER SET search_path = pg_catalog, pg_temp" in sql.stdout
    assert "REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC;" in sql.stdout


def test_cli_json_carries_the_pgbouncer_section() -> None:
    import json

    out = CliRunner().invoke(
        app, ["generate", *FIXED, "--pgbouncer", "--format", "json", "--pgbouncer-version", "1.18"]
    )
    doc = json.loads(out.stdout)
    bouncer = doc["pgbouncer"]
    assert bouncer["version"] == "1.18"
    assert int(doc["settings"]["max_connections"]["value"]) == bouncer["server_connections"]
    assert bouncer["settings"]["default_pool_size"]["value"] == str(bouncer["pool_size"])
    assert all(entry["reason"] for entry in bouncer["settings"].values())


def test_cli_rejects_format_for_other_files() -> None:
    out = CliRunner().invoke(app, ["generate", *FIXED, "--emit", "pgbouncer", "--format", "json"])
    assert out.exit_code == 2 and "--emit postgresql only" in out.stderr
