"""The plain-Python rendering of postgresql.conf (pgtune/tuning/conf_text.py) against jinja2.

`generate` renders the shipped postgresql.conf.j2 without jinja2 when the template is the one
conf_text.py mirrors; both paths must give the same text, and an edited template must win.
"""

import hashlib
import itertools
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pgtune.errors import DataError
from pgtune.resources import shipped_dir
from pgtune.tuning import conf_text, render
from pgtune.tuning.pooling import PoolerOptions
from pgtune.units import GB
from tuning_helpers import make

TEMPLATE = shipped_dir("templates") / "postgresql.conf.j2"


def _jinja(rec: render.Recommendation, full: bool, sources: dict[str, str] | None) -> str:
    """What render_conf produced before conf_text existed: the template through jinja2."""
    sections = [
        {"title": title, "settings": [s for s in rec.settings if s.section == key]}
        for key, title in render.SECTIONS.items()
    ]
    return render._render(
        "postgresql.conf.j2",
        None,
        version=render.__version__,
        full=full,
        inputs={**render.inputs_of(rec), **(sources or {})},
        budget=render.budget_of(rec),
        sections=[s for s in sections if s["settings"]],
        notes=rec.notes,
        options=rec.context.options,
    )


def test_conf_text_mirrors_the_shipped_template() -> None:
    digest = hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()
    assert digest == conf_text.TEMPLATE_SHA256, (
        "templates/postgresql.conf.j2 changed: update pgtune/tuning/conf_text.py to match it "
        "and set TEMPLATE_SHA256 (until then generate renders through jinja2, slower)"
    )


RECS = [
    make(),  # web, 16GB, ssd, 15
    make(memory=2 * GB, cpus=1, storage="hdd", workload="desktop", major=13),
    make(memory=64 * GB, cpus=16, storage="nvme", workload="dw", major=17, database=5 * GB),
    make(memory=32 * GB, cpus=8, workload="mixed", major=18, ssl_cert="it's.crt", ssl_key="k.key"),
    make(workload="oltp", major=16, pooler=PoolerOptions(), listen_addresses="*", port=5433),
    make(memory=1 * GB, workload="oltp", major=14, max_connections=30),
]
SOURCES = [None, {"pg_version_source": "--pg-version", "profile_source": "picked from memory"}]


@pytest.mark.parametrize(
    ("rec", "full", "sources"), list(itertools.product(RECS, [False, True], SOURCES))
)
def test_plain_rendering_equals_jinja2(
    rec: render.Recommendation, full: bool, sources: dict[str, str] | None
) -> None:
    assert not render._conf_template_edited(None)
    fast = render.render_conf(rec, full=full, sources=sources)
    assert fast == _jinja(rec, full, sources)


def test_notes_render_alike() -> None:
    rec = replace(make(), notes=("a note", "another: 'quoted' [x]"))
    assert render.render_conf(rec) == _jinja(rec, False, None)


def test_an_edited_template_is_rendered_by_jinja2(tmp_path: Path) -> None:
    shutil.copy(TEMPLATE, tmp_path / "postgresql.conf.j2")
    rec = make()
    # a byte-identical copy takes the fast path and renders the same
    assert not render._conf_template_edited(tmp_path)
    same = render.render_conf(rec, templates_dir=tmp_path)
    (tmp_path / "postgresql.conf.j2").write_text(
        TEMPLATE.read_text() + "# site: {{ inputs.workload }}\n"
    )
    assert render._conf_template_edited(tmp_path)
    edited = render.render_conf(rec, templates_dir=tmp_path)
    assert edited == same + "# site: web\n"


def test_a_missing_template_is_still_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"postgresql\.conf\.j2"):
        render.render_conf(make(), templates_dir=tmp_path)
