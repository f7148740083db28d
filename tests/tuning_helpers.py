"""Building tuning contexts in tests without touching the machine's detection."""

from pgtune.tuning.hardware import Hardware, StorageClass
from pgtune.tuning.profiles import load_profiles, load_storage, load_workload, pick_profile
from pgtune.tuning.recommend import Recommendation, recommend
from pgtune.tuning.server import ServerBuild
from pgtune.tuning.sizing import Context, Options
from pgtune.units import GB
from pgtune.versions import version_facts

# Tests default to a build with every optional feature, like distribution packages.
FULL_BUILD = ServerBuild(source="test build", lz4=True, zstd=True, liburing=True, ssl=True)


def make_context(
    memory: int = 16 * GB,
    cpus: int = 4,
    storage: StorageClass = "ssd",
    workload: str = "web",
    major: int = 15,
    build: ServerBuild = FULL_BUILD,
    database: int | None = None,
    *,
    wal_disk: int | None = None,
    temp_disk: int | None = None,
    **options: object,
) -> Context:
    hw = Hardware(
        memory,
        cpus,
        storage,
        "test",
        "test",
        "test",
        database_bytes=database,
        database_source="test",
        wal_disk_bytes=wal_disk,
        wal_disk_source="test",
        temp_disk_bytes=temp_disk,
        temp_disk_source="test",
    )
    return Context(
        hardware=hw,
        profile=pick_profile(memory, load_profiles()),
        workload=load_workload(workload),
        storage=load_storage(storage),
        facts=version_facts(major),
        options=Options(**options),  # type: ignore[arg-type]
        build=build,
    )


def make(
    memory: int = 16 * GB,
    cpus: int = 4,
    storage: StorageClass = "ssd",
    workload: str = "web",
    major: int = 15,
    build: ServerBuild = FULL_BUILD,
    database: int | None = None,
    *,
    wal_disk: int | None = None,
    temp_disk: int | None = None,
    **options: object,
) -> Recommendation:
    return recommend(
        make_context(
            memory,
            cpus,
            storage,
            workload,
            major,
            build,
            database,
            wal_disk=wal_disk,
            temp_disk=temp_disk,
            **options,
        )
    )
