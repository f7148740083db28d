"""pgtune/yamlcache.py: parsed YAML by content, so `generate` runs without importing yaml."""

import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pgtune import yamlcache

TEXT = "a: 1\nb: [x, 2.5, true, null]\n13: {14: on}\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("PGTUNE_CACHE_DIR", str(directory))
    return directory


def test_the_cache_gives_back_what_yaml_parsed(cache: Path) -> None:
    expected = yaml.safe_load(TEXT)
    assert yamlcache.safe_load(TEXT) == expected  # parsed, stored
    (entry,) = cache.iterdir()
    assert oct(cache.stat().st_mode & 0o777) == "0o700"

    def refuse(text: str) -> object:
        raise AssertionError("parsed again")

    assert yamlcache.load(TEXT, refuse) == expected  # int keys survive, unlike JSON
    assert entry.suffix == ".marshal"


def test_other_text_is_parsed_again(cache: Path) -> None:
    yamlcache.safe_load(TEXT)
    assert yamlcache.safe_load(TEXT + "c: 3\n")["c"] == 3
    assert len(list(cache.iterdir())) == 2


def test_a_damaged_or_foreign_entry_is_ignored_and_replaced(cache: Path) -> None:
    yamlcache.safe_load(TEXT)
    (entry,) = cache.iterdir()
    for junk in (b"\x00garbage", marshal.dumps({"code": compile("1", "x", "eval")})):
        entry.write_bytes(junk)
        assert yamlcache.safe_load(TEXT) == yaml.safe_load(TEXT)
        assert marshal.loads(entry.read_bytes()) == yaml.safe_load(TEXT)


def test_malformed_yaml_names_the_line(cache: Path) -> None:
    with pytest.raises(yamlcache.MalformedYAML) as info:
        yamlcache.safe_load("a: 1\nb: [\n")
    assert info.value.line == 3
    assert not cache.exists() or not list(cache.iterdir())


def test_data_marshal_cannot_hold_is_not_cached(cache: Path) -> None:
    assert yamlcache.safe_load("when: 2024-01-02\n")["when"].year == 2024
    assert not cache.exists() or not list(cache.iterdir())


def test_an_unwritable_or_disabled_cache_only_costs_a_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PGTUNE_CACHE_DIR", str(blocker / "sub"))
    assert yamlcache.safe_load(TEXT)["a"] == 1
    monkeypatch.setenv("PGTUNE_CACHE_DIR", "")
    assert yamlcache.cache_dir() is None
    assert yamlcache.safe_load(TEXT)["a"] == 1


def test_the_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGTUNE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert yamlcache.cache_dir() == Path("/somewhere/cache/pgtune")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert yamlcache.cache_dir() == Path("/home/someone/.cache/pgtune")


def test_generate_imports_only_what_it_needs(tmp_path: Path) -> None:
    """The second run (warm cache) of generate imports no yaml, jinja2, psycopg or other
    commands' modules; its output equals the first run's."""
    probe = (
        "import sys\nfrom pgtune.cli.app import main\n"
        "sys.argv = ['pgtune', 'generate', '-q', '--memory', '16GB', '--cpus', '4',"
        " '--storage', 'ssd', '--pg-version', '17']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('yaml', 'jinja2', 'psycopg') or m in"
        " ('pgtune.cli.check', 'pgtune.cli.roles', 'pgtune.cli.audit'))\n"
        "sys.stderr.write('IMPORTED %s\\n' % bad)\n"
    )
    env = {**os.environ, "PGTUNE_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    assert "shared_buffers" in runs[0].stdout
    assert runs[1].stdout == runs[0].stdout
    assert "IMPORTED []" in runs[1].stderr, runs[1].stderr
