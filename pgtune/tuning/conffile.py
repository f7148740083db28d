"""What `--full` keeps from the postgresql.conf it replaces.

A full postgresql.conf replaces the whole file, but some of its lines are not tuning: where the
cluster's files are (Debian's pg_createcluster puts the configuration in /etc/postgresql and the
data elsewhere, so `data_directory` is what makes the file start that cluster at all), which
port it owns, its name, sockets and includes, initdb's locale and time zone, and its TLS
certificate. pgtune reads those from the file being replaced and writes them back; every other
setting of the old file is replaced, and the ones the new file does not set are named in a note
(the backup keeps them).

The parser follows PostgreSQL's configuration lexer closely enough for this: `name [=] value`
per line, `#` comments, single-quoted strings with `''` or backslash escapes, the last value of a
name wins, and `include`, `include_if_exists`, `include_dir` are directives kept in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from pgtune.errors import OutputError

INCLUDE_DIRECTIVES = ("include", "include_if_exists", "include_dir")

# Where the cluster's files are and who it is: always kept (port and listen_addresses unless
# --port / --listen-addresses say otherwise).
LOCATIONS = (
    "data_directory",
    "hba_file",
    "ident_file",
    "external_pid_file",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "stats_temp_directory",  # PostgreSQL 13 and 14 only
    "cluster_name",
)
ADDRESSES = ("listen_addresses", "port")
# What initdb chose for this cluster's locale and time zone.
LOCALE = (
    "datestyle",
    "intervalstyle",
    "timezone",
    "log_timezone",
    "lc_messages",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "default_text_search_config",
)
# The TLS certificate: kept unless --ssl-cert gives one.
TLS = ("ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_crl_file", "ssl_crl_dir")
# Libraries the server preloads: dropping them stops extensions that need them.
PRELOAD = ("shared_preload_libraries",)

KEPT = LOCATIONS + ADDRESSES + LOCALE + TLS + PRELOAD

_LINE = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)\s*=?\s*
        (?P<value>'(?:[^'\\]|''|\\.)*'|[^\s#']+)?""",
    re.VERBOSE,
)


def _unquote(token: str) -> str:
    if not token.startswith("'"):
        return token
    body = token[1:-1].replace("''", "'")
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)


def parse_conf(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """postgresql.conf text -> (settings by lower-case name, the last value winning, and the
    include directives in order). Lines that do not parse are ignored, as nothing depends on
    them here."""
    settings: dict[str, str] = {}
    includes: list[tuple[str, str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None or match["value"] is None:
            continue
        name, value = match["name"].lower(), _unquote(match["value"])
        if name in INCLUDE_DIRECTIVES:
            includes.append((name, value))
        else:
            settings[name] = value
    return settings, includes


@dataclass(frozen=True)
class Kept:
    """What the replaced file's lines give the new one."""

    settings: tuple[tuple[str, str], ...] = ()  # in KEPT order, to write
    includes: tuple[tuple[str, str], ...] = ()  # to write last, in the file's order
    port: int | None = None
    listen_addresses: str | None = None
    others: tuple[str, ...] = ()  # the old file's other settings
    source: str = ""
    data_dir_flag: bool = False  # data_directory comes from --data-dir

    def for_version(self, major: int, emitted: set[str]) -> Kept:
        """Without what ``major`` does not have (stats_temp_directory is gone in 15) or what
        pgtune sets itself (its value wins); ``others`` narrowed to what the new file lacks."""
        settings = tuple(
            (name, value)
            for name, value in self.settings
            if name not in emitted and not (name == "stats_temp_directory" and major >= 15)
        )
        kept = {name for name, _ in settings}
        others = set(self.others) | {name for name, _ in self.settings}
        return replace(self, settings=settings, others=tuple(sorted(others - emitted - kept)))

    def with_data_dir(self, data_dir: Path | None, output: Path | None) -> Kept:
        """``data_directory = --data-dir`` when the replaced file gave none and the file is not
        written into the data directory itself (stdout, or a configuration directory such as
        Debian's /etc/postgresql/V/NAME)."""
        if data_dir is None or any(name == "data_directory" for name, _ in self.settings):
            return self
        target = data_dir.resolve()
        if output is not None and output.resolve().parent == target:
            return self
        return replace(
            self, settings=(("data_directory", str(target)), *self.settings), data_dir_flag=True
        )

    def notes(self) -> list[str]:
        names = [n for n, _ in self.settings if not (self.data_dir_flag and n == "data_directory")]
        if self.port is not None:
            names.append("port")
        if self.listen_addresses is not None:
            names.append("listen_addresses")
        out = []
        if self.data_dir_flag:
            out.append("--full: data_directory from --data-dir")
        if names or self.includes:
            what = ", ".join(names + [f"{d} '{v}'" for d, v in self.includes])
            out.append(f"--full kept from the replaced {self.source}: {what}")
        if self.others:
            out.append(
                f"--full: the replaced {self.source} also set {', '.join(self.others)}; this "
                "file leaves them at the server's defaults (the backup keeps them)"
            )
        return out


def read_kept(path: Path, *, ssl_given: bool, port_given: bool, listen_given: bool) -> Kept:
    """The lines of ``path`` (the postgresql.conf --full replaces) that the new file keeps;
    nothing when it does not exist. Set by a flag, port, listen_addresses and the TLS files
    follow the flag instead. A file that exists but cannot be read is an error: writing over
    it blind is what breaks a Debian cluster."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return Kept()
    except OSError as exc:
        raise OutputError(
            f"cannot read {str(path)!r} to keep its data_directory, port and file locations "
            f"(--full): {exc.strerror}"
        ) from None
    settings, includes = parse_conf(text)
    kept = tuple(
        (name, settings[name])
        for name in KEPT
        if name in settings and name not in ADDRESSES and not (ssl_given and name in TLS)
    )
    port = None
    if "port" in settings and not port_given:
        try:
            port = int(settings["port"])
        except ValueError:
            raise OutputError(
                f"{str(path)!r}: port = {settings['port']!r} is not a number; pass --port"
            ) from None
    return Kept(
        settings=kept,
        includes=tuple(includes),
        port=port,
        listen_addresses=None if listen_given else settings.get("listen_addresses"),
        others=tuple(name for name in settings if name not in ADDRESSES and name not in dict(kept)),
        source=str(path),
    )
