"""The developer documents stay honest: every repository path that DEVELOPING.md and docs/*.md
name in backticks (inline or in a code block) exists, and every ``tests/file.py::name`` names a
function or class of that file. A path counts when it starts with one of the repository's
top-level folders; outputs that commands create (data/processed) are not checked."""

from __future__ import annotations

import re

import pytest

from .helpers import ROOT

DOCUMENTS = [ROOT / "DEVELOPING.md", *sorted((ROOT / "docs").glob("*.md"))]
#: top-level folders of the checkout whose paths the documents may name
TOP = ("budgetnlp", "tests", "evaluation", "training", "data", "docs", ".ci")
#: paths that commands create, named in the documents as outputs
CREATED = ("data/processed",)
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_TOKEN = re.compile(r"[^\s`'\"()<>,;，。、：:|]+(?:::\w+)?")


def _spans(text: str) -> list[str]:
    """Code blocks first, then inline code in the rest."""
    blocks = _FENCE.findall(text)
    prose = _FENCE.sub("", text)
    return blocks + _INLINE.findall(prose)


def repo_paths(text: str) -> list[str]:
    """Tokens of the code spans that look like repository paths (``a/b.py`` or ``a/b.py::name``)."""
    found = []
    for span in _spans(text):
        for token in _TOKEN.findall(span):
            token = token.rstrip(".")
            if "/" in token and token.split("/", 1)[0] in TOP and not any(ch in token for ch in "*{}<>"):
                found.append(token)
    return list(dict.fromkeys(found))


def problems(text: str) -> list[str]:
    out = []
    for token in repo_paths(text):
        path, _, name = token.partition("::")
        if any(path == c or path.startswith(c + "/") for c in CREATED):
            continue
        target = ROOT / path
        if not target.exists():
            out.append(f"{token}: no such file or folder")
        elif name and not re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b",
                                    target.read_text(encoding="utf-8"), re.M):
            out.append(f"{token}: {path} defines no {name}")
    return out


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_named_exists(document):
    assert problems(document.read_text(encoding="utf-8")) == []


def test_developing_names_the_parts_it_describes():
    paths = repo_paths((ROOT / "DEVELOPING.md").read_text(encoding="utf-8"))
    assert len(paths) >= 40  # the check has something to hold the document to
    assert "docs/annotation-guide.md" in paths


def test_the_check_catches_a_stale_path():
    text = "see `budgetnlp/no_such_module.py`, `tests/test_rules.py::no_such_test` and\n```bash\npython evaluation/gone.py\n```\n"
    assert problems(text) == [
        "evaluation/gone.py: no such file or folder",
        "budgetnlp/no_such_module.py: no such file or folder",
        "tests/test_rules.py::no_such_test: tests/test_rules.py defines no no_such_test",
    ]
    assert problems("`data/processed` `../shared/LABELS.md` `models/NAME` `budgetnlp/rules.py`.") == []
