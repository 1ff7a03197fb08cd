"""Shared library behind the golf harness tools: logs, records, statistics and checks."""
