"""The program model every compliance rule reads (RULES §4): what the decoded script does with data.

`analyse(context)` builds it once per record folder from the *decoded* script (golf.source) and
the Python modules it imports from its own folder, never from the raw text, so packed submissions
are judged on what they run. Verdicts follow data, not names: a renamed variable, function or
parameter changes no flag. Values carry flags, propagated through assignments, attributes,
containers, slices and gathers, calls (arguments to parameters, returns to results) and
`model(x)` into `forward`:

- VAL / TRAIN: read from the validation / training files (a `fineweb_val_*` glob, an env key such
  as VAL_FILES, a loader asked for the "val" split, or a run command that points TRAIN_FILES there);
- LOSS: a loss or log-probability (`cross_entropy`, `log_softmax`, `log` of data);
- HKEY: a hash of stream tokens, a context key (`h ^= tok * P` in a loop, `a*P ^ b*Q`);
- TGT: the token being predicted: the next-token slice of a stream (`tokens[1:]`, `chunk[s + 1:e + 1]`),
  or a context key extended by one more stream token (`ctx ^ tok * P` into a new value): the full
  n-gram key;
- CNT: a count table (`table[k] += 1`, `np.add.at`, `index_add_`, `bincount`, `d[k] = d.get(k, 0) + 1`);
- OPTZ: an optimizer (`torch.optim.*`, or a class deriving from `Optimizer`);
- BYTES: byte lengths of token pieces (`len(piece.encode())` and tables of them);
- HOLD / CAL: an object holding validation data; the output of a routine with forward hooks.

Events, in source order with their loops and `if` guards: backward passes (BW), optimizer steps
(STEP) and constructions (OPT), scores (ACC: a loss on validation data accumulated into a value
that reaches a return, a reported `val_loss`/`val_bpb` line or the caller), count-table writes
(UPD), reads of a count table keyed with TGT (LEAK), per-token losses divided by byte counts
(SPREAD), selections by loss (SELECT), calibration, artifact writes, network calls and reads of
training data. `Analysis.site` gives any node its loops and guards, for rules with shapes of their own.

What ran (golf.knobs, golf.print_sites): code gated by a knob is live when the knob is on by
default or in a documented run config, and has run when a log holds a line that only its own
print sites produce; otherwise it is dead code, reported as INFO (RULES E8).

Nothing from the submission is imported or run; only its syntax tree is read.
"""
from __future__ import annotations

import ast
import builtins
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from golf import print_sites
from golf.findings import FAIL, INFO, PASS, WARN, Finding, InputError
from golf.knobs import Knobs
from golf.helper_modules import helper_modules
from golf.run_settings import RunConfig, run_configs
from golf.source import DecodedSource

POLICIES = ("strict", "competition")

# Flags carried by values: a value's own in the low half, those it got through parameters in the
# high half, so a call's result is its callee's own return flags plus what *this* call passes through.
VAL = 1 << 0
TRAIN = 1 << 1
TGT = 1 << 2
HOLD = 1 << 3
CAL = 1 << 4
HKEY = 1 << 5
LOSS = 1 << 6
CNT = 1 << 7
OPTZ = 1 << 8
BYTES = 1 << 9
SHIFT = 16
LOW = (1 << SHIFT) - 1
DATA = VAL | TRAIN | CAL | HOLD
STREAM = VAL | TRAIN
NOT_TOKEN = LOSS | BYTES | CNT | OPTZ  # data-derived, but no longer a token id


def _eff(flags: int) -> int:
    """Own and parameter-borne flags together."""
    return (flags | (flags >> SHIFT)) & LOW


def _both(bits: int) -> int:
    return bits | (bits << SHIFT)


_VAL_FILE = re.compile(r"fineweb_val_|(?:^|[/_])val(?:id|idation)?_(?:\*|\d{3,})")
_TRAIN_FILE = re.compile(r"fineweb_train_|(?:^|[/_])train_(?:\*|\d{3,})")
_VAL_ENV = re.compile(r"^VAL(?:ID|IDATION)?_(?:FILES?|PATH|PATTERN|DATA|SHARDS?|DIR|GLOB)$")
_TRAIN_ENV = re.compile(r"^TRAIN_(?:FILES?|PATH|PATTERN|DATA|SHARDS?|DIR|GLOB)$")
_SPLIT_NAMES = {"val": VAL, "valid": VAL, "validation": VAL, "train": TRAIN}
_METRIC = re.compile(r"val_(?:loss|bpb)|\bbpb\b|bits.per.byte", re.IGNORECASE)
_LOSS_FUNCTIONS = {"cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                   "kl_div"}
_LOG_FUNCTIONS = {"log_softmax", "logsumexp", "log", "log2", "log10", "log1p"}
_CASTS = {"long", "int", "to", "view", "reshape", "unsqueeze", "squeeze", "flatten", "contiguous", "item", "cpu",
          "cuda", "numpy", "tolist", "clone", "expand", "type", "as_tensor", "asarray", "tensor", "astype",
          "float", "double", "detach", "ravel"}
_HASH_CALLS = {"bitwise_xor", "bitwise_or"}
_COUNTING = {"bincount", "Counter"}
_ACCUMULATING_METHODS = {"index_add_", "scatter_add_", "index_add", "scatter_add"}
_ACCUMULATE_KEYWORD = {"index_put_", "put_", "index_put"}
_MUTATORS = {"append", "extend", "update", "add_", "copy_", "index_add_", "scatter_add_", "scatter_", "index_put_",
             "put_", "insert", "setdefault", "index_copy_", "masked_scatter_", "register_buffer"}
_LOOKUPS = {"gather", "index_select", "take_along_dim", "get", "take"}
_SAVES = {"torch.save", "pickle.dump", "pickle.dumps", "numpy.save", "numpy.savez", "numpy.savez_compressed",
          "safetensors.torch.save_file", "torch.jit.save"}
# Sizes and fresh tensors carry no data from what they were measured on: an adapter of shape
# (len(docs), rank) holds no validation tokens.
_SHAPE_ONLY = {"len", "numel", "nelement", "size", "shape", "ndim", "dim", "dtype", "device"}
_FACTORIES = {"empty", "zeros", "ones", "full", "rand", "randn", "randint", "arange", "eye", "linspace",
              "empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like"}
_SELECTIONS = {"argmin", "argmax", "minimize", "minimize_scalar"}
_WRAPPERS = {"compile", "DistributedDataParallel", "DDP", "deepcopy", "DataParallel", "FSDP",
             "FullyShardedDataParallel"}
_HASH_OPS = (ast.BitXor, ast.Mod, ast.BitAnd, ast.LShift, ast.RShift, ast.Mult, ast.Add, ast.BitOr)
_MIXING_OPS = (ast.BitXor, ast.BitOr, ast.Add, ast.Mult)
_NETWORK_PREFIXES = ("requests.", "urllib.request.", "urllib3.", "http.client.", "httpx.", "aiohttp.",
                     "huggingface_hub.", "datasets.load_dataset", "torch.hub.", "wget.", "ftplib.", "gdown.",
                     "socket.create_connection", "socket.socket", "socket.getaddrinfo", "socket.gethostbyname",
                     "boto3.", "paramiko.")
NETWORK_MODULES = ("requests", "urllib.request", "urllib3", "http.client", "httpx", "aiohttp", "huggingface_hub",
                    "wget", "ftplib", "gdown", "boto3", "paramiko")
_SHELL_NETWORK = re.compile(r"\b(curl|wget|aria2c|huggingface-cli|hf\s+download|git\s+(clone|pull|fetch)|"
                            r"pip\s+install|scp|rsync)\b|https?://")
_SHELL_CALLS = {"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
                "subprocess.Popen", "os.system", "os.popen"}
_SEPARATOR = re.compile(r"(?m)^\s*={20,}\s*$")
_FALSY = {"0", "0.0", "false", "none", "off", "no", ""}
# A `name:value` or `name=value` settings token in a log.
_SETTING = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*[:=]\s*['\"]?([\w.+-]+)")
_BUILTINS = frozenset(dir(builtins))


def _constant_flags(value) -> int:
    if isinstance(value, str):
        return (VAL if _VAL_FILE.search(value) else 0) | (TRAIN if _TRAIN_FILE.search(value) else 0)
    return 0


def _env_key_flags(key: str) -> int:
    return (VAL if _VAL_ENV.match(key) else 0) | (TRAIN if _TRAIN_ENV.match(key) else 0)


def _split_request(node: ast.Call) -> int:
    """`read_split("val")`, `load(split="train")`: a loader asked for a split by name returns that split."""
    flags = 0
    for value in (*node.args, *(keyword.value for keyword in node.keywords)):
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            flags |= _SPLIT_NAMES.get(value.value.lower(), 0)
    return flags


def _path(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _root(node: ast.expr | None) -> str | None:
    while node is not None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            return None
    return None


def base_name(node: ast.expr) -> str:
    """The name a reader would call this object: `self.counts` -> counts, `logits.float()` -> logits."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return base_name(node.value)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr in _CASTS:
            return base_name(node.func.value)
        return base_name(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else ""
    return ""


@lru_cache(maxsize=1 << 16)
def names_in(node: ast.AST | None) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) if node is not None else frozenset()


def _mentions_metric(node: ast.AST) -> bool:
    """A format string or constant that prints a validation score (`val_bpb`, `bpb=`): an f-string, or
    a call given one (`log(f"...")`, `"...{}".format(x)`, `"... %f" % x` as an argument)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and _METRIC.search(v.value) for v in node.values)
    if isinstance(node, ast.Call):
        parts = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            parts.append(node.func.value)
        parts += [p.left for p in parts if isinstance(p, ast.BinOp)]
        return any(isinstance(p, ast.Constant) and isinstance(p.value, str) and _METRIC.search(p.value) for p in parts)
    return False


# --- program model -------------------------------------------------------------------------------


@dataclass(eq=False)
class Event:
    """Something a rule looks at, with where it sits: loops and `if` guards inside its function."""

    kind: str
    line: int
    col: int
    func: "Function"
    loops: tuple
    guards: tuple           # ((test or loop node, positive branch?, kind), ...)
    flags: int = 0          # effective flags (own and parameter-borne)
    own: int = 0            # flags from data read in this function itself
    nograd: bool = False
    callees: tuple = ()
    names: frozenset = frozenset()
    targets: tuple = ()
    what: str = ""
    node: ast.AST | None = None


@dataclass(eq=False)
class Function:
    """One `def` (or a module body, or a class body) and what the walker learned about it."""

    name: str
    node: ast.AST
    parent: "Function | None"
    params: list
    is_method: bool = False
    kind: str = "def"       # def | module | class
    source: str = ""        # the file it is written in
    owner: str = ""         # the class a method belongs to
    param_flags: dict = field(default_factory=lambda: defaultdict(int))
    mutates: dict = field(default_factory=lambda: defaultdict(int))
    returns: int = 0
    events: list = field(default_factory=list)
    trainable: set = field(default_factory=set)
    refs: list = field(default_factory=list)             # (referencing function, its guards there)
    referenced: list = field(default_factory=list)       # functions whose refs name this one
    nodes: list = field(default_factory=list)            # its own nodes, not those of defs inside it
    final_env: dict = field(default_factory=dict)
    defs: dict = field(default_factory=dict)             # name -> names its assigned values read
    conditions: dict = field(default_factory=dict)       # name -> names, for `last = ep == n - 1` and aliases
    sinks: frozenset = frozenset()                       # names whose values leave: returned, reported, passed out
    returned: frozenset = frozenset()                    # names whose values reach a return
    reported: frozenset = frozenset()                    # names whose values reach a printed val_loss/val_bpb
    out_calls: set = field(default_factory=set)          # ("return" | "report", id of a call node) used directly

    def reaching(self, names, edges: dict | None = None) -> set[str]:
        """`names` and every name their assigned values read, within this function (flow-insensitive)."""
        edges = self.defs if edges is None else edges
        found, pending = set(), list(names)
        while pending:
            name = pending.pop()
            if name not in found:
                found.add(name)
                pending.extend(edges.get(name, ()))
        return found


class Program:
    """All functions of a script and its helper modules, walked to a fixed point of the flags."""

    def __init__(self, modules: list[tuple[str, ast.Module]], configs: list[RunConfig] | None = None):
        self.configs = list(configs or [])
        self.modules = [Function("<module>", tree, None, [], kind="module", source=name) for name, tree in modules]
        self.module = self.modules[0]
        self.functions: list[Function] = list(self.modules)
        self.by_name: dict[str, list[Function]] = defaultdict(list)
        self.classes: dict[str, list[Function]] = defaultdict(list)
        self.class_nodes: dict[str, ast.ClassDef] = {}
        self.class_attrs: dict[str, int] = defaultdict(int)   # attribute name -> flags stored into it
        self._mentions: dict[int, set[str]] = {}
        for module in self.modules:
            self._collect(module.node.body, module, None)
        self.nodes = self._index_nodes()
        self.aliases = _import_aliases(self.nodes)
        self.constants = {k: v for m in self.modules for k, v in _module_constants(m.node, m.nodes).items()}
        self.true_names = frozenset(name for name, value in self.constants.items() if value is True)
        self.helper_modules = {module.source.removesuffix(".py").replace("/", "."): module for module in self.modules[1:]}
        self.optimizer_classes = self._optimizer_classes()
        self.module_attrs = self._module_attributes()
        inner = {id(f) for forwards in self.module_attrs.values() for f in forwards}
        self.module_classes = {f.owner for f in self.by_name.get("forward", []) if f.is_method}
        self.models = [f for f in self.by_name.get("forward", []) if f.is_method and id(f) not in inner]
        self.helper_imports = {alias.asname or alias.name: self.imported(node) for node in self.module.nodes
                               if isinstance(node, ast.ImportFrom) for alias in node.names if self.imported(node)}
        self.hooking: set[int] = set()
        self.by_id = {id(f): f for f in self.functions}
        self.callers_of: dict[int, list[Function]] = defaultdict(list)   # callee -> functions with a call to it
        self.touched: set[int] = set()   # functions whose parameters the current walk gave new flags
        self.grown: set[str] = set()     # attributes the current walk stored new flags into
        for function in self.functions:
            _prepare(function)
        self._walk_to_fixed_point()

    def _walk_to_fixed_point(self, rounds: int = 12) -> None:
        """Walk every function, then, round by round, each one whose inputs changed after its last walk
        began: its parameters (a caller passed new flags), what its callees return or mutate, its
        enclosing scopes, the attributes of objects it reads, or which of its callees install hooks.
        Callers come first in a round (they are defined last), so parameters flow down within it."""
        order = [*self.modules, *reversed(self.functions[len(self.modules):])]
        clock, began, changed_at = 0, {}, {id(f): 0 for f in order}
        for _ in range(rounds):
            dirty = [f for f in order if changed_at.get(id(f), -1) >= began.get(id(f), -1)]
            if not dirty:
                return
            for function in dirty:
                clock += 1
                began[id(function)] = clock
                for other in self._walk(function):
                    changed_at[id(other)] = clock

    def _walk(self, function: Function) -> list[Function]:
        """Walk one function; the functions whose inputs that walk changed."""
        results = (function.returns, dict(function.mutates))
        scope = dict(function.final_env)
        self.touched, self.grown = set(), set()
        had_hook = any(e.kind == "HOOK" for e in function.events)
        _Walker(self, function).run()
        affected = [self.by_id[i] for i in self.touched]
        if (function.returns, dict(function.mutates)) != results:
            affected += self.callers_of[id(function)]
        if function.kind == "class":
            for name, flags in function.final_env.items():
                if flags and self.class_attrs[name] | flags != self.class_attrs[name]:
                    self.class_attrs[name] |= flags
                    self.grown.add(name)
        changed = {name for name, flags in function.final_env.items() if scope.get(name) != flags}
        if changed:
            affected += [f for f in self.functions if _inside(f, function) and changed & self._read(f)]
        if self.grown:
            affected += [f for f in self.functions if self.grown & self._read(f)]
        if any(e.kind == "HOOK" for e in function.events) != had_hook:
            self.hooking = self._closure(lambda f: any(e.kind == "HOOK" for e in f.events))
            affected += [source for f in self.functions if id(f) in self.hooking for source, _ in f.refs]
        return affected

    def _closure(self, direct: Callable[[Function], bool]) -> set[int]:
        """Functions for which `direct` holds, and those that call them (from the last walk's events)."""
        found = {id(f) for f in self.functions if direct(f)}
        changed = True
        while changed:
            changed = False
            for f in self.functions:
                if id(f) not in found and any(e.kind == "CALL" and any(id(c) in found for c in e.callees) for e in f.events):
                    found.add(id(f))
                    changed = True
        return found

    def _collect(self, body: list, parent: Function, cls: str | None) -> None:
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = statement.args
                params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                params += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
                function = Function(statement.name, statement, parent, params, is_method=cls is not None,
                                    source=parent.source, owner=cls or "")
                self.functions.append(function)
                self.by_name[statement.name].append(function)
                if cls:
                    self.classes[cls].append(function)
                self._collect(statement.body, function, None)
            elif isinstance(statement, ast.ClassDef):
                body_function = Function(f"<class {statement.name}>", statement, parent, [], kind="class",
                                         source=parent.source)
                self.functions.append(body_function)
                self.classes[statement.name].append(body_function)
                self.class_nodes[statement.name] = statement
                self._collect(statement.body, parent, statement.name)
            else:
                for field_name in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(statement, field_name, None)
                    if isinstance(children, list):
                        self._collect(children, parent, cls)

    def _read(self, function: Function) -> set[str]:
        """Names and attribute names a function reads: what a changed scope or object can reach."""
        if id(function) not in self._mentions:
            self._mentions[id(function)] = {n.id if isinstance(n, ast.Name) else n.attr for n in function.nodes
                                            if isinstance(n, (ast.Name, ast.Attribute)) and isinstance(n.ctx, ast.Load)}
        return self._mentions[id(function)]

    def _index_nodes(self) -> list[ast.AST]:
        """Every node once, each filed under the function whose body holds it (one pass for all rules)."""
        owners = {id(f.node): f for f in self.functions}
        for module in self.modules:
            pending = [(child, module) for child in ast.iter_child_nodes(module.node)]
            while pending:
                node, owner = pending.pop()
                inner = owners.get(id(node))
                if inner is None:
                    owner.nodes.append(node)
                pending.extend((child, inner or owner) for child in ast.iter_child_nodes(node))
        return [node for function in self.functions for node in function.nodes]

    def _optimizer_classes(self) -> set[str]:
        """Classes of the script that derive (at any depth) from an `Optimizer`."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, node in self.class_nodes.items():
                bases = {self.dotted(base).rsplit(".", 1)[-1] for base in node.bases}
                if name not in found and ("Optimizer" in bases or bases & found):
                    found.add(name)
                    changed = True
        return found

    def _module_attributes(self) -> dict[str, list[Function]]:
        """`self.blocks = nn.ModuleList([Block(...) ...])`: attribute -> the forward methods it can call."""
        attrs: dict[str, list[Function]] = defaultdict(list)
        for node in self.nodes:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                built = [self.forward_of(n.func) for n in ast.walk(node.value) if isinstance(n, ast.Call)]
                forwards = [f for found in built for f in found]
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and forwards:
                        attrs[target.attr] += [f for f in forwards if f not in attrs[target.attr]]
        return attrs

    def forward_of(self, func: ast.expr) -> list[Function]:
        """The forward method of a class of the script that `func` constructs."""
        if isinstance(func, ast.Name) and func.id in self.classes:
            return [f for f in self.classes[func.id] if f.name == "forward"]
        return []

    def imported(self, node: ast.Import | ast.ImportFrom) -> list[tuple[Function, int]]:
        """What `from helper import f` makes callable: f; or, where the module has no such name, all of
        the helper's top-level functions, since which of them run cannot be told."""
        if isinstance(node, ast.ImportFrom):
            module = self.helper_modules.get(node.module or "")
            if module is None:
                return []
            top = [f for f in self.functions if f.parent is module and f.kind == "def" and not f.is_method]
            named = [f for f in top if f.name in {alias.name for alias in node.names}]
            return [(f, 0) for f in (named if len(named) == len(node.names) else top)]
        return []

    def inherited(self, owner: str, method: str) -> list[tuple[Function, int]]:
        """`super().method(...)` inside a class: that method of the script's base classes."""
        node = self.class_nodes.get(owner)
        bases = [base.id for base in getattr(node, "bases", []) if isinstance(base, ast.Name)]
        return [(f, 1) for base in bases for f in self.classes.get(base, []) if f.name == method]

    def dotted(self, node: ast.expr) -> str:
        path = _path(node)
        if not path:
            return node.attr if isinstance(node, ast.Attribute) else ""
        head, _, rest = path.partition(".")
        head = self.aliases.get(head, head)
        return f"{head}.{rest}" if rest else head

    def resolve(self, func: ast.expr) -> list[tuple[Function, int]]:
        """Functions of the script a call may reach, with 1 where `self` takes the first parameter."""
        if isinstance(func, ast.Name):
            if func.id in self.classes:
                return [(f, 1) for f in self.classes[func.id] if f.name == "__init__"]
            return [(f, 0) for f in self.by_name.get(func.id, []) if not f.is_method]
        if isinstance(func, ast.Attribute):
            module = self.helper_modules.get(self.dotted(func.value))
            if module is not None:
                return [(f, 0) for f in self.by_name.get(func.attr, []) if f.parent is module and not f.is_method]
            methods = [(f, 1) for f in self.by_name.get(func.attr, []) if f.is_method]
            return methods or [(f, 1) for f in self.module_attrs.get(func.attr, [])]
        if isinstance(func, ast.Subscript):
            attribute = func.value
            return [(f, 1) for f in self.module_attrs.get(attribute.attr, [])] if isinstance(attribute, ast.Attribute) else []
        return []


def _prepare(function: Function) -> None:
    """Def-use edges, and the names whose values leave the function, read once before the walk."""
    defs: dict[str, set[str]] = defaultdict(set)
    conditions: dict[str, set[str]] = defaultdict(set)
    stored, returned, reported = set(function.params), set(), set()
    for node in function.nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            read = names_in(node.value)
            condition = isinstance(node.value, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Name))
            for target in targets:
                for name in names_in(target):
                    defs[name] |= read
                    if condition:
                        conditions[name] |= read
                if isinstance(target, (ast.Attribute, ast.Subscript)):  # obj.attr = v: v leaves through obj
                    stored |= read
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            for name in names_in(node.target):
                defs[name] |= names_in(node.iter)
        elif isinstance(node, ast.NamedExpr):
            defs[node.target.id] |= names_in(node.value)
        elif isinstance(node, (ast.Return, ast.Yield)) and node.value is not None:
            returned |= names_in(node.value)
            function.out_calls |= {("return", id(n)) for n in ast.walk(node.value) if isinstance(n, ast.Call)}
        elif isinstance(node, (ast.Call, ast.JoinedStr)) and _mentions_metric(node):
            reported |= names_in(node)
            function.out_calls |= {("report", id(n)) for n in ast.walk(node) if isinstance(n, ast.Call) and n is not node}
    function.defs, function.conditions = defs, conditions
    function.returned = frozenset(function.reaching(returned))
    function.reported = frozenset(function.reaching(reported))
    function.sinks = frozenset(function.reaching(stored)) | function.returned | function.reported


def _inside(function: Function, scope: Function) -> bool:
    parent = function.parent
    while parent is not None:
        if parent is scope:
            return True
        parent = parent.parent
    return False


def _import_aliases(nodes: list[ast.AST]) -> dict[str, str]:
    aliases: dict[str, str] = {"np": "numpy"}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


class _Walker:
    """Walk one function body in order, tracking flags, loops, guards and no_grad blocks."""

    def __init__(self, program: Program, function: Function):
        self.p, self.f = program, function
        self.env: dict[str, int] = {name: (function.param_flags.get(name, 0) & LOW) << SHIFT for name in function.params}
        self.callables: dict[str, list[tuple[Function, int]]] = {}
        self.loops: list[ast.AST] = []
        self.guards: list[tuple] = []
        self.nograd = 0
        self.assigned_in: dict[str, ast.AST | None] = {}
        self.targets: tuple = ()
        self.counting: ast.AST | None = None   # the statement of a count update: its reads are no lookups
        self.seen: dict[tuple, Event] = {}
        self.ref_keys: set = set()
        self.repeat = 0
        self.loop_targets: set[str] = set()   # `for p in model.parameters(): p.requires_grad_()` is no new tensor
        self.loop_ends: dict[int, dict] = {}
        function.events, function.trainable = [], set()
        for target in function.referenced:
            target.refs = [ref for ref in target.refs if ref[0] is not function]
        function.referenced = []
        node = function.node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.nograd = int(any(_is_nograd(d) for d in node.decorator_list))

    def run(self) -> None:
        self.block(self.f.node.body)
        self.f.final_env = self.env

    # Events and references.

    def event(self, kind: str, node: ast.AST, flags: int = 0, **extra) -> Event:
        key = (kind, id(node))
        if key in self.seen:
            self.seen[key].flags |= _eff(flags)
            self.seen[key].own |= flags & LOW
            return self.seen[key]
        event = Event(kind, getattr(node, "lineno", 0), getattr(node, "col_offset", 0), self.f, tuple(self.loops),
                      tuple(self.guards), _eff(flags), flags & LOW, self.nograd > 0, node=node, **extra)
        self.seen[key] = event
        self.f.events.append(event)
        return event

    def ref(self, name: str, attribute: bool) -> None:
        targets: list[Function] = []
        if attribute:
            targets = [f for f in self.p.by_name.get(name, []) if f.is_method]
        elif name not in self.env:
            targets = [f for f in self.p.by_name.get(name, []) if not f.is_method] + self.p.classes.get(name, [])
        self.link([(target, 0) for target in targets])

    def link(self, callees) -> None:
        for target, _ in callees:
            key = (id(target), tuple(id(g[0]) for g in self.guards))
            if key not in self.ref_keys:
                self.ref_keys.add(key)
                target.refs.append((self.f, tuple(self.guards)))
                self.f.referenced.append(target)

    def lookup(self, name: str) -> int:
        if name in self.env:
            return self.env[name]
        scope = self.f.parent
        while scope is not None:
            if name in scope.final_env:
                return scope.final_env[name]
            scope = scope.parent
        return 0

    def mutate(self, root: str | None, flags: int) -> None:
        if root and flags:
            self.env[root] = self.env.get(root, 0) | flags
            if root in self.f.params:
                self.f.mutates[root] |= flags

    def write_into(self, container: ast.expr, flags: int) -> None:
        """Data written into a table or list: the attribute that holds it takes the flags (`self.counts[n]`
        -> counts) and its object is marked as holding validation data; a local name takes them itself."""
        node = container
        while isinstance(node, (ast.Subscript, ast.Call)) or (isinstance(node, ast.Attribute) and node.attr in _CASTS):
            node = node.value if not isinstance(node, ast.Call) else node.func
        if isinstance(node, ast.Attribute):
            self.store_attribute(node.attr, flags)
            self.mutate(_root(node), HOLD if _eff(flags) & VAL else 0)
        elif isinstance(node, ast.Name):
            self.mutate(node.id, flags)

    def store_attribute(self, attr: str, flags: int) -> None:
        """obj.attr = value: read back as obj.attr anywhere. Activations a module stashes on itself
        during a forward pass hold whatever data ran through it last, so they carry no data flags."""
        kept = _eff(flags) & ~HOLD
        if self.f.owner in self.p.module_classes:
            kept &= CNT | OPTZ
        if kept and self.p.class_attrs[attr] | kept != self.p.class_attrs[attr]:
            self.p.class_attrs[attr] |= kept
            self.p.grown.add(attr)

    def sink(self, root: str | None) -> bool:
        """The value held in `root` leaves this function: returned, reported, or held by the caller."""
        return bool(root) and root in self.f.sinks

    # Statements.

    def block(self, body: list) -> None:
        depth = len(self.guards)
        for statement in body:
            self.statement(statement)
            if (isinstance(statement, ast.If) and not statement.orelse and statement.body
                    and isinstance(statement.body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))):
                self.guards.append((statement.test, False, "exit"))
        del self.guards[depth:]

    def statement(self, s: ast.stmt) -> None:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in s.decorator_list:
                self.expr(decorator)
        elif isinstance(s, (ast.Assign, ast.AnnAssign)):
            if s.value is None:
                return
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            if _pairwise(targets, s.value):   # x, y = chunk[:-1], chunk[1:]: each name its own value
                for target, value in zip(targets[0].elts, s.value.elts):
                    self.assign(target, self.expr(value), value)
                return
            self.targets = tuple(n for t in targets for n in names_in(t))
            self.counting = s if any(_counts_into(t, s.value) for t in targets) else None
            flags = self.expr(s.value)
            self.targets, self.counting = (), None
            for target in targets:
                self.assign(target, flags, s.value)
        elif isinstance(s, ast.AugAssign):
            self.targets = tuple(names_in(s.target))
            flags = self.expr(s.value)
            self.targets = ()
            self.augassign(s, flags)
        elif isinstance(s, ast.Expr):
            self.expr(s.value)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.f.returns |= self.expr(s.value)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            flags = self.expr(s.iter) & ~_both(HKEY | TGT)
            self.loop_targets |= names_in(s.target)
            self.loop(s, (s, True, "loop"), lambda: (self.assign(s.target, flags, None), self.block(s.body)))
            self.block(s.orelse)
        elif isinstance(s, ast.While):
            self.expr(s.test)
            self.loop(s, (s.test, True, "loop"), lambda: self.block(s.body))
            self.block(s.orelse)
        elif isinstance(s, ast.If):
            self.expr(s.test)
            before = dict(self.env)
            self.guards.append((s.test, True, "if"))
            self.block(s.body)
            self.guards[-1] = (s.test, False, "if")
            after_body, self.env = self.env, before
            self.block(s.orelse)
            self.guards.pop()
            self.env = _merge(after_body, self.env)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            nograd = 0
            for item in s.items:
                flags = self.expr(item.context_expr)
                nograd += _is_nograd(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, flags, item.context_expr)
            self.nograd += nograd
            self.block(s.body)
            self.nograd -= nograd
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            self.block(s.body)
            for handler in s.handlers:
                self.block(handler.body)
            self.block(s.orelse)
            self.block(s.finalbody)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            self.link(self.p.imported(s))
        elif isinstance(s, ast.Match):
            self.expr(s.subject)
            for case in s.cases:
                self.block(case.body)
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def loop(self, node: ast.AST, guard: tuple, body) -> None:
        self.loops.append(node)
        self.guards.append(guard)
        # Again when an iteration left flags that the top of the body has not seen yet; loops nested
        # in that second walk go once, or a loop nest of depth d would cost 2**d walks, starting from
        # what their last walk ended with (`h = 0` before an inner `h ^= tok` loop resets it each time).
        self.env = _merge(self.env, self.loop_ends.get(id(node), {}))
        for walk in range(1 if self.repeat else 2):
            before = dict(self.env)
            self.repeat += walk
            body()
            self.repeat -= walk
            self.env = _merge(before, self.env)
            if all(before.get(name, 0) == flags for name, flags in self.env.items() if flags):
                break
        self.loop_ends[id(node)] = dict(self.env)
        self.guards.pop()
        self.loops.pop()

    def assign(self, target: ast.expr, flags: int, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            if (value is not None and self.loops and self.scores(flags) and self.sink(target.id)
                    and isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub))
                    and target.id in names_in(value.left) | names_in(value.right)):
                self.event("ACC", value, flags, what=target.id)   # total = total + loss, in a loop
            self.env[target.id] = flags
            self.assigned_in[target.id] = self.loops[-1] if self.loops else None
            self.bind_callable(target.id, value)
            if value is not None and _makes_trainable(value, self.p.true_names):
                self.f.trainable.add(target.id)
                self.event("PARAM", value, what=target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assign(element, flags, None)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, flags, None)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value)
            path = _path(target)
            if path:
                self.env[path] = flags
            self.store_attribute(target.attr, flags)
            if _eff(flags) & (VAL | CAL):
                self.mutate(_root(target), HOLD)
                if value is not None and _calls_named(value, {"Parameter", "Buffer"}):
                    self.event("SINK", value, flags | HOLD, what=f"{path or target.attr} = nn.Parameter(...)")
        elif isinstance(target, ast.Subscript):
            self.store(target, flags, counted=value is not None and _counts_into(target, value))

    def bind_callable(self, name: str, value: ast.expr | None) -> None:
        """`fn = eval_a if x else eval_b`, `model = GPT(...)`, `compiled = torch.compile(model)`: what `name()` calls."""
        callees = self.callees_of(value) if value is not None else []
        if callees or isinstance(value, (ast.Lambda, ast.Attribute)):
            self.callables[name] = callees   # a lambda or a bound method is no model either
        else:
            self.callables.pop(name, None)

    def callees_of(self, value: ast.expr) -> list[tuple[Function, int]]:
        if isinstance(value, ast.IfExp):
            return self.callees_of(value.body) + self.callees_of(value.orelse)
        if isinstance(value, ast.Name):
            if value.id in self.callables:
                return self.callables[value.id]
            return [(f, 0) for f in self.p.by_name.get(value.id, []) if not f.is_method]
        if isinstance(value, ast.Call):
            forwards = self.p.forward_of(value.func)
            if forwards:
                return [(f, 1) for f in forwards]
            if base_name(value.func) in _WRAPPERS and value.args:
                return self.callees_of(value.args[0])
        return []

    def augassign(self, s: ast.AugAssign, flags: int) -> None:
        target = s.target
        if isinstance(target, ast.Subscript):
            self.store(target, flags, counted=isinstance(s.op, ast.Add))
            return
        key = _path(target)
        current = self.lookup(key) if key else 0
        if isinstance(s.op, _MIXING_OPS) and _token(flags) and _eff(current | flags) & STREAM:
            flags |= HKEY  # h ^= tok * P: a context hash grows by one token
        if key:
            self.env[key] = current | flags
        if isinstance(target, ast.Name):
            self.mutate(target.id, flags & _both(DATA | CNT))  # `table += counts` writes into the caller's array
        if self.scores(flags) and self.sink(_root(target)):
            self.event("ACC", s, flags, what=base_name(target))
        elif (_eff(flags) & VAL and _eff(flags) & CNT and isinstance(s.op, ast.Add)
              and (isinstance(target, ast.Attribute) or _root(target) in self.f.params)):
            self.event("UPD", s, flags, what=base_name(target))   # table += counts, in the caller's table

    def scores(self, flags: int) -> bool:
        return _eff(flags) & (VAL | LOSS) == VAL | LOSS

    def store(self, target: ast.Subscript, flags: int, counted: bool = False) -> None:
        index = self.expr(target.slice)
        self.expr(target.value)
        written = (flags | index) & _both(DATA | LOSS | BYTES)
        root = _root(target)
        self.write_into(target.value, written | (CNT if counted else 0))
        name = base_name(target.value)
        if self.scores(flags) and self.sink(root):
            self.event("ACC", target, flags, what=name)
        elif counted and _eff(written) & VAL and not self.local_to_loop(root):
            self.event("UPD", target, written, what=name)

    def local_to_loop(self, name: str | None) -> bool:
        return bool(name and self.loops and self.assigned_in.get(name) in self.loops)

    # Expressions: return the flags of the value, recording events on the way.

    def expr(self, node: ast.AST | None) -> int:
        if node is None:
            return 0
        if isinstance(node, ast.Constant):
            return _constant_flags(node.value)
        if isinstance(node, ast.Name):
            self.ref(node.id, attribute=False)
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value)
            if node.attr in _SHAPE_ONLY:
                return 0
            self.ref(node.attr, attribute=True)
            path = _path(node)
            flags = (base & ~_both(TGT | HKEY)) | self.p.class_attrs.get(node.attr, 0)
            return flags | (self.lookup(path) if path else 0)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Compare):
            flags = _union(self.expr(c) for c in [node.left, *node.comparators])
            if _eff(flags) & LOSS and any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops):
                self.event("SELECT", node, flags)   # `if loss < best:` keeps what scores best
            return flags & ~_both(TGT | HKEY | LOSS)
        if isinstance(node, ast.BoolOp):
            return _union(self.expr(c) for c in node.values) & ~_both(TGT | HKEY)
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand) & ~_both(HKEY)
        if isinstance(node, ast.Lambda):
            return 0
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for generator in node.generators:
                self.loop_targets |= names_in(generator.target)
                self.assign(generator.target, self.expr(generator.iter) & ~_both(HKEY | TGT), None)
                for condition in generator.ifs:
                    self.expr(condition)
            if isinstance(node, ast.DictComp):
                return self.expr(node.key) | self.expr(node.value)
            return self.expr(node.elt)
        if isinstance(node, ast.NamedExpr):
            flags = self.expr(node.value)
            self.assign(node.target, flags, node.value)
            return flags
        flags = _union(self.expr(c) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
        return flags & ~_both(TGT | HKEY) if isinstance(node, ast.JoinedStr) else flags

    def binop(self, node: ast.BinOp) -> int:
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.op, ast.Div) and _eff(left) & LOSS and _eff(right) & BYTES:
            self.event("SPREAD", node, left | right)   # a token's log-probability spread over its bytes
        if isinstance(node.op, _HASH_OPS):
            return self.mix(node, left, right)
        return left | right

    def mix(self, node: ast.AST, left: int, right: int) -> int:
        """Hash arithmetic: two stream tokens make a context hash; a context hash and one more token,
        written into a new value, make a full n-gram key (TGT); `h = h ^ tok` only grows the context."""
        flags = left | right
        if not isinstance(getattr(node, "op", ast.BitXor()), _MIXING_OPS):
            return flags
        l, r = _eff(left), _eff(right)
        if (l & HKEY and _token(right)) or (r & HKEY and _token(left)):
            growing = bool(names_in(node) & set(self.targets))
            return flags | HKEY if growing else flags | HKEY | TGT
        if _token(left) and _token(right):
            return flags | HKEY
        return flags

    def tuple_key(self, node: ast.Tuple) -> int:
        """`(ctx, tok)` as a dict key mixes its parts like a hash; `(x, y)` of two values stays a pair."""
        parts = [self.expr(element) for element in node.elts]
        flags = _union(parts)
        if len(parts) > 1 and sum(1 for p in parts if _token(p) or _eff(p) & HKEY) > 1:
            first, *rest = parts
            for part in rest:
                first = self.mix(node, first, part)
            return first
        return flags & ~_both(HKEY | TGT)

    def subscript(self, node: ast.Subscript) -> int:
        base = self.expr(node.value)
        index = self.tuple_key(node.slice) if isinstance(node.slice, ast.Tuple) else self.expr(node.slice)
        flags = base | (index & _both(VAL | TRAIN | CAL))
        if _eff(index) & (STREAM | HKEY):
            flags &= ~_both(CNT)   # counts read at data keys are values; table[order] is still a table
        if _token(base) and _next_slice(node.slice):
            flags |= TGT   # tokens[1:]: each position's next token, the one it predicts
        if isinstance(node.ctx, ast.Load) and self.counting is None and _eff(base) & CNT and _eff(index) & TGT:
            self.event("LEAK", node, index, what=base_name(node.value))
        return flags

    def call(self, node: ast.Call) -> int:
        func = node.func
        receiver, method = 0, ""
        if isinstance(func, ast.Attribute):
            receiver, method = self.expr(func.value), func.attr
            self.ref(func.attr, attribute=True)
        elif isinstance(func, ast.Name):
            self.ref(func.id, attribute=False)
        else:
            self.expr(func)
        positional = [self.expr(a) for a in node.args]
        keywords = {k.arg: self.expr(k.value) for k in node.keywords}
        arguments = _union(positional) | _union(keywords.values())
        dotted = self.p.dotted(func)
        last = dotted.rsplit(".", 1)[-1] if dotted else method
        callees = self.resolve(node, arguments)
        self.link(callees)
        self.call_events(node, dotted, last, method, receiver, positional, keywords, arguments, callees)
        result = self.call_result(node, dotted, last, method, receiver, positional, arguments, callees)
        if method and callees and _eff(receiver) & STREAM and not _eff(receiver | result) & LOSS and _token(result):
            self.event("LOAD", node, receiver, what=method)   # loader.next_batch(): token batches from a data object
        if callees:
            self.bind(node, callees, receiver, positional, keywords)
        return result

    def resolve(self, node: ast.Call, arguments: int) -> list[tuple[Function, int]]:
        """The script's functions a call reaches: by name, a callable held in a variable, or a model's forward."""
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) and base_name(func.value.func) == "super":
            return self.p.inherited(self.f.owner, func.attr)
        callees = self.p.resolve(func)
        if callees or not isinstance(func, ast.Name):
            return callees
        if func.id in self.callables:
            return self.callables[func.id]
        if func.id in self.p.helper_imports:
            return self.p.helper_imports[func.id]
        known = func.id in self.p.aliases or func.id in _BUILTINS or func.id in self.p.classes
        if not known and _eff(arguments) & DATA and not _eff(arguments) & LOSS and not _is_logging(node, func.id):
            return [(f, 1) for f in self.p.models]   # model(x): a top-level module of the script, called on data
        return []

    def call_result(self, node, dotted, last, method, receiver, positional, arguments, callees) -> int:
        data = arguments & _both(DATA | LOSS | BYTES | HKEY | TGT)
        if callees:
            result = 0
            for callee, offset in callees:
                inputs = arguments | (receiver if offset and method else 0)
                result |= callee.returns & LOW | inputs & _both((callee.returns >> SHIFT) & LOW)
                if callee.name == "__init__" and isinstance(node.func, ast.Name):
                    result |= arguments & _both(DATA)  # a constructed object holds what it was built from
        elif last in _HASH_CALLS and len(positional) > 1:
            result = self.mix(node, positional[0], positional[1])
        elif method in _CASTS:
            result = receiver | data  # a cast or reshape of a hashed key is still that key
        elif method:
            result = (receiver | data) & ~_both(HKEY | TGT)
        else:
            result = data
        if last in _SHAPE_ONLY or (dotted.startswith(("torch.", "numpy.")) and last in _FACTORIES):
            result = BYTES if last == "len" and _eff(arguments) & BYTES else 0
        if method == "encode":
            result |= BYTES
        if last in _LOSS_FUNCTIONS or (last in _LOG_FUNCTIONS and _eff(arguments | receiver) & (DATA | LOSS | CNT)):
            result |= LOSS
        if last in _COUNTING:
            result |= CNT
        if self.is_optimizer(dotted, last, callees):
            result = OPTZ
        result |= _split_request(node) | self.env_read(node, dotted)
        if any(id(c) in self.p.hooking for c, _ in callees) and _eff(result | receiver) & VAL:
            result = (result & ~_both(VAL)) | (CAL if result & VAL else 0) | (CAL << SHIFT if result & (VAL << SHIFT) else 0)
        return result

    def env_read(self, node: ast.Call, dotted: str) -> int:
        """`os.environ.get("VAL_FILES", ...)`: the key says which split the value names, and so does
        the value a documented run sets (`TRAIN_FILES=.../fineweb_val_*.bin torchrun ...`)."""
        if dotted in {"os.environ.get", "os.getenv"} and node.args and isinstance(node.args[0], ast.Constant):
            key = str(node.args[0].value)
            return _union(_constant_flags(config.env[key]) for config in self.p.configs
                          if key in config.env) | _env_key_flags(key)
        return 0

    def is_optimizer(self, dotted: str, last: str, callees) -> bool:
        library = dotted.startswith("torch.optim.") and "lr_scheduler" not in dotted and "swa_utils" not in dotted
        return library or (bool(callees) and last in self.p.optimizer_classes)

    def bind(self, node: ast.Call, callees, receiver: int, positional: list, keywords: dict) -> None:
        for callee, offset in callees:
            params = callee.params
            given: dict[str, ast.expr] = {}
            passed = DATA if callee.owner in self.p.module_classes else LOW  # a module's methods see data, not keys or counts
            if offset and params and isinstance(node.func, ast.Attribute):
                self.pass_into(callee, params[0], _eff(receiver) & HOLD)  # methods resolve by name: pass no more
                given[params[0]] = node.func.value
            for i, flags in enumerate(positional):
                if i + offset < len(params):
                    self.pass_into(callee, params[i + offset], _eff(flags) & passed)
                    given[params[i + offset]] = node.args[i]
            for keyword in node.keywords:
                if keyword.arg in params:
                    self.pass_into(callee, keyword.arg, _eff(keywords[keyword.arg]) & passed)
                    given[keyword.arg] = keyword.value
            inputs = receiver | _union(positional) | _union(keywords.values())
            for param, flags in list(callee.mutates.items()):
                if param in given:
                    self.write_into(given[param], flags & LOW | inputs & _both((flags >> SHIFT) & LOW))

    def pass_into(self, callee: Function, param: str, flags: int) -> None:
        if callee.param_flags[param] | flags != callee.param_flags[param]:
            callee.param_flags[param] |= flags
            self.p.touched.add(id(callee))

    def call_events(self, node, dotted, last, method, receiver, positional, keywords, arguments, callees) -> None:
        if method == "backward" or dotted.endswith(("autograd.grad", "autograd.backward")):
            flags = receiver | (positional[0] if positional else 0) if method == "backward" else positional[0] if positional else 0
            self.event("BW", node, flags, names=names_in(node))
        if method == "step" and _eff(receiver) & OPTZ:
            self.event("STEP", node, what=_root(node.func.value) or "")
        if self.is_optimizer(dotted, last, callees):
            self.event("OPT", node, names=names_in(node), targets=self.targets, what=_root(node.args[0]) if node.args else "")
        if method == "requires_grad_" and _root(node.func.value) and _root(node.func.value) not in self.loop_targets:
            self.f.trainable.add(_root(node.func.value))
            self.event("PARAM", node, what=_root(node.func.value))
        if callees:
            self.event("CALL", node, arguments, callees=tuple(c for c, _ in callees), names=names_in(node),
                       targets=self.targets, what=base_name(node.func))
            for callee, _ in callees:
                if self.f not in self.p.callers_of[id(callee)]:
                    self.p.callers_of[id(callee)].append(self.f)
            if any(id(c) in self.p.hooking for c, _ in callees) and _eff(arguments | receiver) & (VAL | CAL):
                self.event("CALIB", node, arguments | receiver, what=base_name(node.func))
        if method in {"register_forward_hook", "register_forward_pre_hook"}:
            self.event("HOOK", node)
        if last in _SELECTIONS and _eff(arguments) & LOSS:
            self.event("SELECT", node, arguments)
        logging = _is_logging(node, last)
        if _eff(arguments | receiver) & VAL and not logging:
            self.event("VALUSE", node, arguments | receiver, what=last, callees=tuple(c for c, _ in callees))
        if _eff(arguments | receiver) & TRAIN and not logging:
            self.event("TREAD", node, (arguments | receiver) & _both(TRAIN), what=last)
        self.network_event(node, dotted)
        self.artifact_events(node, dotted, last, method, positional, keywords)
        self.container_events(node, dotted, method, receiver, positional, arguments)
        self.lookup_events(node, dotted, method, receiver, positional)

    def network_event(self, node: ast.Call, dotted: str) -> None:
        if dotted.startswith(_NETWORK_PREFIXES):
            self.event("NET", node, what=dotted)
        elif dotted in _SHELL_CALLS:
            for constant in ast.walk(node):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    if _SHELL_NETWORK.search(constant.value):
                        self.event("NET", node, what=f"{dotted}({constant.value.split()[0]!r} ...)")
                        return

    def artifact_events(self, node, dotted, last, method, positional, keywords) -> None:
        saving = dotted in _SAVES or last in {"save_file", "compress"}
        if saving or (last == "open" and any(isinstance(a, ast.Constant) and str(a.value).startswith("wb")
                                             for a in node.args[1:2])) or last == "write_bytes":
            self.event("SERIAL", node, what=last)
        if saving and _eff(_union(positional) | _union(keywords.values())) & (VAL | HOLD):
            self.event("SINK", node, _union(positional) & _both(VAL | HOLD), what=dotted or last)
        if method == "register_buffer" and len(positional) > 1 and _eff(positional[1]) & (VAL | HOLD):
            persistent = next((k.value for k in node.keywords if k.arg == "persistent"), None)
            if not (isinstance(persistent, ast.Constant) and persistent.value is False):
                self.event("SINK", node, positional[1], what="register_buffer")
        if dotted == "torch.save" and len(node.args) > 1:
            self.mutate(_root(node.args[1]), positional[0] & _both(VAL | HOLD))

    def container_events(self, node, dotted, method, receiver, positional, arguments) -> None:
        if method in _MUTATORS:
            root = _root(node.func.value)
            counting = method in _ACCUMULATING_METHODS or (method in _ACCUMULATE_KEYWORD and _accumulates(node))
            written = arguments & _both(DATA | LOSS | BYTES | HKEY | TGT) | (CNT if counting else 0)
            if method == "register_buffer":
                self.mutate(root, written | (HOLD if _eff(arguments) & VAL else 0))
            else:
                self.write_into(node.func.value, written)
            name = base_name(node.func.value)
            if method in {"append", "extend", "add_"} and self.scores(arguments) and self.sink(root):
                self.event("ACC", node, arguments, what=name)
            elif counting and _eff(arguments) & VAL and not self.local_to_loop(root):
                self.event("UPD", node, arguments, what=name)
        if dotted.endswith("add.at") and node.args:
            root = _root(node.args[0])
            self.write_into(node.args[0], arguments & _both(VAL) | CNT)
            if _eff(arguments) & VAL and not self.local_to_loop(root):
                self.event("UPD", node, arguments, what=base_name(node.args[0]))

    def lookup_events(self, node, dotted, method, receiver, positional) -> None:
        if method in _LOOKUPS and positional and not dotted.startswith(("torch.", "numpy.")):
            key = node.args[-1] if method != "get" else node.args[0]
            index = self.tuple_key(key) if isinstance(key, ast.Tuple) else positional[-1 if method != "get" else 0]
            base, what = receiver, base_name(node.func.value)
        elif dotted.rsplit(".", 1)[-1] in _LOOKUPS and dotted.startswith(("torch.", "numpy.")) and len(positional) > 1:
            base, index, what = positional[0], positional[-1], base_name(node.args[0])
        else:
            return
        if self.counting is None and _eff(base) & CNT and _eff(index) & TGT:
            self.event("LEAK", node, index, what=f"{what}.{method or dotted.rsplit('.', 1)[-1]}")


def _token(flags: int) -> bool:
    """A stream token id (or a slice of them): read from the data, not yet a loss, count or hash."""
    effective = _eff(flags)
    return bool(effective & STREAM) and not effective & (NOT_TOKEN | HKEY)


def _pairwise(targets: list[ast.expr], value: ast.expr) -> bool:
    return (len(targets) == 1 and isinstance(targets[0], (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
            and len(targets[0].elts) == len(value.elts) and not any(isinstance(e, ast.Starred) for e in targets[0].elts))


def _next_slice(index: ast.expr) -> bool:
    """`[1:]`, `[:, 1:]`, `[..., 1:]`, `[s + 1:e + 1]`: the slice one position ahead of its inputs."""
    last = index.elts[-1] if isinstance(index, ast.Tuple) and index.elts else index
    return isinstance(last, ast.Slice) and last.step is None and _plus_one(last.lower) and (
        last.upper is None or _plus_one(last.upper))


def _plus_one(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Constant):
        return node.value == 1
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
            and any(isinstance(o, ast.Constant) and o.value == 1 for o in (node.left, node.right)))


def _counts_into(target: ast.expr, value: ast.expr) -> bool:
    """`t[k] = t[k] + 1`, `d[k] = d.get(k, 0) + 1`: a count update written as an assignment."""
    if not isinstance(target, ast.Subscript) or not isinstance(value, ast.BinOp) or not isinstance(value.op, ast.Add):
        return False
    root = _root(target)
    return any(_root(operand) == root and isinstance(operand, (ast.Subscript, ast.Call))
               for operand in (value.left, value.right))


def _accumulates(node: ast.Call) -> bool:
    return any(k.arg == "accumulate" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in node.keywords)


def _is_logging(node: ast.Call, last: str) -> bool:
    """print(...), or a call whose first argument is a message: an f-string or a string constant."""
    if last in {"print", "write", "info", "debug", "warning", "error", "join", "add_scalar", "format"}:
        return True
    first = node.args[0] if node.args else None
    return isinstance(first, ast.JoinedStr) or (isinstance(first, ast.Constant) and isinstance(first.value, str))


def _union(values) -> int:
    result = 0
    for value in values:
        result |= value
    return result


def _merge(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = merged.get(key, 0) | value
    return merged


def _is_nograd(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Name, ast.Attribute)) and (getattr(n, "id", None) or getattr(n, "attr", None))
               in {"no_grad", "inference_mode"} for n in ast.walk(node))


def _calls_named(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Call) and base_name(n.func) in names for n in ast.walk(node))


@lru_cache(maxsize=1 << 16)
def _makes_trainable(value: ast.expr, true_names: frozenset[str]) -> bool:
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            if any(k.arg == "requires_grad" and _is_true(k.value, true_names) for k in node.keywords):
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr == "requires_grad_":
                return True
            if base_name(node.func) == "Parameter":
                return True
    return False


def _is_true(node: ast.expr, true_names: frozenset[str]) -> bool:
    return (isinstance(node, ast.Constant) and node.value is True) or (isinstance(node, ast.Name)
                                                                      and node.id in true_names)


def _module_constants(tree: ast.Module, nodes: list[ast.AST]) -> dict[str, object]:
    """Module-level names bound once, to a literal: minifiers write `_B=True` and use `_B` for True."""
    bound = defaultdict(int)
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound[node.id] += 1
    return {s.targets[0].id: s.value.value for s in tree.body
            if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
            and isinstance(s.value, ast.Constant) and bound[s.targets[0].id] == 1}


# --- the analysis rules read ---------------------------------------------------------------------


@dataclass
class Hit:
    """One place a rule found something: its verdict, a sentence, and the events behind it."""

    status: str
    message: str
    events: tuple


class Analysis:
    """The program model plus what the folder says ran, and the shared views the rules use."""

    def __init__(self, sources: list[tuple[str, DecodedSource]], logs: dict[str, str], policy: str,
                 configs: list[RunConfig] | None = None):
        self.source_name, self.source = sources[0]
        self.policy = policy
        self.program = Program([(name, source.tree) for name, source in sources], configs)
        self.knobs = Knobs(self.program.nodes, self.program.aliases, self.program.constants, configs)
        self.log_body = "\n".join(_log_body(text) for text in (logs or {}).values())
        self.on = self._knobs_on()
        self.events = [e for f in self.program.functions for e in f.events]
        self.live_default = self._live(lambda guards: not self.any_off(guards))
        self.live_run = self._live(lambda guards: not any(self.knobs.off_in_runs(g, self.on) for g in guards))
        self.live_open = self._live(lambda guards: True)
        self._classified: dict[int, tuple[str, tuple]] = {}
        self._ran: dict[tuple, print_sites.Template | None] = {}
        self._skeletons = _skeleton_counts(self.program)
        closure = self.program._closure
        self.has_serial = closure(lambda f: any(e.kind == "SERIAL" for e in f.events))
        self.reported_calls = self._reported_calls()
        self.return_scores = {id(f) for f in self.program.functions if f.owner not in self.program.module_classes
                              and _eff(f.returns) & (VAL | LOSS) == VAL | LOSS}
        self.has_score = closure(lambda f: any(self.is_score(e) or self._returns_score(e) for e in f.events))
        self.has_train = closure(lambda f: any(self.is_ttt(e) for e in f.events))
        self.has_update = closure(lambda f: any(e.kind == "UPD" and e.flags & VAL for e in f.events))
        self.has_selection = closure(lambda f: any(e.kind == "SELECT" for e in f.events))
        self.has_train_read = closure(lambda f: any(e.kind == "TREAD" and e.own & TRAIN for e in f.events))

    def _knobs_on(self) -> frozenset[str]:
        """Knobs the logs print with a truthy value (`ttt_enabled: True`, `SLOT_ENABLED=1`)."""
        names = {name.lower(): key for key in self.knobs.exprs for name in {key, *self.knobs.envs(key)}}
        on: set[str] = set()
        for match in _SETTING.finditer(self.log_body):
            key = names.get(match.group(1).lower())
            if key is not None and match.group(2).lower() not in _FALSY:
                on.update({key.lower(), *(env.lower() for env in self.knobs.envs(key))})
        return frozenset(on)

    def _live(self, open_guards: Callable[[tuple], bool]) -> set[int]:
        live, changed = {id(m) for m in self.program.modules}, True
        while changed:
            changed = False
            for function in self.program.functions:
                if id(function) in live:
                    continue
                if any(id(source) in live and open_guards(guards) for source, guards in function.refs):
                    live.add(id(function))
                    changed = True
        return live

    def any_off(self, guards: tuple) -> bool:
        return any(self.knobs.off(guard, self.on) for guard in guards)

    # Whether one event's code ran.

    def state(self, event: Event) -> str:
        """live (on by default), run (on in a documented run config), ran (a log shows its lines),
        gated (off, and silent in every log) or unreachable (never called from the entry point)."""
        if id(event.func) in self.live_default and not self.any_off(event.guards):
            return "live"
        if id(event.func) in self.live_run and not any(self.knobs.off_in_runs(g, self.on) for g in event.guards):
            return "run"
        if id(event.func) in self.live_open:
            return "ran" if self.ran(event) else "gated"
        return "unreachable"

    def ran(self, event: Event) -> print_sites.Template | None:
        """A log line that only the gated code around `event` prints, if some log holds one."""
        key = (id(event.func), tuple(id(g[0]) for g in event.guards))
        if key not in self._ran:
            candidates = [t for t in self._gated_templates(event) if self._skeletons[t.skeleton] == 1]
            self._ran[key] = print_sites.found_in(candidates, self.log_body) if self.log_body else None
        return self._ran[key]

    def _gated_templates(self, event: Event) -> list[print_sites.Template]:
        functions: dict[int, Function] = {}
        spans = [span for guard in event.guards if self.knobs.off(guard, self.on)
                 for span in [_guard_span(event.func, guard)] if span]
        nodes = [n for n in event.func.nodes if any(a <= getattr(n, "lineno", 0) <= b for a, b in spans)]
        for call in (e for e in event.func.events if e.kind == "CALL" and any(a <= e.line <= b for a, b in spans)):
            for callee in call.callees:
                functions[id(callee)] = callee
        if id(event.func) not in self.live_default:
            functions[id(event.func)] = event.func
            for caller, guards in event.func.refs:
                for guard in guards:
                    span = _guard_span(caller, guard) if self.knobs.off(guard, self.on) else None
                    if span:
                        nodes += [n for n in caller.nodes if span[0] <= getattr(n, "lineno", 0) <= span[1]]
        for function in self._callees_of(list(functions.values()), depth=3):
            nodes += function.nodes
        return print_sites.templates(nodes)

    def _callees_of(self, functions: list[Function], depth: int) -> list[Function]:
        found = {id(f): f for f in functions}
        frontier = list(functions)
        for _ in range(depth):
            frontier = [c for f in frontier for e in f.events if e.kind == "CALL" for c in e.callees
                        if id(c) not in found and id(c) not in self.live_default]
            found.update((id(f), f) for f in frontier)
        return list(found.values())

    def why_live(self, event: Event, state: str) -> str:
        if state == "run":
            reasons = {self.knobs.switched_on_by(g, self.on) for g in self._off_guards(event)} - {""}
            return f" (gated off by default, but {sorted(reasons)[0]})" if reasons else " (gated off by default, but a run command switches it on)"
        if state == "ran":
            template = self.ran(event)
            return f" (gated off by default, but a log shows its line `{template.skeleton[:60]}`)" if template else ""
        return ""

    def _off_guards(self, event: Event) -> list[tuple]:
        guards = [g for g in event.guards if self.knobs.off(g, self.on)]
        if id(event.func) not in self.live_default:
            guards += [g for _, gs in event.func.refs for g in gs if self.knobs.off(g, self.on)]
        return guards

    def gates(self, event: Event) -> list[str]:
        names: set[str] = set()
        for guard in event.guards:
            if self.knobs.off(guard, self.on):
                names |= self.knobs.keys_in(guard[0])
        names |= self._function_gates(event.func, set())
        return sorted(names)

    def _function_gates(self, function: Function, seen: set) -> set[str]:
        if id(function) in self.live_default or id(function) in seen:
            return set()
        seen.add(id(function))
        names = set()
        for source, guards in function.refs:
            for guard in guards:
                if self.knobs.off(guard, self.on):
                    names |= self.knobs.keys_in(guard[0])
            names |= self._function_gates(source, seen)
        return names

    # Shared views.

    def site(self, function: Function, node: ast.AST, kind: str, what: str = "") -> Event:
        """An event for any node of `function`, with the loops and `if` guards around it, for rules
        that look for shapes the walker does not record."""
        loops, guards = [], []
        body = function.node.body if hasattr(function.node, "body") else []
        while body:
            statement = next((s for s in body if s.lineno <= node.lineno <= (s.end_lineno or s.lineno)), None)
            if statement is None or statement is node or isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                break
            inner = next(((branch, getattr(statement, branch)) for branch in ("body", "orelse", "finalbody")
                          if _holds(getattr(statement, branch, None), node)), None)
            if inner is None:
                break
            if isinstance(statement, ast.If):
                guards.append((statement.test, inner[0] == "body", "if"))
            elif isinstance(statement, (ast.For, ast.AsyncFor, ast.While)) and inner[0] == "body":
                loops.append(statement)
                guards.append((statement, True, "loop") if isinstance(statement, (ast.For, ast.AsyncFor))
                              else (statement.test, True, "loop"))
            body = inner[1]
        return Event(kind, node.lineno, node.col_offset, function, tuple(loops), tuple(guards), what=what)

    def where(self, *events) -> tuple[str, ...]:
        places = sorted({(e.func.source or self.source_name, e.line) for e in events if e is not None and e.line},
                        key=lambda place: (place[0] != self.source_name, place))
        return tuple(f"{source}:{line}" for source, line in places[:12])

    def kind(self, kind: str, flag: int = 0) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (not flag or e.flags & flag)]

    def in_training_loop(self, event: Event) -> Event | None:
        """A loop that reads training data; or the run's training loop, whatever files it reads: one
        that draws batches from a loader object, before the function writes the artifact."""
        writes = [e.line for e in event.func.events if e.kind == "SERIAL"
                  or (e.kind == "CALL" and any(id(c) in self.has_serial for c in e.callees))]
        for read in event.func.events:
            if (read.kind == "TREAD" or (read.kind == "LOAD" and any(line > event.line for line in writes))) and (
                    set(map(id, read.loops)) & set(map(id, event.loops))):
                return read
        return None

    def is_slot(self, event: Event) -> bool:
        """Eval-time tensors made trainable in this function, optimised, and not score-first.

        Score-first adapters (per-document LoRA that scores a chunk before stepping on it) are
        test-time training, judged by the ttt rules instead.
        """
        trainable = event.func.trainable
        if not trainable or event.kind != "BW":
            return False
        optimizers = {name for e in event.func.events if e.kind == "OPT" and e.names & trainable for name in e.targets}
        steps = [e for e in event.func.events if e.kind == "STEP" and e.what in optimizers and common_loops(e, event)]
        return bool(steps or event.names & trainable) and self.classify(event)[0] != "E1"

    def is_ttt(self, event: Event) -> bool:
        return (event.kind == "BW" and bool(event.flags & VAL) and not self.is_slot(event)
                and self.in_training_loop(event) is None and not self.trains_throwaway(event))

    def trains_throwaway(self, event: Event) -> bool:
        """The optimizers step only modules built in this function that no score uses and that do not
        outlive their training loop: a diagnostic probe, or a compile warm-up adapter that is deleted."""
        optimized = {e.what for e in event.func.events if e.kind == "OPT"}
        if not optimized or "" in optimized or None in optimized:
            return False
        if any(common_loops(score, event) or score.names & optimized for score in self.scores_in(event.func)):
            return False
        end = event.loops[0].end_lineno if event.loops else event.line
        return all(_throwaway(event.func.node, name, end) for name in optimized)

    def _reported_calls(self) -> set[int]:
        """CALL events whose result reaches a printed val_loss/val_bpb line, in their function or,
        through returns, in a caller's."""
        reporting: set[int] = set()   # functions whose return value is reported
        found: set[int] = set()
        changed = True
        while changed:
            changed = False
            for function in self.program.functions:
                for event in (e for e in function.events if e.kind == "CALL" and id(e) not in found):
                    targets = set(event.targets)
                    returned = targets & function.returned or ("return", id(event.node)) in function.out_calls
                    if (targets & function.reported or ("report", id(event.node)) in function.out_calls
                            or (returned and id(function) in reporting)):
                        found.add(id(event))
                        reporting |= {id(c) for c in event.callees}
                        changed = True
        return found

    def _returns_score(self, event: Event) -> bool:
        """A call whose result is reported, to a function that returns a loss on validation tokens."""
        return (event.kind == "CALL" and id(event) in self.reported_calls
                and any(id(c) in self.return_scores for c in event.callees))

    def is_score(self, event: Event) -> bool:
        """A loss on validation tokens accumulated for the reported score: not inside a module's own
        methods (a forward that adds an auxiliary loss computes a loss, it does not score), and not
        under a guard that is off by default and in every run."""
        return (event.kind == "ACC" and bool(event.flags & VAL) and event.func.owner not in self.program.module_classes
                and not any(self.knobs.off_in_runs(g, self.on) for g in event.guards))

    def scores_in(self, function: Function) -> list[Event]:
        return [e for e in function.events if self.is_score(e) or self._returns_score(e)
                or (e.kind == "CALL" and any(id(c) in self.has_score for c in e.callees))]

    def callers(self, function: Function) -> list[Event]:
        calls = [e for e in self.events if e.kind == "CALL" and any(c is function for c in e.callees)]
        with_val = [e for e in calls if e.flags & VAL]
        return with_val or calls

    def classify(self, event: Event, depth: int = 0) -> tuple[str, tuple]:
        """Name the TTT pattern a training event belongs to: E1 legal, E2 pre-eval, E3 last-epoch."""
        if depth == 0:
            if id(event) not in self._classified:
                self._classified[id(event)] = self._classify(event, 0)
            return self._classified[id(event)]
        return self._classify(event, depth)

    def _classify(self, event: Event, depth: int) -> tuple[str, tuple]:
        scores = [s for s in self.scores_in(event.func) if s is not event]
        shared = [s for s in scores if common_loops(s, event)]
        if shared:
            for score in shared:
                loop_vars = set().union(*(_loop_vars(loop) for loop in common_loops(score, event)))
                if any(kind == "if" and score.func.reaching(names_in(test), score.func.conditions) & loop_vars
                       for test, _, kind in score.guards):
                    return "E3", (score, event)
            first = [s for s in shared if (s.line, s.col) < (event.line, event.col)]
            return ("E1", (first[0], event)) if first else ("E3-after", (shared[0], event))
        after = [s for s in scores if s.line > event.line]
        if after:
            return "E2", (event, after[0])
        before = [s for s in scores if s.line < event.line]
        if before:
            return "E1", (before[-1], event)
        callers = self.callers(event.func)
        if not callers or depth > 6:
            return "E2-unscored", (event,)
        worst = ("E1", ())
        for call in callers:
            kind, events = self._classify(call, depth + 1)
            if _ILLEGAL.get(kind, 0) >= _ILLEGAL.get(worst[0], 0):
                worst = (kind, (event, *events))
        return worst

    def ttt_sites(self) -> list[tuple[Event, str, tuple]]:
        return [(e, *self.classify(e)) for e in self.events if self.is_ttt(e)]

    @property
    def note(self) -> str:
        layers = self.source.layers
        return f" (decoded from {' inside '.join(reversed(layers))} wrapper{'s' * (len(layers) > 1)})" if layers else ""


_ILLEGAL = {"E1": 0, "E2-unscored": 1, "E3-after": 2, "E3": 2, "E2": 3}
PATTERN_TEXT = {
    "E1": "score-first TTT (E1): each chunk is scored before the optimizer steps on it",
    "E2": "pre-eval TTT (E2): optimizer steps on validation tokens before they are scored",
    "E2-unscored": "TTT that trains on validation tokens with no score-first structure (E2)",
    "E3": "multi-epoch TTT that scores only on one epoch of the loop that trains (E3)",
    "E3-after": "TTT that scores a chunk after training on it (E3)",
}


def exclusive(a: Event, b: Event) -> bool:
    """The two events sit on opposite branches of the same test (`if x:` ... `if not x:` or `else:`)."""
    def branches(event: Event) -> set[tuple[str, bool]]:
        found = set()
        for test, positive, kind in event.guards:
            if kind == "if":
                negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
                found.add((ast.dump(test.operand if negated else test), positive != negated))
        return found
    return any((test, not positive) in branches(b) for test, positive in branches(a))


def common_loops(a: Event, b: Event) -> list:
    if a.func is not b.func:
        return []
    ids = {id(loop) for loop in b.loops}
    return [loop for loop in a.loops if id(loop) in ids]


def _loop_vars(loop: ast.AST) -> set[str]:
    return set(names_in(loop.target)) if isinstance(loop, (ast.For, ast.AsyncFor)) else set()


def own_nodes(function: Function) -> list[ast.AST]:
    """The nodes of one function's body, without those of functions or classes defined inside it."""
    return function.nodes


def _holds(body, node: ast.AST) -> bool:
    return isinstance(body, list) and any(s.lineno <= node.lineno <= (s.end_lineno or s.lineno) for s in body)


def _guard_span(function: Function, guard: tuple) -> tuple[int, int] | None:
    """The lines a guard decides: its `if` (or loop) statement, or the rest of the function after an early exit."""
    test, _, kind = guard
    statement = next((n for n in function.nodes if isinstance(n, (ast.If, ast.While, ast.For, ast.AsyncFor))
                      and (n.test if not isinstance(n, (ast.For, ast.AsyncFor)) else n) is test), None)
    if statement is None:
        return None
    if kind == "exit":
        return statement.lineno, getattr(function.node, "end_lineno", None) or statement.end_lineno
    return statement.lineno, statement.end_lineno or statement.lineno


def _skeleton_counts(program: Program) -> dict[str, int]:
    """How many print sites of the script produce each skeleton: a shared one proves no path."""
    counts: dict[str, int] = defaultdict(int)
    for template in print_sites.templates(program.nodes):
        counts[template.skeleton] += 1
    return counts


def _throwaway(function: ast.AST, name: str, end: int) -> bool:
    """`name` is built here by a call, never returned or stored, and after line `end` only called or deleted."""
    built = stored = False
    calls = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            built |= any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            calls.add(id(node.func))
    for node in ast.walk(function):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            stored |= any(not isinstance(t, ast.Name) for t in targets) and _passes_on(node.value, name, calls)
        if isinstance(node, (ast.Return, ast.Yield)) and node.value is not None:
            stored |= _passes_on(node.value, name, calls)
    for node in ast.walk(function):
        if (isinstance(node, ast.Name) and node.id == name and node.lineno > end
                and not isinstance(node.ctx, ast.Del) and id(node) not in calls):
            return False
    return built and not stored


def _passes_on(value: ast.expr, name: str, calls: set[int]) -> bool:
    """`name` itself is in the value, not only called (`return head(x).item()` returns a number)."""
    return any(isinstance(n, ast.Name) and n.id == name and id(n) not in calls for n in ast.walk(value))


def _log_body(text: str) -> str:
    """The log after the copy of the script's own source that logs open with (RULES §1)."""
    match = _SEPARATOR.search(text or "")
    return text[match.end():] if match else (text or "")


def verdict(a: Analysis, rule_id: str, hits: list[Hit], clean: str) -> Finding:
    """Fold a rule's hits into its one Finding: hits on code that ran decide, dead ones are INFO."""
    rank = {FAIL: 3, WARN: 2, PASS: 1, INFO: 0}
    live, dead = [], []
    for hit in hits:
        state = a.state(hit.events[0])
        (live if state in ("live", "run", "ran") else dead).append((hit, state))
    if live:
        worst = max(rank[h.status] for h, _ in live)
        chosen = [(h, s) for h, s in live if rank[h.status] == worst]
        hit, state = chosen[0]
        extra = f"; {len(chosen) - 1} more place(s)" if len(chosen) > 1 else ""
        return Finding(rule_id, hit.status, f"{hit.message}{a.why_live(hit.events[0], state)}{extra}{a.note}",
                       a.where(*(e for h, _ in chosen for e in h.events)))
    if dead:
        hit, state = dead[0]
        gates = a.gates(hit.events[0])
        why = (f"gated off by {', '.join(gates)} (default off, off in every run command) and no log shows it ran"
               if state == "gated" and gates else "gated off by default and no log shows it ran" if state == "gated"
               else "never called from the script's entry point")
        return Finding(rule_id, INFO, f"dead code, not judged: {hit.message}; {why}{a.note}",
                       a.where(*(e for h, _ in dead for e in h.events)))
    return Finding(rule_id, PASS, clean + a.note, ())


# --- entry points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unanalysable:
    """Why a folder's script could not be analysed; each rule reports it under its own id."""

    status: str
    message: str
    evidence: tuple[str, ...] = ()

    def finding(self, rule_id: str) -> Finding:
        return Finding(rule_id, self.status, self.message, self.evidence)


def analyse(context) -> Analysis | Unanalysable:
    """The analysis of a record folder's script (golf.facts.Context) and its helper modules, or why there is none."""
    record = context.record
    script = record.script
    if script.decoded is None or script.decoded.tree is None:
        return Unanalysable(INFO, "not checked: no script that parses")
    logs = {log.name: log.text for log in record.logs}
    helpers = helper_modules(script.decoded, record.files.root, record.files.files, record.files.script)
    configs = run_configs(record.files.root, record.files.files)
    return analyse_source(script.decoded, logs, context.policy, script.name, helpers, configs)


def analyse_source(source: DecodedSource, logs: dict[str, str] | None = None, policy: str = "strict",
                   source_name: str = "train_gpt.py", helpers: list[tuple[str, DecodedSource]] | None = None,
                   configs: list[RunConfig] | None = None) -> Analysis | Unanalysable:
    """The analysis of one decoded script (and the helper modules it imports), judged with what its
    logs show ran and what its folder's run commands set."""
    if policy not in POLICIES:
        raise InputError(f"unknown compliance policy {policy!r}: use one of {', '.join(POLICIES)}")
    if source.tree is None:
        return Unanalysable(WARN, f"cannot analyse {source_name}: it does not parse ({source.syntax_error})",
                            (source_name,))
    try:
        return Analysis([(source_name, source), *(helpers or [])], logs or {}, policy, configs)
    except RecursionError:
        return Unanalysable(WARN, f"cannot analyse {source_name}: expressions nested too deeply for the "
                                  "checker; review by hand", (source_name,))
