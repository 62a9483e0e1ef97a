"""Version of this distribution."""

__version__ = "0.3.1"
