"""One version source: budgetnlp/_version.py, read by setuptools and by the package."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import budgetnlp
from budgetnlp import _version

ROOT = Path(__file__).resolve().parents[1]


def test_installed_metadata_is_the_package_version():
    assert importlib.metadata.version("budgetnlp") == budgetnlp.__version__


def test_pyproject_reads_the_version_module():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "budgetnlp._version.__version__"}
    from setuptools.config.pyprojecttoml import read_configuration

    assert read_configuration(ROOT / "pyproject.toml")["project"]["version"] == budgetnlp.__version__


def test_every_module_takes_the_same_object():
    from budgetnlp import models

    assert budgetnlp.__version__ is _version.__version__ and models.__version__ is _version.__version__
