"""The package version, in one place: setuptools reads it for the metadata (pyproject.toml's
``[tool.setuptools.dynamic]``), the package root and the model folders import it."""

__version__ = "0.1.0"
