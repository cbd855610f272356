"""The reading room: a research reading-room knowledge service."""

__version__ = "0.1.0"
