"""Compliance and record rules, one module per check id (the registry is filled in by the checks helper)."""
