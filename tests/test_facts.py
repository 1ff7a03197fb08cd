"""golf.facts sits below the rules and the runner: imports run checks -> rules -> facts, never back.

Read from the source with ast, so a function-level import breaks the test as a top-level one does.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from golf.facts import Context, Sota, plural, where

GOLF = Path(__file__).resolve().parent.parent / "golf"
BELOW_THE_RUNNER = sorted(GOLF.glob("rules/*.py")) + [GOLF / "facts.py"]


def imported_modules(tree: ast.AST) -> dict[str, int]:
    """Every golf module a file imports, anywhere in it, with the line of the import."""
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            found.setdefault(name, node.lineno)
    return found


def typing_only_lines(tree: ast.AST) -> set[int]:
    """Lines of imports under `if TYPE_CHECKING:`, which never run."""
    return {child.lineno for node in ast.walk(tree)
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for statement in node.body for child in ast.walk(statement) if hasattr(child, "lineno")}


@pytest.mark.parametrize("path", BELOW_THE_RUNNER, ids=lambda path: path.relative_to(GOLF).as_posix())
def test_rules_and_facts_never_import_the_runner(path):
    imports = imported_modules(ast.parse(path.read_text()))
    assert "golf.checks" not in imports, f"{path.name}:{imports.get('golf.checks')} imports golf.checks"


def test_facts_never_import_the_rules():
    imports = imported_modules(ast.parse((GOLF / "facts.py").read_text()))
    assert not [name for name in imports if name == "golf.rules" or name.startswith("golf.rules.")], imports


def test_analysis_reads_context_only_for_typing():
    tree = ast.parse((GOLF / "analysis.py").read_text())
    imports, typing_only = imported_modules(tree), typing_only_lines(tree)
    assert "golf.checks" not in imports and "golf.rules" not in imports
    assert imports.get("golf.facts", 0) in typing_only | {0}, f"analysis.py:{imports['golf.facts']} imports golf.facts"


def test_facts_are_usable_without_the_runner():
    assert plural(1, "seed") == "1 seed" and plural(3, "seed") == "3 seeds"
    assert where(None) == ""
    assert Sota("x", 1.0).val_bpbs == () and Context.__dataclass_fields__.keys() >= {"record", "policy", "sota"}
