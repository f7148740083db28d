"""Sizing rules: the behaviour a DBA relies on, checked through the full recommendation."""

import pytest

from pgtune.errors import BudgetError, UsageError
from pgtune.tuning.server import UNKNOWN, ServerBuild
from pgtune.units import GB, MB, parse_size
from pgtune.versions import SUPPORTED_MAJORS
from tuning_helpers import make


def size(rec, name: str) -> int:  # type: ignore[no-untyped-def]
    return parse_size(rec.get(name).value)


def test_guide_table_memory_rows_for_web() -> None:
    # The widely copied guide: shared_buffers 1/4/16 GB and effective_cache_size 3/12/48 GB
    # for 4/16/64 GB servers; maintenance_work_mem 256MB/1GB/2GB.
    for memory, sb, ecc, maint in [
        (4, 1 * GB, 3 * GB, 256 * MB),
        (16, 4 * GB, 12 * GB, 1 * GB),
        (64, 16 * GB, 48 * GB, 2 * GB),
    ]:
        rec = make(memory=memory * GB, cpus=8, workload="web")
        assert size(rec, "shared_buffers") == sb
        assert size(rec, "effective_cache_size") == ecc
        assert size(rec, "maintenance_work_mem") == maint


def test_shared_buffers_hold_a_database_that_fits_and_the_page_cache_reserve_pays() -> None:
    plain = make(memory=16 * GB, cpus=4, workload="mixed")
    rec = make(memory=16 * GB, cpus=4, workload="mixed", database=5 * GB)
    # 25% of 16 GB (4 GB) cannot hold a 5 GB database; 40% (6.4 GB) can, with room to grow.
    assert size(plain, "shared_buffers") == 4 * GB
    assert 5 * GB < size(rec, "shared_buffers") <= 16 * GB * 0.40
    assert "holds the databases (at most 5 GB" in rec.get("shared_buffers").reason
    # The page cache no longer caches those pages twice: its reserve gave up memory, but never
    # below the medium profile's 1 GB for the OS, and the budget still holds.
    assert 1 * GB <= rec.budget.reserve < plain.budget.reserve
    assert rec.budget.peak <= rec.budget.limit
    assert size(rec, "work_mem") >= 0.8 * size(plain, "work_mem")


def test_databases_too_big_or_small_keep_the_usual_share() -> None:
    plain = make(memory=16 * GB, cpus=4, workload="mixed")
    for database, says in [(7 * GB, "do not fit in 40% of memory"), (1 * GB, "room to grow")]:
        rec = make(memory=16 * GB, cpus=4, workload="mixed", database=database)
        assert size(rec, "shared_buffers") == 4 * GB
        assert rec.budget.reserve == plain.budget.reserve
        assert says in rec.get("shared_buffers").reason
    # measured sizes are rounded up to 1/32 of memory: growth within a step changes nothing
    grown = make(memory=16 * GB, cpus=4, workload="mixed", database=5 * GB + 100 * MB)
    same = make(memory=16 * GB, cpus=4, workload="mixed", database=5 * GB + 500 * MB)
    assert grown.get("shared_buffers") == same.get("shared_buffers")
    # unknown size: the share, and no word about a database
    assert "databases" not in plain.get("shared_buffers").reason


def test_wal_buffers_never_above_one_segment_and_says_why() -> None:
    rec = make(memory=64 * GB)
    assert size(rec, "wal_buffers") == 16 * MB
    assert "64-256MB" in rec.get("wal_buffers").reason
    small = make(memory=1 * GB)
    assert size(small, "wal_buffers") == size(small, "shared_buffers") // 32


@pytest.mark.parametrize("storage, rpc", [("hdd", "4"), ("ssd", "1.1"), ("nvme", "1.1")])
def test_storage_drives_planner_costs(storage: str, rpc: str) -> None:
    rec = make(storage=storage)  # type: ignore[arg-type]
    assert rec.get("random_page_cost").value == rpc
    eic = int(rec.get("effective_io_concurrency").value)
    assert (eic <= 2) if storage == "hdd" else (eic >= 200)


def test_settings_a_version_lacks_are_never_emitted() -> None:
    names = {m: {s.name for s in make(major=m).settings} for m in SUPPORTED_MAJORS}
    for m in SUPPORTED_MAJORS:
        assert ("io_method" in names[m]) == (m >= 18)
        assert ("io_workers" in names[m]) == (m >= 18)
        assert ("autovacuum_worker_slots" in names[m]) == (m >= 18)


def test_wal_compression_method_follows_version() -> None:
    assert make(major=14).get("wal_compression").value == "on"
    assert make(major=15).get("wal_compression").value == "lz4"


def test_hash_mem_multiplier_explains_the_pg15_default_on_older_versions() -> None:
    assert "this version's is 1" in make(major=14).get("hash_mem_multiplier").reason
    assert make(major=16).get("hash_mem_multiplier").value == "2"


def test_pre17_vacuum_memory_is_capped_at_1gb_and_17_is_not() -> None:
    big = 2048 * GB
    assert size(make(memory=big, cpus=64, major=16), "autovacuum_work_mem") == 1 * GB
    assert size(make(memory=big, cpus=64, major=17), "autovacuum_work_mem") > 1 * GB


def test_pg18_autovacuum_max_workers_reloads_but_slots_need_restart() -> None:
    rec = make(major=18)
    assert rec.get("autovacuum_max_workers").applies == "reload"
    assert rec.get("autovacuum_worker_slots").applies == "restart"
    assert make(major=17).get("autovacuum_max_workers").applies == "restart"


def test_io_uring_only_when_asked() -> None:
    assert make(major=18).get("io_method").value == "worker"
    rec = make(major=18, io_method="io_uring")
    assert rec.get("io_method").value == "io_uring"
    assert "io_workers" not in {s.name for s in rec.settings}


def test_one_cpu_gets_no_parallel_query() -> None:
    rec = make(cpus=1)
    assert rec.get("max_parallel_workers_per_gather").value == "0"
    assert int(rec.get("max_worker_processes").value) >= 8


def test_worker_slots_leave_room_for_replication_and_extensions() -> None:
    rec = make(cpus=32, memory=128 * GB)
    assert int(rec.get("max_worker_processes").value) > int(rec.get("max_parallel_workers").value)
    assert int(rec.get("max_parallel_workers_per_gather").value) <= int(
        rec.get("max_parallel_workers").value
    )


def test_dw_gets_more_statistics_jit_and_bigger_work_mem_than_web() -> None:
    dw, web = make(workload="dw"), make(workload="web")
    assert int(dw.get("default_statistics_target").value) > 100
    assert dw.get("jit").value == "on" and make(workload="oltp").get("jit").value == "off"
    assert size(dw, "work_mem") > size(web, "work_mem")


def test_connections_are_never_silently_below_postgresqls_100() -> None:
    # 1 GB web used to get 20 and 4 GB web 85: an application opening 100 then fails.
    for memory in (1 * GB, 2 * GB, 4 * GB, 16 * GB):
        for workload in ("web", "oltp", "dw", "mixed", "desktop"):
            rec = make(memory=memory, cpus=2, workload=workload)
            assert int(rec.get("max_connections").value) >= 100, (memory, workload)
    assert make(memory=4 * GB, cpus=2, workload="web").get("max_connections").value == "200"
    # web's 200 leave less than work_mem 4MB in 1 GB: lowered, towards 100 at most, and said
    tiny = make(memory=1 * GB, cpus=1, workload="web")
    conns = int(tiny.get("max_connections").value)
    assert 100 <= conns < 200 and conns % 10 == 0
    assert "lowered from the web default of 200" in tiny.get("max_connections").reason
    assert any(f"max_connections is {conns}, not the web default of 200" in n for n in tiny.notes)
    assert size(tiny, "work_mem") >= 4 * MB


def test_below_100_only_when_nothing_else_fits_and_then_loudly() -> None:
    rec = make(memory=512 * MB, cpus=1, workload="mixed")
    conns = int(rec.get("max_connections").value)
    assert conns < 100
    assert any(f"max_connections is {conns}" in n and "too many clients" in n for n in rec.notes)
    assert rec.budget.peak <= rec.budget.limit


def test_the_concurrency_model_is_explicit_in_the_budget() -> None:
    rec = make(memory=16 * GB, cpus=4, workload="web")
    b = rec.budget
    assert b.connections == 200 and b.active_sessions == 8  # 2 per CPU for web
    assert b.idle_connections == 192
    formulas = {name: formula for name, _, formula in b.components()}
    assert formulas["queries"].startswith("(8 active sessions (2 per CPU for web) x 2 operations")
    assert formulas["idle connections"] == "192 of 200 connections x 2MB overhead"


def test_pooler_advice_when_connections_limit_work_mem() -> None:
    limited = make(memory=2 * GB, cpus=2, workload="web")
    note = next(n for n in limited.notes if n.startswith("connections limit work_mem"))
    assert "--pgbouncer" in note
    assert f"instead of {limited.get('work_mem').value}" in note
    assert "pgbouncer would free it" in limited.get("work_mem").reason
    roomy = make(memory=16 * GB, cpus=4, workload="web")  # at the web ceiling already
    assert not any(n.startswith("connections limit work_mem") for n in roomy.notes)


def test_jit_off_for_short_query_workloads_and_on_with_default_thresholds_for_analytics() -> None:
    for workload, on in [
        ("web", False),
        ("oltp", False),
        ("desktop", False),
        ("dw", True),
        ("mixed", True),
    ]:
        jit = make(workload=workload).get("jit")
        assert jit.value == ("on" if on else "off"), workload
        assert "jit_above_cost (100000)" in jit.reason, workload
    assert "latency spike" in make(workload="web").get("jit").reason


def test_dw_work_mem_counts_parallel_workers_as_part_of_a_query() -> None:
    # 64 GB / 16 CPUs dw: PGTune says 146MB, the seed table 256MB; every worker budgeted as a
    # whole session x 4 operations gave 82MB.
    rec = make(memory=64 * GB, cpus=16, storage="nvme", workload="dw", major=17)
    b = rec.budget
    assert 146 * MB <= size(rec, "work_mem") <= 256 * MB
    assert b.peak <= b.limit
    assert (b.active_sessions, b.busy_workers, b.worker_operations) == (16, 16, 2)
    # one CPU: no parallel query, and the budget counts no worker
    one = make(cpus=1, workload="dw")
    assert one.get("max_parallel_workers_per_gather").value == "0"
    assert one.budget.busy_workers == 0


def test_user_connections_are_kept_and_work_mem_shrinks_below_the_usual_floor() -> None:
    rec = make(memory=8 * GB, max_connections=600)
    assert rec.get("max_connections").value == "600"
    assert rec.budget.idle_connections == 600 - rec.budget.active_sessions
    assert rec.budget.peak <= rec.budget.limit
    crowded = make(memory=8 * GB, max_connections=1700)
    assert crowded.get("max_connections").value == "1700"
    assert 64 * 1024 <= size(crowded, "work_mem") < 4 * MB
    assert "below the usual" in crowded.get("work_mem").reason
    assert crowded.budget.peak <= crowded.budget.limit


def test_impossible_connections_fail_naming_the_number_to_change() -> None:
    with pytest.raises(BudgetError) as err:
        make(memory=8 * GB, max_connections=50_000)
    message = str(err.value)
    assert "--max-connections" in message
    most = int(message.split("at most ")[1].split(",")[0])
    # The suggested number really fits, and a few more do not.
    assert make(memory=8 * GB, max_connections=most).budget.peak <= 8 * GB
    with pytest.raises(BudgetError):
        make(memory=8 * GB, max_connections=most + 5)


def test_hardening_is_always_present() -> None:
    rec = make(major=13)
    assert rec.get("password_encryption").value == "scram-sha-256"
    assert "this version's default is md5" in rec.get("password_encryption").reason
    prefix = rec.get("log_line_prefix").value
    for escape in ("%m", "%p", "%u", "%d", "%a", "%h"):
        assert escape in prefix
    assert rec.get("log_statement").value == "ddl"
    assert "ssl" not in {s.name for s in rec.settings}


def test_pg_stat_statements_only_when_asked_and_the_note_says_why() -> None:
    plain = make()
    assert "shared_preload_libraries" not in {s.name for s in plain.settings}
    assert any("--pg-stat-statements" in note for note in plain.notes)
    asked = make(pg_stat_statements=True)
    assert asked.get("shared_preload_libraries").value == "pg_stat_statements"
    assert not any("--pg-stat-statements" in note for note in asked.notes)


def test_ssl_settings_only_with_certificate_and_key() -> None:
    rec = make(ssl_cert="/etc/pg/server.crt", ssl_key="/etc/pg/server.key")
    assert rec.get("ssl").value == "on"
    assert rec.get("ssl_cert_file").value == "/etc/pg/server.crt"


def test_huge_pages_note_gives_nr_hugepages_for_big_shared_memory() -> None:
    rec = make(memory=64 * GB)
    assert any("vm.nr_hugepages=" in note for note in rec.notes)
    assert not any("vm.nr_hugepages" in n for n in make(memory=4 * GB).notes)


def test_every_setting_has_a_one_line_reason() -> None:
    for workload in ("web", "oltp", "dw", "mixed", "desktop"):
        for s in make(workload=workload, major=18).settings:
            assert s.reason.strip() and "\n" not in s.reason, s.name


NO_EXTRAS = ServerBuild(source="pg_config", lz4=False, zstd=False, liburing=False, ssl=False)


def test_wal_compression_uses_lz4_only_when_the_build_has_it() -> None:
    assert make(major=16, build=NO_EXTRAS).get("wal_compression").value == "pglz"
    unknown = make(major=16, build=UNKNOWN).get("wal_compression")
    assert unknown.value == "pglz" and "--pg-config" in unknown.reason
    assert make(major=16, build=UNKNOWN, wal_compression="lz4").get("wal_compression").value == (
        "lz4"
    )


@pytest.mark.parametrize(
    "options, words",
    [
        ({"wal_compression": "lz4"}, "built without it"),
        ({"wal_compression": "gzip"}, "invalid --wal-compression 'gzip'"),
        ({"io_method": "io_uring"}, "without liburing"),
        ({"ssl_cert": "a.crt", "ssl_key": "a.key"}, "built without SSL"),
    ],
)
def test_features_the_build_lacks_are_refused_before_they_break_a_boot(
    options: dict[str, str], words: str
) -> None:
    with pytest.raises(UsageError, match=words):
        make(major=18, build=NO_EXTRAS, **options)


def test_page_tables_are_in_the_budget_without_huge_pages_and_on_above_8gb() -> None:
    small = make(memory=16 * GB, cpus=8)  # ~4.2 GB of shared memory: try, page tables counted
    assert small.get("huge_pages").value == "try"
    tables = {name: size for name, size, _ in small.budget.components()}["page tables"]
    per_process = small.budget.page_tables_per_process
    assert 8 * MB <= per_process <= 9 * MB  # 0.2% of ~4.2 GB
    assert tables == per_process * (
        small.budget.active_sessions
        + small.budget.busy_workers
        + small.budget.autovacuum_workers
        + small.budget.other_processes
    )
    big = make(memory=64 * GB, cpus=16)  # ~16.6 GB: on, and reserve before restarting
    assert big.get("huge_pages").value == "on"
    assert big.budget.page_tables_per_process == 0
    note = next(n for n in big.notes if n.startswith("huge pages"))
    assert "vm.nr_hugepages=" in note and "BEFORE restarting" in note


def test_huge_pages_reserved_on_this_host_are_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from pgtune.tuning.hardware import huge_pages_reserved
    from pgtune.tuning.recommend import recommend
    from tuning_helpers import make_context

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text(
        "HugePages_Total:    3000\nHugepagesize:       2048 kB\n"
    )
    assert huge_pages_reserved(tmp_path) == 3000 * 2 * MB
    ctx = make_context(memory=16 * GB, cpus=8)
    rec = recommend(replace(ctx, hardware=replace(ctx.hardware, huge_pages_bytes=6 * GB)))
    assert rec.get("huge_pages").value == "on"
    assert rec.budget.page_tables_per_process == 0
    assert not any(n.startswith("huge pages") for n in rec.notes)


def test_settings_experts_set() -> None:
    web, dw = make(workload="web"), make(workload="dw")
    assert web.get("log_min_duration_statement").value == "500ms"
    assert dw.get("log_min_duration_statement").value == "30s"
    assert web.get("log_autovacuum_min_duration").value == "1s"
    assert web.get("autovacuum_vacuum_insert_scale_factor").value == (
        web.get("autovacuum_vacuum_scale_factor").value
    )
    desktop = make(workload="desktop")
    assert desktop.get("wal_level").value == "minimal"
    assert desktop.get("max_wal_senders").value == "0"
    assert "wal_level" not in {s.name for s in web.settings}
    # a reason never says "20% (default 20%)"
    assert "(default" not in desktop.get("autovacuum_vacuum_scale_factor").reason
    assert "(default" not in desktop.get("autovacuum_analyze_scale_factor").reason


def test_one_cpu_has_no_parallel_workers_at_all() -> None:
    rec = make(cpus=1)
    assert rec.get("max_parallel_workers").value == "0"
    assert rec.budget.busy_workers == 0


def test_pg18_hdd_prefetch_is_never_below_pg18s_own_default() -> None:
    assert make(storage="hdd", major=17).get("effective_io_concurrency").value == "2"
    pg18 = make(storage="hdd", major=18)
    assert pg18.get("effective_io_concurrency").value == "16"
    assert pg18.get("maintenance_io_concurrency").value == "16"
    assert "PostgreSQL 18's default" in pg18.get("effective_io_concurrency").reason


def test_track_io_timing_follows_the_clock_source() -> None:
    from dataclasses import replace

    from pgtune.tuning.recommend import recommend
    from tuning_helpers import make_context

    ctx = make_context()
    for clock, on in [("tsc", True), ("kvm-clock", True), ("xen", False), ("hpet", False)]:
        rec = recommend(replace(ctx, hardware=replace(ctx.hardware, clocksource=clock)))
        assert rec.get("track_io_timing").value == ("on" if on else "off"), clock
        assert clock in rec.get("track_io_timing").reason
    assert "pg_test_timing" in make().get("track_io_timing").reason
