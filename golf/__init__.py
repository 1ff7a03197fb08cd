"""Shared library behind the golf harness tools: logs, records, statistics and checks."""

__version__ = "0.1.0"
