"""Documentation that quotes pgtune's numbers stays in sync with the rules."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_comparison_page_matches_current_rules() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "comparison.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == (ROOT / "docs" / "comparison.md").read_text(), (
        "docs/comparison.md is stale: python docs/comparison.py > docs/comparison.md"
    )
    # The page must still make its point: the guide's wal_buffers differ from pgtune's.
    assert "| wal_buffers | 64MB | 16MB |" in out.stdout
