"""README.md and docs/*.md stay true: the front page fits its budget, every relative link (and
#anchor) resolves, every command they quote parses, and the YAML they quote is a valid workflow
or pre-commit configuration.

"Parses" means what the command line itself would accept, without running anything: each
`python tools/X.py ...` and `golf-check ...` is handed to the tool's own argparse parser, which
is stopped right after a successful parse; `make T` needs target T in the Makefile; `pip install`
needs the files and extras it names; `torchrun` the script; `python3 -c` code that compiles.
Synopses with `[...]`, `|` or `…` are documentation of options, not commands, and are skipped.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from pre_commit.clientlib import load_config

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_BUDGET_LINES = 150
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
COMMAND_START = re.compile(r"(python3? |golf-check(\s|$)|make )")
SYNOPSIS = re.compile(r"[\[|…]")
ACTION_INPUTS = set(yaml.safe_load((REPO / "action.yml").read_text())["inputs"])


def prose(text: str) -> str:
    return FENCE.sub("", text)


def blocks(language: str) -> list[tuple[Path, str]]:
    return [(page, body) for page in PAGES for lang, body in FENCE.findall(page.read_text()) if lang == language]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in prose(page.read_text()).splitlines() if line.startswith("#")}


def test_the_readme_front_page_fits_its_budget():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_BUDGET_LINES, f"README.md has {len(lines)} lines; move depth to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


# --- commands -----------------------------------------------------------------------------------


def quoted_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) for every command in a bash block, and every inline command that is not a synopsis."""
    found = []
    for page, body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                found.append((f"{page.name}: {line.strip()}", argv))
    for page in PAGES:
        for span in INLINE.findall(prose(page.read_text())):
            span = " ".join(span.split())
            if COMMAND_START.match(span) and not SYNOPSIS.search(span):
                found.append((f"{page.name}: `{span}`", shlex.split(span)))
    return found


def without_environment(argv: list[str]) -> list[str]:
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):
        argv = argv[1:]
    return argv


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))


def pip_install_problem(args: list[str]) -> str | None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    if args[:1] != ["install"]:
        return f"pip {' '.join(args)}: only pip install is quoted"
    for index, arg in enumerate(args[1:], 1):
        if arg == "-r" and not (REPO / args[index + 1]).exists():
            return f"pip install -r {args[index + 1]}: no such file"
        match = re.fullmatch(r"\.(\[(?P<extras>[\w,-]+)\])?", arg)
        if match and match["extras"] and not set(match["extras"].split(",")) <= set(extras):
            return f"pip install {arg}: pyproject.toml has no such extra"
    return None


def classify(argv: list[str]) -> tuple[str, list[str]] | str | None:
    """('tool', [path, *args]) for the parser harness, a problem string, or None when it is fine."""
    name, args = argv[0], argv[1:]
    if name == "make":
        missing = [target for target in args if target not in makefile_targets()]
        return f"make: no target {missing} in the Makefile" if missing else None
    if name == "golf-check":
        return ("tool", ["golf/check_cli.py", *args])
    if name == "pip":
        return pip_install_problem(args)
    if name == "torchrun":
        script = next((arg for arg in args if arg.endswith(".py")), None)
        return None if script and (REPO / script).exists() else f"torchrun: no script {script}"
    if name in ("python", "python3"):
        if args[:1] == ["-c"]:
            compile(args[1], "<quoted>", "exec")
            return None
        if args[:2] == ["-m", "pip"]:
            return pip_install_problem(args[2:])
        if args[:2] == ["-m", "venv"]:
            return None
        if args and args[0].startswith("tools/") and (REPO / args[0]).exists():
            return ("tool", args)
    return f"a command the docs check does not know: {' '.join(argv)}"


HARNESS = r"""
import argparse, contextlib, io, json, runpy, sys
sys.path.insert(0, ".")
class Parsed(Exception):
    pass
original = argparse.ArgumentParser.parse_args
def parse_then_stop(self, args=None, namespace=None):
    original(self, args, namespace)
    raise Parsed()
argparse.ArgumentParser.parse_args = parse_then_stop
outcomes = []
for argv in json.load(sys.stdin):
    sys.argv, captured = list(argv), io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(captured):
            runpy.run_path(argv[0], run_name="__main__")
        outcomes.append("returned without parsing its arguments")
    except Parsed:
        outcomes.append("parsed")
    except SystemExit as stop:
        code = stop.code or 0
        outcomes.append("parsed" if code == 0 else f"exit {code}: {captured.getvalue().strip()[-300:]}")
    except Exception as error:
        outcomes.append(f"{type(error).__name__}: {error}")
print(json.dumps(outcomes))
"""


def parse_with_the_tools(commands: list[list[str]]) -> list[str]:
    """Each [tool path, *args] through the tool's own parser, in one process, nothing run past the parse."""
    done = subprocess.run([sys.executable, "-c", HARNESS], input=json.dumps(commands), cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_every_quoted_command_parses_and_every_tool_answers_help():
    commands = quoted_commands()
    assert len(commands) > 20, "the docs quote fewer commands than expected: is the extraction broken?"
    problems, for_tools = [], []
    for where, argv in commands:
        verdict = classify(without_environment(argv))
        if isinstance(verdict, tuple):
            for_tools.append((where, verdict[1]))
        elif verdict:
            problems.append(f"{where}: {verdict}")
    tools = sorted({argv[0] for _, argv in for_tools})
    checks = for_tools + [(f"{tool} --help", [tool, "--help"]) for tool in tools]
    outcomes = parse_with_the_tools([argv for _, argv in checks])
    problems += [f"{where}: {outcome}" for (where, _), outcome in zip(checks, outcomes) if outcome != "parsed"]
    assert problems == []
    assert "golf/check_cli.py" in tools and "tools/make_record.py" in tools


def test_every_quoted_bash_block_is_valid_shell():
    for page, body in blocks("bash"):
        result = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
        assert result.returncode == 0, f"{page.name}: {result.stderr}"


# --- quoted configuration ---------------------------------------------------------------------------


def test_every_quoted_workflow_is_valid_and_uses_the_actions_real_inputs(tmp_path):
    workflows = [(page, body) for page, body in blocks("yaml") if "jobs:" in body]
    assert {page.name for page, _ in workflows} >= {"README.md", "ci.md"}
    for index, (page, body) in enumerate(workflows):
        path = tmp_path / f"workflow{index}.yml"
        path.write_text(body)
        result = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                                 "vendor.github-workflows", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{page.name}: {result.stdout}{result.stderr}"
        steps = [step for job in yaml.safe_load(body)["jobs"].values() for step in job["steps"]]
        ours = [step for step in steps if "golf-harness" in step.get("uses", "")]
        assert ours and all(set(step.get("with", {})) <= ACTION_INPUTS for step in ours), page.name
        checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout"))
        assert checkout["with"]["fetch-depth"] == 0, f"{page.name}: --changed needs the base's history"


def test_every_quoted_pre_commit_config_is_valid_and_names_our_hook(tmp_path):
    configs = [(page, body) for page, body in blocks("yaml") if "repos:" in body]
    assert configs
    hook_ids = {hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    for index, (page, body) in enumerate(configs):
        path = tmp_path / f"pre-commit-config{index}.yaml"
        path.write_text(body)
        config = load_config(str(path))
        assert {hook["id"] for repo in config["repos"] for hook in repo["hooks"]} <= hook_ids, page.name
