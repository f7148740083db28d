"""The integration examples in ``examples/`` run for real.

* ``examples/ansible``: ``ansible-playbook -c local`` (ansible-core from the ``test`` extra) writes
  the conf.d include and pgbouncer.ini into a real PostgreSQL 15 cluster's data directory; the
  server boots with them and reports every value pgtune promised. The handlers write a marker
  file instead of calling systemctl, so the test sees which one ran: restart on the first
  deployment, nothing on an identical second run, reload when only reload-context settings
  change, restart when a restart-context one does. The server itself confirms each choice:
  after a reload nothing is ``pending_restart`` in the reload case, and exactly the changed
  restart-context settings are in the restart case.
* ``examples/terraform``: ``terraform init`` and ``apply`` (no provider, no network) turn the
  JSON into parameter-group parameters; the outputs are compared with the JSON. A missing
  ``terraform`` binary fails the test unless ``PGTUNE_ALLOW_SKIP_TERRAFORM=1``.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pgcluster import Cluster, Setting
from pgtune.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_DIR = ROOT / "examples" / "ansible"
TERRAFORM_DIR = ROOT / "examples" / "terraform"
ALLOW_SKIP_TERRAFORM_ENV = "PGTUNE_ALLOW_SKIP_TERRAFORM"

# Hardware that fits the test machine, so the cluster really boots with the settings.
HARDWARE = ("--memory", "4GB", "--cpus", "2", "--storage", "ssd")

Doc = dict[str, Any]


def _pgtune(*args: str) -> str:
    out = CliRunner().invoke(app, ["generate", "-q", *args])
    assert out.exit_code == 0, out.output
    return out.stdout


def _clean_env(drop_prefixes: tuple[str, ...], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Ansible


def _venv_program(name: str) -> Path | None:
    program = Path(sys.executable).parent / name
    return program if program.is_file() else None


class Playbook:
    """Runs examples/ansible/playbook.yml with ``-c local`` on a cluster's data directory."""

    def __init__(self, tmp: Path, cluster: Cluster) -> None:
        playbook_bin = _venv_program("ansible-playbook")
        if playbook_bin is None:
            pytest.fail(
                f"ansible-playbook is not installed next to {sys.executable}: "
                "python -m pip install -e '.[test]' (the test extra brings ansible-core)",
                pytrace=False,
            )
        self.playbook_bin = playbook_bin
        self.tmp = tmp
        self.cluster = cluster
        self.markers = tmp / "handlers.log"
        self.pgbouncer_ini = tmp / "pgbouncer.ini"
        for sub in ("home", "ansible-tmp"):
            (tmp / sub).mkdir()
        config = tmp / "ansible.cfg"
        config.write_text("")
        self.env = _clean_env(
            ("ANSIBLE_",),
            HOME=str(tmp / "home"),
            ANSIBLE_CONFIG=str(config),
            ANSIBLE_HOME=str(tmp / "home" / ".ansible"),
            ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
            ANSIBLE_REMOTE_TEMP=str(tmp / "ansible-tmp"),
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_PIPELINING="1",  # about half the time of each module run
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            LC_ALL="C.UTF-8",  # ansible refuses to run without a UTF-8 locale
            LANG="C.UTF-8",
        )
        pgtune_bin = _venv_program("pgtune")
        if pgtune_bin is None:  # not installed as a script: run the module
            pgtune_bin = tmp / "pgtune"
            pgtune_bin.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pgtune "$@"\n')
            pgtune_bin.chmod(0o755)
        me, my_group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name

        def marker(name: str) -> str:
            return f"sh -c {shlex.quote(f'echo {name} >> {shlex.quote(str(self.markers))}')}"

        self.base_vars: Doc = {
            "pgtune_bin": str(pgtune_bin),
            "pg_data_dir": str(cluster.data_dir),
            "pg_owner": cluster.user.name,
            "pg_group": grp.getgrgid(cluster.user.gid).gr_name,
            "pgbouncer_ini_path": str(self.pgbouncer_ini),
            "pgbouncer_owner": me,
            "pgbouncer_group": my_group,
            "pg_reload_cmd": marker("pg-reload"),
            "pg_restart_cmd": marker("pg-restart"),
            "pgbouncer_reload_cmd": marker("pgbouncer-reload"),
            "pgbouncer_restart_cmd": marker("pgbouncer-restart"),
        }
        self.runs = 0

    def run(self, **variables: Any) -> tuple[list[str], int]:
        """One play; returns (handlers that ran, in order, and the recap's changed count)."""
        self.runs += 1
        vars_file = self.tmp / f"vars-{self.runs}.json"
        vars_file.write_text(json.dumps({**self.base_vars, **variables}))
        self.markers.write_text("")
        proc = subprocess.run(
            [
                str(self.playbook_bin),
                "-c",
                "local",
                "-i",
                "localhost,",
                str(ANSIBLE_DIR / "playbook.yml"),
                "-e",
                f"@{vars_file}",
            ],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.tmp,
            timeout=300,
            check=False,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"ansible-playbook run {self.runs} failed:\n{output}"
        assert "[WARNING]" not in output, output  # deprecations may come with new releases
        recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+).*failed=0", output)
        assert recap, output
        return self.markers.read_text().split(), int(recap.group(1))

    def deployed(self) -> Doc:
        doc: Doc = json.loads((self.cluster.data_dir / "conf.d" / "pgtune.json").read_text())
        return doc


def _pg_args(cluster: Cluster, workload: str) -> list[str]:
    return [
        *HARDWARE,
        "--pg-version",
        "15",
        "--pg-config",
        str(cluster.binaries.exe("pg_config")),
        "--pgbouncer",
        "--workload",
        workload,
    ]


def _server_rows(cluster: Cluster, doc: Doc) -> dict[str, Setting]:
    """pg_settings rows of every setting in ``doc``, after checking each ``setting`` value."""
    rows = cluster.settings(doc["settings"])
    wrong = {
        name: (s["setting"], rows[name].setting)
        for name, s in doc["settings"].items()
        if rows[name].setting != s["setting"]
    }
    assert not wrong, f"JSON setting vs server: {wrong}"
    return rows


def _ini(text: str) -> dict[str, dict[str, str]]:
    """Sections of a pgbouncer.ini: {section: {key: value}}, comments dropped."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.strip()
    return sections


@pytest.mark.pg
def test_ansible_playbook_deploys_and_picks_reload_or_restart(
    pg_cluster_factory,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    cluster: Cluster = pg_cluster_factory(15)
    play = Playbook(tmp_path, cluster)
    include = cluster.data_dir / "conf.d" / "pgtune.conf"

    # 1. First deployment: pgtune runs on the host; restart-context settings are new -> restart.
    mixed = _pg_args(cluster, "mixed")
    handlers, _ = play.run(pgtune_args=mixed)
    assert handlers == ["pg-restart", "pgbouncer-restart"]
    doc = json.loads(_pgtune(*mixed, "--data-dir", str(cluster.data_dir), "--format", "json"))
    assert play.deployed() == doc
    assert "include_dir = 'conf.d'" in cluster.conf_file.read_text().splitlines()
    for path in (include.parent, include, cluster.conf_file):
        assert path.stat().st_uid == cluster.user.uid, path
    ini = play.pgbouncer_ini.read_text()
    assert _ini(ini) == _ini(_pgtune(*mixed, "--emit", "pgbouncer"))
    cluster.start()
    rows = _server_rows(cluster, doc)
    assert {r.sourcefile for r in rows.values()} == {str(include)}
    assert not [n for n, r in rows.items() if r.pending_restart]

    # 2. The same again: nothing changes, no handler runs.
    handlers, changed = play.run(pgtune_args=mixed)
    assert (handlers, changed) == ([], 0)

    # 3. Another workload that only changes reload-context settings (and pgbouncer's
    # idle_transaction_timeout, which RELOAD applies) -> reload, and a reload is enough.
    oltp = _pg_args(cluster, "oltp")
    new = json.loads(_pgtune(*oltp, "--data-dir", str(cluster.data_dir), "--format", "json"))
    changed_names = {n for n, s in new["settings"].items() if s != doc["settings"].get(n)}
    assert changed_names and all(new["settings"][n]["applies"] == "reload" for n in changed_names)
    handlers, _ = play.run(pgtune_args=oltp)
    assert handlers == ["pg-reload", "pgbouncer-reload"]
    assert play.deployed() == new
    cluster.reload()
    rows = _server_rows(cluster, new)
    assert not [n for n, r in rows.items() if r.pending_restart]
    assert _ini(play.pgbouncer_ini.read_text()) == _ini(_pgtune(*oltp, "--emit", "pgbouncer"))
    doc = new

    # 4. The document passed as a variable (pgtune not run on the host): a restart-context change
    # and a new pgbouncer port -> restart both. A value with a quote and a backslash must reach
    # the server intact.
    desktop = [*_pg_args(cluster, "desktop"), "--pgbouncer-port", "6433"]
    new = json.loads(_pgtune(*desktop, "--format", "json"))
    prefix = "%m [%p] it's a \\ test "
    new["settings"]["log_line_prefix"].update(value=prefix, setting=prefix)
    restart_changed = {
        n
        for n, s in new["settings"].items()
        if s["applies"] == "restart" and s["value"] != doc["settings"].get(n, {}).get("value")
    }
    assert restart_changed, "the desktop workload should change a restart-context setting"
    handlers, _ = play.run(pgtune_json=new, pgtune_args=["--this-flag-is-not-used"])
    assert handlers == ["pg-restart", "pgbouncer-restart"]
    assert play.deployed() == new
    cluster.reload()  # not enough: the server says which settings wait for the restart
    pending = {n for n, r in cluster.settings(new["settings"]).items() if r.pending_restart}
    assert pending == restart_changed
    cluster.restart()
    rows = _server_rows(cluster, new)
    assert not [n for n, r in rows.items() if r.pending_restart]
    assert cluster.show("log_line_prefix") == prefix
    assert _ini(play.pgbouncer_ini.read_text())["pgbouncer"]["listen_port"] == "6433"

    # 5. A run that wrote the files but stopped before its handlers left the older pgtune.json
    # behind: the files are current, yet the next run still restarts (pgtune.json is written
    # only after the handlers ran).
    state = cluster.data_dir / "conf.d" / "pgtune.json"
    state.write_text(json.dumps(doc))
    handlers, _ = play.run(pgtune_json=new)
    assert handlers == ["pg-restart", "pgbouncer-restart"]
    assert play.deployed() == new


# --------------------------------------------------------------------------------------------
# Terraform


def _terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        message = (
            "terraform is not installed (no `terraform` on PATH); the examples/terraform test "
            "needs the binary (any 1.3+ release, no provider)"
        )
        if os.environ.get(ALLOW_SKIP_TERRAFORM_ENV) == "1":
            pytest.skip(message)
        pytest.fail(
            f"{message}\n(set {ALLOW_SKIP_TERRAFORM_ENV}=1 to skip instead of failing)",
            pytrace=False,
        )
    return binary


class Terraform:
    """A copy of examples/terraform with the CLI kept away from the network and from $HOME."""

    def __init__(self, tmp: Path) -> None:
        self.binary = _terraform()
        shutil.copytree(
            TERRAFORM_DIR,
            tmp / "terraform",
            ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "pgtune.json"),
        )
        self.root = tmp / "terraform" / "example"
        (tmp / "home").mkdir()
        cli_config = tmp / "terraformrc"
        cli_config.write_text("disable_checkpoint = true\n")
        self.env = _clean_env(
            ("TF_", "CHECKPOINT_"),
            HOME=str(tmp / "home"),
            TF_CLI_CONFIG_FILE=str(cli_config),
            TF_DATA_DIR=str(tmp / "tf-data"),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, f"-chdir={self.root}", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if ok:
            assert proc.returncode == 0, f"terraform {args[0]}: {proc.stdout}\n{proc.stderr}"
        return proc

    def init(self) -> None:
        self("init", "-input=false", "-no-color")
        # no provider: nothing was downloaded, nothing to lock
        assert not (self.root / ".terraform.lock.hcl").exists()

    def apply(self, *var_args: str) -> dict[str, Any]:
        self("apply", "-auto-approve", "-input=false", "-no-color", *var_args)
        raw = json.loads(self("output", "-json", "-no-color").stdout)
        return {name: out["value"] for name, out in raw.items()}


def _parameter_shape(doc: Doc, exclude: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    return [
        {
            "name": name,
            "value": s["setting"],
            "apply_method": "pending-reboot" if s["applies"] == "restart" else "immediate",
        }
        for name, s in sorted(doc["settings"].items())
        if name not in exclude
    ]


def test_terraform_module_turns_the_json_into_parameter_group_parameters(
    tmp_path: Path,
) -> None:
    tf = Terraform(tmp_path)
    args = ("--memory", "16GB", "--cpus", "4", "--storage", "ssd", "--pg-version", "16")
    doc = json.loads(_pgtune(*args, "--format", "json"))
    (tf.root / "pgtune.json").write_text(json.dumps(doc))
    tf.init()

    out = tf.apply()
    assert out["parameters"] == _parameter_shape(doc)
    assert {p["apply_method"] for p in out["parameters"]} == {"immediate", "pending-reboot"}
    assert out["restart_required"] == sorted(doc["restart_required"])
    assert out["config_values"] == {n: s["value"] for n, s in doc["settings"].items()}
    assert out["pg_version"] == 16

    # Settings a managed service does not let you change can be left out.
    out = tf.apply("-var", 'exclude=["log_line_prefix", "wal_buffers"]')
    assert out["parameters"] == _parameter_shape(doc, frozenset({"log_line_prefix", "wal_buffers"}))
    assert "wal_buffers" not in out["restart_required"]

    # A document of a future format is refused, not misread.
    (tf.root / "future.json").write_text(json.dumps({**doc, "format_version": 2}))
    var = "pgtune_json_path=future.json"
    proc = tf("apply", "-auto-approve", "-input=false", "-no-color", "-var", var, ok=False)
    assert proc.returncode != 0
    assert "format_version 1" in proc.stderr and "format_version 2" in proc.stderr, proc.stderr
