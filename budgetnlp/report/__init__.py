"""Reports on a scored table (being split into figures, html and xlsx modules)."""

from .figures import *  # noqa: F401,F403
from .figures import __all__  # noqa: F401
