"""Settings that switch code on and off: what a guard evaluates to by default and in the documented runs.

A script reads its knobs from the environment (`TTT_ENABLED = int(os.environ.get("TTT_ENABLED", "0"))`),
argparse defaults, or minified `getattr(args, "x", _C)` with `_C = False`. The folder may say how
it was run (golf.run_settings: README run blocks, shell scripts, env files, submission.json), and
the script itself may fix variables before reading them (`os.environ.setdefault("X", "1")`). A guard
is off *by default* when it is false with the code's defaults and the script's own settings, and
off *in the runs* when it is also false under every documented run config (RULES E8: dormant code
is off by default, off in the run command and silent in every log).

`on` is the set of knob names (lower-case) the logs print with a truthy value; such a knob's value
is unknown rather than its default. Nothing is run: values are folded from the syntax tree.
"""
from __future__ import annotations

import ast
from collections import defaultdict

from golf.run_settings import RunConfig

ENV_READS = {"os.environ.get", "os.getenv"}
ENV_WRITES = {"os.environ.setdefault"}


class Unknown(Exception):
    """A value that cannot be folded from the code alone."""


class Knobs:
    """Settings read from the environment (or argparse defaults), to tell dead code from live code."""

    def __init__(self, nodes: list[ast.AST], aliases: dict[str, str], constants: dict[str, object],
                 configs: list[RunConfig] | None = None):
        self.aliases, self.constants = aliases, constants
        self.configs = list(configs or [])
        self.exprs: dict[str, list[ast.expr]] = defaultdict(list)
        self.script_env: dict[str, str] = {}
        self._envs: dict[str, set[str]] = {}
        pending: list[tuple[str, ast.expr]] = []
        self._env_lines = {n.lineno for n in nodes if self._env_access(n)}
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                self._assignment(node, pending)
            elif isinstance(node, ast.Call) and _base_name(node.func) == "add_argument":
                self._argparse(node)
            elif isinstance(node, ast.Call) and self.dotted(node.func) in ENV_WRITES:
                self._script_setting(node.args)
        known = set(self.exprs)
        for key, value in pending:  # settings derived from other settings
            if key not in self.exprs and _reads(value) & known:
                self.exprs[key].append(value)

    def _assignment(self, node: ast.Assign | ast.AnnAssign, pending: list) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) != 1:
            return
        target = targets[0]
        if isinstance(target, ast.Subscript) and self._env_subscript(target):
            self._script_setting([target.slice, node.value])  # os.environ["X"] = "1"
        elif isinstance(target, (ast.Name, ast.Attribute)):
            key = target.id if isinstance(target, ast.Name) else target.attr
            if self._reads_env(node.value):
                self.exprs[key].append(node.value)
            else:
                pending.append((key, node.value))

    def _script_setting(self, args: list[ast.expr]) -> None:
        if len(args) > 1 and all(isinstance(a, ast.Constant) for a in args[:2]):
            self.script_env.setdefault(str(args[0].value), str(args[1].value))

    def _env_access(self, node: ast.AST) -> bool:
        return ((isinstance(node, ast.Call) and self.dotted(node.func) in ENV_READS)
                or (isinstance(node, ast.Subscript) and self._env_subscript(node)))

    def _env_subscript(self, node: ast.Subscript) -> bool:
        return self.dotted(node.value) == "os.environ"

    def _reads_env(self, node: ast.expr) -> bool:
        if not any(line in self._env_lines for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            return False  # most assignments: no environment read on their lines, no walk needed
        return any(self._env_access(n) for n in ast.walk(node))

    def _argparse(self, node: ast.Call) -> None:
        flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        long = [f for f in flags if f.startswith("--")]
        if not long:
            return
        key = long[0][2:].replace("-", "_")
        keywords = {k.arg: k.value for k in node.keywords}
        if "default" in keywords:
            self.exprs[key].append(keywords["default"])
        elif isinstance(keywords.get("action"), ast.Constant) and keywords["action"].value == "store_true":
            self.exprs[key].append(ast.Constant(False))

    def dotted(self, node: ast.expr) -> str:
        path = _path(node) or ""
        head, _, rest = path.partition(".")
        head = self.aliases.get(head, head)
        return f"{head}.{rest}" if rest else head

    def envs(self, key: str) -> set[str]:
        """Environment variables the setting `key` is read from."""
        if key not in self._envs:
            self._envs[key] = {name for value in self.exprs.get(key, []) for name in self._env_keys(value)}
        return self._envs[key]

    def _env_keys(self, node: ast.AST) -> set[str]:
        found = set()
        for n in ast.walk(node):
            if isinstance(n, ast.Call) and self.dotted(n.func) in ENV_READS and n.args:
                if isinstance(n.args[0], ast.Constant):
                    found.add(str(n.args[0].value))
            elif isinstance(n, ast.Subscript) and self._env_subscript(n) and isinstance(n.slice, ast.Constant):
                found.add(str(n.slice.value))
        return found

    # Folding values.

    def value(self, node: ast.expr, on: frozenset[str], env: dict[str, str] | None = None, depth: int = 0):
        """The value `node` has when no knob in `on` is set and the environment is `env`; Unknown otherwise."""
        if depth > 20:
            raise Unknown
        v = lambda n: self.value(n, on, env, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._setting(node, on, v)
        if isinstance(node, ast.Subscript) and self._env_subscript(node) and isinstance(node.slice, ast.Constant):
            return self._environment(str(node.slice.value), None, on, env, v, required=True)
        if isinstance(node, ast.Call):
            return self._call_value(node, on, env, v)
        if isinstance(node, ast.Compare):
            return _fold_compare(node, v)
        if isinstance(node, ast.BoolOp):
            return _fold_boolop(node, v)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            operand = v(node.operand)
            return not operand if isinstance(node.op, ast.Not) else -operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)):
            return _fold_binop(node, v)
        if isinstance(node, ast.IfExp):
            return v(node.body) if v(node.test) else v(node.orelse)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return tuple(v(e) for e in node.elts)
        raise Unknown

    def _setting(self, node: ast.Name | ast.Attribute, on: frozenset[str], v):
        key = node.id if isinstance(node, ast.Name) else node.attr
        if isinstance(node, ast.Name) and key not in self.exprs and key in self.constants:
            return self.constants[key]
        if key.lower() in on or key not in self.exprs:
            raise Unknown
        values = {repr(v(e)) for e in self.exprs[key]}
        if len(values) != 1:
            raise Unknown
        return v(self.exprs[key][0])

    def _environment(self, key: str, default: ast.expr | None, on, env, v, required: bool = False):
        if key.lower() in on:
            raise Unknown
        for source in (env or {}, self.script_env):
            if key in source:
                if source[key].startswith("$"):
                    raise Unknown
                return source[key]
        if default is None and required:
            raise Unknown
        return v(default) if default is not None else None

    def _call_value(self, node: ast.Call, on: frozenset[str], env, v):
        dotted = self.dotted(node.func)
        if dotted in ENV_READS and node.args and isinstance(node.args[0], ast.Constant):
            default = node.args[1] if len(node.args) > 1 else None
            return self._environment(str(node.args[0].value), default, on, env, v)
        if dotted == "getattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            key = str(node.args[1].value)
            return v(node.args[2]) if key not in self.exprs and len(node.args) > 2 else v(ast.Name(key))
        if dotted in {"int", "float", "bool", "str"} and len(node.args) == 1:
            try:
                return {"int": _to_int, "float": float, "bool": bool, "str": str}[dotted](v(node.args[0]))
            except (TypeError, ValueError):
                raise Unknown from None
        if isinstance(node.func, ast.Attribute) and node.func.attr in {"lower", "upper", "strip"}:
            base = v(node.func.value)
            if isinstance(base, str):
                return getattr(base, node.func.attr)()
        raise Unknown

    # Guards.

    def off(self, guard: tuple, on: frozenset[str], env: dict[str, str] | None = None) -> bool:
        """True when the guarded code cannot run with the default settings (or those of `env`)."""
        node, positive, kind = guard
        try:
            if isinstance(node, (ast.For, ast.AsyncFor)):
                iterator = node.iter
                if isinstance(iterator, ast.Call) and _base_name(iterator.func) == "range" and iterator.args:
                    bounds = [self.value(a, on, env) for a in iterator.args]
                    return len(range(*[int(b) for b in bounds])) == 0
                return False
            return bool(self.value(node, on, env)) != positive
        except (Unknown, TypeError, ValueError, OverflowError):
            return False

    def off_in_runs(self, guard: tuple, on: frozenset[str]) -> bool:
        """Off by default and under every documented run config."""
        return self.off(guard, on) and all(self.off(guard, on, config.env) for config in self.configs)

    def switched_on_by(self, guard: tuple, on: frozenset[str]) -> str:
        """`README.md:12 sets SLOT_ENABLED=1` for the first run config under which an off guard is on."""
        keys = self.keys_in(guard[0])
        for config in self.configs:
            if not self.off(guard, on, config.env):
                set_keys = sorted(key for key in keys if key in config.env)
                if set_keys:
                    key = set_keys[0]
                    return f"{config.where[key]} sets {key}={config.env[key]}"
        return ""

    def keys_in(self, node: ast.AST) -> set[str]:
        names = set()
        for n in ast.walk(node):
            key = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None
            if key in self.exprs:
                names |= self.envs(key) or {key}
            names |= self._env_keys(n) if isinstance(n, (ast.Call, ast.Subscript)) else set()
        return names


def _to_int(value) -> int:
    return int(float(value)) if isinstance(value, str) and "." in value else int(value)


def _fold_compare(node: ast.Compare, v) -> bool:
    left = v(node.left)
    for op, right_node in zip(node.ops, node.comparators):
        right = v(right_node)
        if not _compare(op, left, right):
            return False
        left = right
    return True


def _fold_boolop(node: ast.BoolOp, v):
    unknown, value = False, None
    for operand in node.values:
        try:
            value = v(operand)
        except Unknown:
            unknown = True
            continue
        if bool(value) == isinstance(node.op, ast.Or):
            return value
    if unknown:
        raise Unknown
    return value


def _fold_binop(node: ast.BinOp, v):
    left, right = v(node.left), v(node.right)
    try:
        return {ast.Add: lambda: left + right, ast.Sub: lambda: left - right, ast.Mult: lambda: left * right,
                ast.FloorDiv: lambda: left // right}[type(node.op)]()
    except Exception:
        raise Unknown from None


def _compare(op: ast.cmpop, left, right) -> bool:
    try:
        return {
            ast.Eq: lambda: left == right, ast.NotEq: lambda: left != right, ast.Gt: lambda: left > right,
            ast.GtE: lambda: left >= right, ast.Lt: lambda: left < right, ast.LtE: lambda: left <= right,
            ast.In: lambda: left in right, ast.NotIn: lambda: left not in right,
            ast.Is: lambda: left is right, ast.IsNot: lambda: left is not right,
        }[type(op)]()
    except (TypeError, KeyError):
        raise Unknown from None


def _path(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _base_name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _reads(node: ast.AST) -> set[str]:
    """Names and attributes a value reads, and settings read as `getattr(args, "slot_enabled", False)`."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, ast.Attribute):
            found.add(n.attr)
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "getattr" and len(n.args) > 1
              and isinstance(n.args[1], ast.Constant)):
            found.add(str(n.args[1].value))
    return found
