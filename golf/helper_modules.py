"""Python modules a script imports from its own folder, decoded like the script, for the analysis.

A submission may keep its n-gram cache or its evaluation loop in `ngram_cache.py` beside
`train_gpt.py` and import it; the compliance analysis (golf.analysis) walks those modules with
the script, following imports transitively. Nothing is imported or run.
"""
from __future__ import annotations

from pathlib import Path

from golf.findings import InputError
from golf.source import DecodedSource, SourceError, decode_file, runtime_code_files

MAX_HELPER_MODULES = 20


def helper_modules(script: DecodedSource, root: Path, files, script_name: str | None = None) -> list[tuple[str, DecodedSource]]:
    """(path relative to the folder, decoded source) for each `.py` module the script imports, at any depth."""
    if not any(name.endswith(".py") and name != script_name for name in files):
        return []   # nothing to import: skip the walk over the script
    found: dict[str, DecodedSource] = {}
    pending = [script]
    while pending and len(found) < MAX_HELPER_MODULES:
        source = pending.pop()
        for name, _, _ in runtime_code_files(source, root, script_name):
            if name.endswith(".py") and name in files and name not in found:
                decoded = _decode(Path(root) / name)
                if decoded is not None and decoded.tree is not None:
                    found[name] = decoded
                    pending.append(decoded)
    return sorted(found.items())


def _decode(path: Path) -> DecodedSource | None:
    try:
        return decode_file(path)
    except (InputError, SourceError):
        return None
