"""What the PostgreSQL server build supports (compression methods, io_uring), read from the
`pg_config` of the target version. Unknown when no matching pg_config is found.
"""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pgtune.errors import UsageError


@dataclass(frozen=True)
class ServerBuild:
    source: str
    lz4: bool | None = None  # None: unknown
    zstd: bool | None = None
    liburing: bool | None = None
    ssl: bool | None = None


UNKNOWN = ServerBuild(source="no pg_config found for this version (pass --pg-config)")


def parse_configure(text: str, source: str) -> ServerBuild:
    """Read the build options out of `pg_config --configure`.

    >>> b = parse_configure("'--with-lz4' '--with-zstd' '--prefix=/usr'", "x")
    >>> (b.lz4, b.zstd, b.liburing, b.ssl)
    (True, True, False, False)
    """
    flags = set(text.replace("'", " ").split())
    return ServerBuild(
        source=source,
        lz4="--with-lz4" in flags,
        zstd="--with-zstd" in flags,
        liburing="--with-liburing" in flags,
        ssl=bool(flags & {"--with-openssl", "--with-ssl=openssl"}),
    )


def _query(pg_config: Path) -> tuple[int, str] | None:
    """(major version, configure options) from one `pg_config --version --configure` run."""
    try:
        proc = subprocess.run(
            [str(pg_config), "--version", "--configure"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or not lines:
        return None
    # "PostgreSQL 15.18 (Debian 15.18-0+deb12u1)"
    parts = lines[0].split()
    if len(parts) < 2 or parts[0] != "PostgreSQL":
        return None
    head = parts[1].split(".")[0]
    if not head.isdigit():
        return None
    return int(head), "\n".join(lines[1:])


def candidates(major: int) -> list[Path]:
    """Where distributions put pg_config for one major version, then PATH."""
    paths = [
        Path(f"/usr/lib/postgresql/{major}/bin/pg_config"),  # Debian, Ubuntu
        Path(f"/usr/pgsql-{major}/bin/pg_config"),  # PGDG RPMs
    ]
    on_path = shutil.which("pg_config")
    if on_path:
        paths.append(Path(on_path))
    return paths


def detect_build(major: int, pg_config: Path | None = None) -> ServerBuild:
    """The build of the target server: from ``pg_config`` if given, else the first candidate
    whose version matches ``major``."""
    if pg_config is not None:
        found = _query(pg_config)
        if found is None:
            raise UsageError(f"--pg-config {str(pg_config)!r} is not a working pg_config")
        if found[0] != major:
            raise UsageError(
                f"--pg-config {str(pg_config)!r} is PostgreSQL {found[0]}, not {major}"
            )
        return parse_configure(found[1], f"{pg_config} --configure")
    for path in candidates(major):
        if path.is_file():
            found = _query(path)
            if found is not None and found[0] == major:
                return parse_configure(found[1], f"{path} --configure")
    return UNKNOWN


def installed_pgbouncer_version() -> tuple[int, int] | None:
    """The pgbouncer on PATH, e.g. (1, 18) from "PgBouncer 1.18.0"; None when absent."""
    path = shutil.which("pgbouncer")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_pgbouncer_version(out.split("\n", 1)[0].removeprefix("PgBouncer").strip())


def parse_pgbouncer_version(text: str) -> tuple[int, int] | None:
    """
    >>> parse_pgbouncer_version("1.18.0"), parse_pgbouncer_version("1.21")
    ((1, 18), (1, 21))
    >>> parse_pgbouncer_version("x") is None
    True
    """
    parts = text.strip().split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1])
    return None
