"""The package's version, in one place: read by setup.py (as text), ``__version__`` and ``--version``."""

__version__ = "0.2.0"
