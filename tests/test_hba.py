"""pg_hba.conf rendering rules (booted for real in test_real_hba.py)."""

import pytest
from typer.testing import CliRunner

from pgtune.cli.app import app
from pgtune.errors import UsageError
from pgtune.tuning.hba import hba_lines, parse_allow


def rules_of(text: str) -> list[list[str]]:
    return [ln.split() for ln in text.splitlines() if ln and not ln.startswith("#")]


def test_hardened_shape() -> None:
    out = CliRunner().invoke(
        app, ["generate", "--hba", "--allow", "10.1.0.0/16:shop:web", "--allow", "192.168.0.9"]
    )
    assert out.exit_code == 0, out.output
    rules = rules_of(out.stdout)
    assert rules[0] == ["local", "all", "postgres", "peer"]
    assert ["hostssl", "shop", "web", "10.1.0.0/16", "scram-sha-256"] in rules
    assert ["hostssl", "all", "all", "192.168.0.9/32", "scram-sha-256"] in rules
    assert rules[-2:] == [
        ["host", "all", "all", "0.0.0.0/0", "reject"],
        ["host", "all", "all", "::/0", "reject"],
    ]
    methods = {r[-1] for r in rules}
    assert not methods & {"trust", "password", "md5", "ident"}
    assert not any(r[-1] != "reject" and "0.0.0.0/0" in r for r in rules)
    assert "hostssl lines need ssl = on" in out.stderr


def test_plaintext_only_when_asked() -> None:
    lines = hba_lines([parse_allow("10.0.0.0/8")], admin_user="postgres", plaintext=True)
    assert [ln.type for ln in lines if ln.address == "10.0.0.0/8"] == ["host"]


@pytest.mark.parametrize(
    "spec",
    ["0.0.0.0/0", "::/0", "banana", "10.0.0.0/8:a:b:c", '10.0.0.0/8:a"b', "10.0.0.0/8::user"],
)
def test_bad_allow_specs(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_allow(spec)


def test_odd_names_are_quoted() -> None:
    assert parse_allow("10.0.0.0/8:My_DB").database == "My_DB"
    assert parse_allow("10.0.0.0/8:app:Ünïcode").user == '"Ünïcode"'
