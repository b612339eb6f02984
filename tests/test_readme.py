"""The README's quickstart is the contract CI runs: keep the two in step."""

from __future__ import annotations

import re

from .helpers import ROOT


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_quickstart_is_two_commands():
    assert len(_quickstart_commands()) == 2


def test_ci_runs_the_readme_test_command():
    test_command = _quickstart_commands()[1]
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
