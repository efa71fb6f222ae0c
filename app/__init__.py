"""Fetchdeck: fetch many URLs at once and see exactly what happened to each."""

__version__ = "0.1.0"
