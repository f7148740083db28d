"""Diagnostics on stderr keep their lines: a name or server message cannot add one or drive the
terminal (ESC sequences), while a message that lists several problems keeps one per line."""

import pytest

from pgtune.cli.common import fail, say


def test_say_escapes_control_characters_within_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    say('table "evil\rDROP" \x1b[2J\u2028x\nsecond problem')
    err = capsys.readouterr().err
    assert err == 'table "evil\\rDROP" \\x1b[2J\\u2028x\nsecond problem\n'


def test_fail_prefixes_the_message_and_keeps_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exit_ = fail("bad \x85 name", 3)
    assert exit_.exit_code == 3
    assert capsys.readouterr().err == "pgtune: error: bad \\x85 name\n"
