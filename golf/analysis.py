"""The program model every compliance rule reads (RULES §4): what the decoded script does with data.

`analyse(context)` builds it once per record folder from the *decoded* script (golf.source),
never from the raw text, so packed submissions are judged on what they run. It holds, per function:

- which values are derived from validation data: a flow-sensitive taint seeded by names such as
  `val_tokens`/`val_files`, by `fineweb_val_*` constants, and propagated through assignments,
  slices, loops, calls (arguments to parameters, returns to results) and container writes;
- the events that matter, in source order with their enclosing loops and `if` guards: backward
  passes, optimizer steps, score accumulation (`loss_sum += ...`), cache updates, calibration
  calls, artifact writes, network calls and reads of training data.

Calls link functions, so a legal score-first loop and an illegal pre-eval fine-tune in the same
file are judged apart. Every node is filed once under the function that holds it (`own_nodes`),
and `Analysis.site` gives any node its loops and guards, for rules that look for shapes of their
own (a lookback, a byte-level mixture). Sizes and fresh tensors carry no data; a probe or warm-up
adapter that is trained and dropped is not test-time training.

Env knobs (`TTT_ENABLED=int(os.environ.get("TTT_ENABLED","0"))`, argparse defaults, minified
`getattr(args, "x", _C)` with `_C=False`) gate code: a technique that is off by default, and that
no log shows running, is dead code and is reported as INFO, not as a failure (the PR #1458 false
positive, RULES E8).

Nothing from the submission is imported or run; only its syntax tree is read.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from golf.findings import FAIL, INFO, PASS, WARN, Finding, InputError
from golf.source import DecodedSource

POLICIES = ("strict", "competition")

# Taint flags carried by values.
VAL = 1     # derived from validation tokens or files
TRAIN = 2   # derived from training tokens or files
TGT = 4     # the token being predicted (y, tgt, targets, gold)
HOLD = 8    # an object that had validation data stored into it (model.prefix = val_tokens[...])
CAL = 16    # the output of a calibration routine fed with validation data
HKEY = 32   # a hash or index mixed from the target token (ctx ^ tgt * prime)
DATA = VAL | TRAIN | CAL | HOLD
# Flags a function got through its parameters live in the high byte, its own in the low byte, so a
# call's result is its callee's own return flags plus what *this* call's arguments pass through.
SHIFT = 8
LOW = (1 << SHIFT) - 1


def _eff(flags: int) -> int:
    """Own and parameter-borne flags together."""
    return (flags | (flags >> SHIFT)) & LOW


def _both(bits: int) -> int:
    return bits | (bits << SHIFT)

_VAL_NAME = re.compile(
    r"^(val|valid|validation)_(tokens?|toks|ids|data|files?|shards?|stream|docs?|text|inputs?|targets?|x|y|"
    r"loader|chunks?|set|seqs?|pattern|split|windows?)(_\w+)?$"
)
_TRAIN_NAME = re.compile(r"^train_(tokens?|toks|ids|data|files?|shards?|stream|loader|pattern|x|y|batch|docs?|set)(_\w+)?$")
_NOT_DATA = re.compile(r"_(size|len|length|every|stride|steps|count|num|n|limit|max|min|frac|seqs|mask|allowed|ok|"
                       r"flags?|enabled|ratio|ms)(_|$)")
_TGT_NAME = re.compile(
    r"^(y|ys|yb|tgt|tgts|target|targets|gold|golds|labels?|next_toks?|next_tokens?)(_(ids?|tokens?|toks|batch|"
    r"u?int\d*|u64|i64|np|t|flat|chunk))?$"
)
_SCORE = {"loss", "losses", "nll", "nlls", "bits", "bpb", "score", "scores", "logp", "logprob", "logprobs", "xent",
          "ce", "surprisal"}
_CACHE = {"cache", "count", "counts", "cnt", "cnts", "table", "tables", "hash", "ngram", "ngrams", "freq", "freqs",
          "bucket", "buckets", "hist", "memory", "bigram", "trigram", "unigram", "c"}
_DIST = {"logits", "logit", "probs", "prob", "logp", "lp", "logprobs", "lprobs", "softmax", "nll", "dist", "pred",
         "preds", "out", "output", "scores", "emb", "embed", "embedding", "weight", "wte", "lut"}
_CALIB = re.compile(r"calib|hessian|gptq|awq|smoothquant|act(ivation)?_?stats?|collect_stats")
_OPTIMIZER = re.compile(r"^(SGD|Adam|AdamW|Adagrad|RMSprop|Lion|Muon\w*|NorMuon|\w*Optimizer)$")
_LOGGING = re.compile(r"^(print|log\w*|info|debug|warning|warn|error|write|format|join|add_scalar)$")
_TGT_KEEP = {"long", "int", "to", "view", "reshape", "unsqueeze", "squeeze", "flatten", "contiguous", "item", "cpu",
             "cuda", "numpy", "tolist", "clone", "expand", "type", "as_tensor", "asarray", "tensor", "astype"}
_MUTATORS = {"append", "extend", "update", "add_", "copy_", "index_add_", "scatter_add_", "scatter_", "index_put_",
             "put_", "insert", "setdefault", "index_copy_", "masked_scatter_", "register_buffer"}
_SAVES = {"torch.save", "pickle.dump", "pickle.dumps", "np.save", "numpy.save", "np.savez", "numpy.savez",
          "np.savez_compressed", "numpy.savez_compressed", "safetensors.torch.save_file", "torch.jit.save"}
# Sizes and fresh tensors carry no data from what they were measured on: an adapter of shape
# (len(docs), rank) holds no validation tokens.
_SHAPE_ONLY = {"len", "numel", "nelement", "size", "shape", "ndim", "dim", "dtype", "device"}
_FACTORIES = {"empty", "zeros", "ones", "full", "rand", "randn", "randint", "arange", "eye", "linspace",
              "empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like"}
_HASH_OPS = (ast.BitXor, ast.Mod, ast.BitAnd, ast.LShift, ast.RShift, ast.Mult, ast.Add, ast.BitOr)
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

# Log lines that show a technique ran, used when its code is gated off by default.
TTT_MARKERS = r"legal_ttt|ttt_chunk|ttt_sliding|ttt_lora|quantized_ttt|final_\w*ttt|ttt_epoch|ttt_phase|\bttt:|pre_?quant_ttt"
SLOT_MARKERS = r"\bslot(_\w+)?\b|\betlb\w*"
NGRAM_MARKERS = r"\bngram\w*|n-gram|two_pass|rescor"
CALIB_MARKERS = r"gptq|hessian|calib"


def _segments(name: str) -> set[str]:
    return set(name.lower().strip("_").split("_")) if name else set()


@lru_cache(maxsize=1 << 14)
def name_flags(name: str) -> int:
    flags = 0
    if _VAL_NAME.match(name) and not _NOT_DATA.search(name):
        flags |= VAL
    if _TRAIN_NAME.match(name) and not _NOT_DATA.search(name):
        flags |= TRAIN
    if _TGT_NAME.match(name):
        flags |= TGT
    return flags


def _constant_flags(value) -> int:
    if isinstance(value, str):
        return (VAL if "fineweb_val_" in value else 0) | (TRAIN if "fineweb_train_" in value else 0)
    return 0


_SPLIT_NAMES = {"val": VAL, "valid": VAL, "validation": VAL, "train": TRAIN}


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
        if isinstance(node.func, ast.Attribute) and node.func.attr in _TGT_KEEP | {"float", "double", "detach"}:
            return base_name(node.func.value)
        return base_name(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else ""
    return ""


@lru_cache(maxsize=1 << 16)
def names_in(node: ast.AST | None) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) if node is not None else frozenset()


@lru_cache(maxsize=1 << 14)
def is_score(name: str) -> bool:
    segments = _segments(name)
    return bool(segments & _SCORE) and not segments & {"grad", "lr", "scale", "fn", "func", "weight"}


@lru_cache(maxsize=1 << 14)
def _is_cache(name: str) -> bool:
    return bool(_segments(name) & _CACHE) and not is_score(name)


@lru_cache(maxsize=1 << 14)
def _is_dist(name: str) -> bool:
    return bool(_segments(name) & _DIST) or "softmax" in name.lower()


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
    own: int = 0            # flags from names and constants in this function itself
    nograd: bool = False
    callees: tuple = ()
    names: frozenset = frozenset()
    targets: tuple = ()
    what: str = ""


@dataclass(eq=False)
class Function:
    """One `def` (or the module body, or a class body) and what the walker learned about it."""

    name: str
    node: ast.AST
    parent: "Function | None"
    params: list
    is_method: bool = False
    kind: str = "def"       # def | module | class
    param_flags: dict = field(default_factory=lambda: defaultdict(int))
    mutates: dict = field(default_factory=lambda: defaultdict(int))
    returns: int = 0
    events: list = field(default_factory=list)
    trainable: set = field(default_factory=set)
    refs: list = field(default_factory=list)             # (referencing function, its guards there)
    referenced: list = field(default_factory=list)       # functions whose refs name this one
    nodes: list = field(default_factory=list)            # its own nodes, not those of defs inside it
    final_env: dict = field(default_factory=dict)


class Program:
    """All functions of a script, walked to a fixed point of the inter-procedural taint."""

    def __init__(self, tree: ast.Module):
        self.module = Function("<module>", tree, None, [], kind="module")
        self.functions: list[Function] = [self.module]
        self.by_name: dict[str, list[Function]] = defaultdict(list)
        self.classes: dict[str, list[Function]] = defaultdict(list)
        self.class_attrs: dict[str, int] = defaultdict(int)
        self._mentions: dict[int, set[str]] = {}
        self._collect(tree.body, self.module, None)
        self.nodes = self._index_nodes()
        self.aliases = _import_aliases(self.nodes)
        self.constants = _module_constants(tree, self.nodes)
        self.true_names = frozenset(name for name, value in self.constants.items() if value is True)
        self._walk_to_fixed_point()

    def _walk_to_fixed_point(self, rounds: int = 12) -> None:
        """Walk every function, then only those whose inputs changed: their parameters, what their
        callees return or mutate, their enclosing scopes, or the attributes classes hold."""
        dirty = [self.module, *reversed(self.functions[1:])]  # callers, defined last, pass taint down first
        for _ in range(rounds):
            if not dirty:
                return
            before = {id(f): _state(f) for f in self.functions}
            attrs_before = dict(self.class_attrs)
            for function in dirty:
                _Walker(self, function).run()
            for function in self.functions:
                if function.kind == "class":
                    for name, flags in function.final_env.items():
                        if flags:
                            self.class_attrs[name] |= flags
            changed = set()
            grown = {name for name, flags in self.class_attrs.items() if attrs_before.get(name) != flags}
            if grown:
                changed |= {id(f) for f in self.functions if grown & self._read(f)}
            for function in self.functions:
                params, results, scope = before[id(function)]
                now = _state(function)
                if now[0] != params:
                    changed.add(id(function))
                if now[1] != results:
                    changed |= {id(source) for source, _ in function.refs}
                if now[2] != scope:
                    names = {name for name, flags in now[2].items() if scope.get(name) != flags}
                    changed |= {id(f) for f in self.functions if _inside(f, function) and names & self._read(f)}
            dirty = [f for f in self.functions if id(f) in changed]

    def _collect(self, body: list, parent: Function, cls: str | None) -> None:
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = statement.args
                params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                function = Function(statement.name, statement, parent, params, is_method=cls is not None)
                self.functions.append(function)
                self.by_name[statement.name].append(function)
                if cls:
                    self.classes[cls].append(function)
                self._collect(statement.body, function, None)
            elif isinstance(statement, ast.ClassDef):
                body_function = Function(f"<class {statement.name}>", statement, parent, [], kind="class")
                self.functions.append(body_function)
                self.classes[statement.name].append(body_function)
                self._collect(statement.body, parent, statement.name)
            else:
                for field_name in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(statement, field_name, None)
                    if isinstance(children, list):
                        self._collect(children, parent, cls)

    def _read(self, function: Function) -> set[str]:
        """Names and attribute names a function mentions: what a changed scope or class can reach."""
        if id(function) not in self._mentions:
            self._mentions[id(function)] = {n.id if isinstance(n, ast.Name) else n.attr for n in function.nodes
                                            if isinstance(n, (ast.Name, ast.Attribute))}
        return self._mentions[id(function)]

    def _index_nodes(self) -> list[ast.AST]:
        """Every node once, each filed under the function whose body holds it (one pass for all rules)."""
        owners = {id(f.node): f for f in self.functions}
        pending = [(child, self.module) for child in ast.iter_child_nodes(self.module.node)]
        while pending:
            node, owner = pending.pop()
            inner = owners.get(id(node))
            if inner is None:
                owner.nodes.append(node)
            pending.extend((child, inner or owner) for child in ast.iter_child_nodes(node))
        return [node for function in self.functions for node in function.nodes]

    def dotted(self, node: ast.expr) -> str:
        path = _path(node)
        if not path:
            return node.attr if isinstance(node, ast.Attribute) else ""
        head, _, rest = path.partition(".")
        head = self.aliases.get(head, head)
        return f"{head}.{rest}" if rest else head

    def resolve(self, func: ast.expr) -> list[tuple[Function, int]]:
        """User functions a call may reach, with 1 where `self` takes the first parameter."""
        if isinstance(func, ast.Name):
            if func.id in self.classes:
                return [(f, 1) for f in self.classes[func.id] if f.name == "__init__"]
            return [(f, 0) for f in self.by_name.get(func.id, []) if not f.is_method]
        if isinstance(func, ast.Attribute):
            return [(f, 1) for f in self.by_name.get(func.attr, []) if f.is_method]
        return []


def _state(function: Function) -> tuple:
    """What other functions read of this one: its parameters' flags, its results, its final scope."""
    return (dict(function.param_flags), (function.returns, dict(function.mutates)), dict(function.final_env))


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
    """Walk one function body in order, tracking taint, loops, guards and no_grad blocks."""

    def __init__(self, program: Program, function: Function):
        self.p, self.f = program, function
        self.env: dict[str, int] = {name: (function.param_flags.get(name, 0) & LOW) << SHIFT for name in function.params}
        self.loops: list[ast.AST] = []
        self.guards: list[tuple] = []
        self.nograd = 0
        self.assigned_in: dict[str, ast.AST | None] = {}
        self.targets: tuple = ()
        self.seen: dict[tuple, Event] = {}
        self.ref_keys: set = set()
        self.repeat = 0
        self.loop_targets: set[str] = set()   # `for p in model.parameters(): p.requires_grad_()` is no new tensor
        function.events, function.trainable = [], set()
        for target in function.referenced:
            target.refs = [ref for ref in target.refs if ref[0] is not function]
        function.referenced = []
        node = function.node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.nograd = int(any(_is_nograd(d) for d in node.decorator_list))

    def run(self) -> None:
        node = self.f.node
        body = node.body if self.f.kind != "class" else [s for s in node.body]
        self.block(body)
        self.f.final_env = self.env

    # Events and references.

    def event(self, kind: str, node: ast.AST, flags: int = 0, **extra) -> Event:
        key = (kind, id(node))
        if key in self.seen:
            self.seen[key].flags |= _eff(flags)
            self.seen[key].own |= flags & LOW
            return self.seen[key]
        event = Event(kind, getattr(node, "lineno", 0), getattr(node, "col_offset", 0), self.f, tuple(self.loops),
                      tuple(self.guards), _eff(flags), flags & LOW, self.nograd > 0, **extra)
        self.seen[key] = event
        self.f.events.append(event)
        return event

    def ref(self, name: str, attribute: bool) -> None:
        targets: list[Function] = []
        if attribute:
            targets = [f for f in self.p.by_name.get(name, []) if f.is_method]
        elif name not in self.env:
            targets = [f for f in self.p.by_name.get(name, []) if not f.is_method] + self.p.classes.get(name, [])
        for target in targets:
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
            self.targets = tuple(n for t in targets for n in names_in(t))
            flags = self.expr(s.value)
            self.targets = ()
            for target in targets:
                self.assign(target, flags, s.value)
        elif isinstance(s, ast.AugAssign):
            self.augassign(s, self.expr(s.value))
        elif isinstance(s, ast.Expr):
            self.expr(s.value)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.f.returns |= self.expr(s.value) & ~_both(HKEY)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            flags = self.expr(s.iter) & ~_both(HKEY)
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
        # Again when an iteration left taint that the top of the body has not seen yet; loops nested
        # in that second walk go once, or a loop nest of depth d would cost 2**d walks.
        for walk in range(1 if self.repeat else 2):
            before = dict(self.env)
            self.repeat += walk
            body()
            self.repeat -= walk
            self.env = _merge(before, self.env)
            if all(before.get(name, 0) == flags for name, flags in self.env.items() if flags):
                break
        self.guards.pop()
        self.loops.pop()

    def assign(self, target: ast.expr, flags: int, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            if (value is not None and _eff(flags) & VAL and is_score(target.id)
                    and (target.id in names_in(value) or _segments(target.id) & {"sum", "total"})):
                self.event("ACC", value, flags, what=target.id)
            self.env[target.id] = flags
            self.assigned_in[target.id] = self.loops[-1] if self.loops else None
            if value is not None and _makes_trainable(value, self.p.true_names):
                self.f.trainable.add(target.id)
                self.event("PARAM", value, what=target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assign(element, flags & ~_both(HKEY), None)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, flags, None)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value)
            path = _path(target)
            if path:
                self.env[path] = flags
            if _eff(flags) & (VAL | CAL):
                self.mutate(_root(target), HOLD)
                if value is not None and _calls_named(value, {"Parameter", "Buffer"}):
                    self.event("SINK", value, flags | HOLD, what=f"{path or target.attr} = nn.Parameter(...)")
        elif isinstance(target, ast.Subscript):
            self.store(target, flags)

    def augassign(self, s: ast.AugAssign, flags: int) -> None:
        target = s.target
        if isinstance(target, ast.Subscript):
            self.store(target, flags, augmented=True)
            return
        name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
        key = _path(target)
        if key:
            self.env[key] = self.lookup(key) | name_flags(name) | flags
        if isinstance(target, ast.Name):
            self.mutate(target.id, flags & _both(DATA))  # `table += counts` writes into the caller's array
        if _eff(flags) & VAL and is_score(name):
            self.event("ACC", s, flags, what=name)
        elif _eff(flags) & VAL and _is_cache(name) and (isinstance(target, ast.Attribute) or name in self.f.params):
            self.event("UPD", s, flags, what=name)  # an array passed in or held by an object, not a local total

    def store(self, target: ast.Subscript, flags: int, augmented: bool = False) -> None:
        index = self.expr(target.slice)
        self.expr(target.value)
        written = (flags | index) & _both(DATA)
        self.mutate(_root(target), written)
        name = base_name(target.value)
        if _eff(flags) & VAL and is_score(name):
            self.event("ACC", target, flags, what=name)
        elif _eff(written) & VAL and _is_cache(name) and not self.local_to_loop(_root(target)):
            self.event("UPD", target, written, what=name)

    def local_to_loop(self, name: str | None) -> bool:
        return bool(name and self.loops and self.assigned_in.get(name) in self.loops)

    # Expressions: return the taint flags of the value, recording events on the way.

    def expr(self, node: ast.AST | None) -> int:
        if node is None:
            return 0
        if isinstance(node, ast.Constant):
            return _constant_flags(node.value)
        if isinstance(node, ast.Name):
            self.ref(node.id, attribute=False)
            return self.lookup(node.id) | name_flags(node.id)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value)
            if node.attr in _SHAPE_ONLY:
                return 0
            self.ref(node.attr, attribute=True)
            path = _path(node)
            flags = (base & ~_both(TGT | HKEY)) | name_flags(node.attr) | self.p.class_attrs.get(node.attr, 0)
            return flags | (self.lookup(path) if path else 0)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            flags = self.expr(node.left) | self.expr(node.right)
            return flags | HKEY if _eff(flags) & TGT and isinstance(node.op, _HASH_OPS) else flags
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            children = [node.left, *node.comparators] if isinstance(node, ast.Compare) else node.values
            return _union(self.expr(c) for c in children) & ~_both(TGT | HKEY)
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand) & ~_both(HKEY)
        if isinstance(node, ast.Lambda):
            return 0
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for generator in node.generators:
                self.assign(generator.target, self.expr(generator.iter) & ~_both(HKEY), None)
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

    def subscript(self, node: ast.Subscript) -> int:
        base = self.expr(node.value)
        index = self.expr(node.slice)
        flags = (base & ~_both(HKEY | TGT)) | (index & _both(VAL | TRAIN | CAL)) | (base & _both(TGT))
        name = base_name(node.value)
        if isinstance(node.ctx, ast.Load) and _target_keyed(_eff(index), name):
            self.event("LEAK", node, index, what=name)
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
        callees = self.p.resolve(func)
        self.call_events(node, dotted, last, method, receiver, positional, keywords, arguments, callees)
        data = arguments & _both(DATA)
        if callees:
            result = 0
            for callee, offset in callees:
                inputs = arguments | (receiver if offset and method else 0)
                result |= callee.returns & LOW | inputs & _both((callee.returns >> SHIFT) & LOW)
                if callee.name == "__init__" and isinstance(func, ast.Name):
                    result |= data  # a constructed object holds what it was built from
            result &= ~_both(TGT)
            self.bind(node, callees, receiver, positional, keywords)
        elif method in _TGT_KEEP:
            result = receiver | data  # a cast or reshape of a hashed key is still that key
        elif method:
            result = (receiver | data) & ~_both(HKEY | TGT)
        elif last in _TGT_KEEP | {"int", "float"} and positional:
            result = positional[0] & ~_both(HKEY)
        else:
            result = data
        if last in _SHAPE_ONLY or (dotted.startswith(("torch.", "numpy.")) and last in _FACTORIES):
            result = 0
        result |= _split_request(node)
        if _CALIB.search(last.lower()) and _eff(result | receiver) & VAL:
            result = (result & ~_both(VAL)) | (CAL if result & VAL else 0) | (CAL << SHIFT if result & (VAL << SHIFT) else 0)
        return result

    def bind(self, node: ast.Call, callees, receiver: int, positional: list, keywords: dict) -> None:
        for callee, offset in callees:
            params = callee.params
            roots: dict[str, str | None] = {}
            if offset and params and isinstance(node.func, ast.Attribute):
                callee.param_flags[params[0]] |= _eff(receiver) & DATA
                roots[params[0]] = _root(node.func.value)
            for i, flags in enumerate(positional):
                if i + offset < len(params):
                    callee.param_flags[params[i + offset]] |= _eff(flags) & DATA
                    roots[params[i + offset]] = _root(node.args[i])
            for keyword in node.keywords:
                if keyword.arg in params:
                    callee.param_flags[keyword.arg] |= _eff(keywords[keyword.arg]) & DATA
                    roots[keyword.arg] = _root(keyword.value)
            inputs = receiver | _union(positional) | _union(keywords.values())
            for param, flags in list(callee.mutates.items()):
                self.mutate(roots.get(param), flags & LOW | inputs & _both((flags >> SHIFT) & LOW))

    def call_events(self, node, dotted, last, method, receiver, positional, keywords, arguments, callees) -> None:
        names = names_in(node)
        if method == "backward" or dotted.endswith(("autograd.grad", "autograd.backward")):
            flags = receiver | (positional[0] if positional else 0) if method == "backward" else positional[0] if positional else 0
            self.event("BW", node, flags, names=names)
        if method == "step" and not re.search(r"sched|lr|warmup|ema|swa", (_root(node.func.value) or "").lower()):
            self.event("STEP", node, what=_root(node.func.value) or "")
        if (_OPTIMIZER.match(last) or dotted.startswith("torch.optim.")) and "lr_scheduler" not in dotted:
            self.event("OPT", node, names=names, targets=self.targets, what=_root(node.args[0]) if node.args else "")
        if method == "requires_grad_" and _root(node.func.value) and _root(node.func.value) not in self.loop_targets:
            self.f.trainable.add(_root(node.func.value))
            self.event("PARAM", node, what=_root(node.func.value))
        if callees:
            self.event("CALL", node, arguments, callees=tuple(c for c, _ in callees), names=names,
                       targets=self.targets, what=last)
        if _CALIB.search(last.lower()) and _eff(arguments | receiver) & (VAL | CAL):
            self.event("CALIB", node, arguments | receiver, what=last)
        if method in {"register_forward_hook", "register_forward_pre_hook"}:
            self.event("HOOK", node)
        if _eff(arguments | receiver) & VAL and not _LOGGING.match(last):
            self.event("VALUSE", node, arguments | receiver, what=last, callees=tuple(c for c, _ in callees))
        if _eff(arguments | receiver) & TRAIN and not _LOGGING.match(last):
            self.event("TREAD", node, (arguments | receiver) & _both(TRAIN), what=last)
        self.network_event(node, dotted)
        self.artifact_events(node, dotted, last, method, positional, keywords)
        self.container_events(node, dotted, method, receiver, positional, arguments)
        self.lookup_events(node, dotted, method, positional)

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
            self.mutate(root, (arguments & _both(VAL | TRAIN | CAL))
                        | (HOLD if method == "register_buffer" and _eff(arguments) & VAL else 0))
            name = base_name(node.func.value)
            if _eff(arguments) & VAL and method in {"append", "extend", "add_"} and is_score(name):
                self.event("ACC", node, arguments, what=name)
            elif _eff(arguments) & VAL and _is_cache(name) and not self.local_to_loop(root):
                self.event("UPD", node, arguments, what=name)
        if dotted.endswith("add.at") and node.args:
            root = _root(node.args[0])
            self.mutate(root, arguments & _both(VAL))
            if _eff(arguments) & VAL and _is_cache(base_name(node.args[0])) and not self.local_to_loop(root):
                self.event("UPD", node, arguments, what=base_name(node.args[0]))

    def lookup_events(self, node, dotted, method, positional) -> None:
        if method in {"gather", "index_select", "take_along_dim", "get", "take"} and positional and not dotted.startswith(("torch.", "numpy.")):
            base, index = base_name(node.func.value), positional[-1]
        elif dotted in {"torch.gather", "torch.take", "numpy.take", "torch.take_along_dim", "torch.index_select"} and len(positional) > 1:
            base, index = base_name(node.args[0]), positional[-1]
        else:
            return
        if _target_keyed(_eff(index), base):
            self.event("LEAK", node, index, what=f"{base}.{method or dotted.rsplit('.', 1)[-1]}")


def _target_keyed(index_flags: int, base: str) -> bool:
    """A read whose index mixes in the predicted token, from a table that is not a distribution."""
    return bool(index_flags & TGT) and not _is_dist(base) and bool(index_flags & HKEY or _is_cache(base))


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


# --- knobs: what is switched off by default ------------------------------------------------------


class _Unknown(Exception):
    pass


class Knobs:
    """Settings read from the environment (or argparse defaults), to tell dead code from live code."""

    def __init__(self, nodes: list[ast.AST], aliases: dict[str, str], constants: dict[str, object]):
        self.aliases, self.constants = aliases, constants
        self.exprs: dict[str, list[ast.expr]] = defaultdict(list)
        self._envs: dict[str, set[str]] = {}
        pending: list[tuple[str, ast.expr]] = []
        self._env_lines = {n.lineno for n in nodes if isinstance(n, ast.Call) and self._reads_env_call(n)}
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if len(targets) == 1 and isinstance(targets[0], (ast.Name, ast.Attribute)):
                    key = targets[0].id if isinstance(targets[0], ast.Name) else targets[0].attr
                    if self._reads_env(node.value):
                        self.exprs[key].append(node.value)
                    else:
                        pending.append((key, node.value))
            elif isinstance(node, ast.Call) and base_name(node.func) == "add_argument":
                self._argparse(node)
        for key, value in pending:  # settings derived from other settings
            names = _identifiers(value) | _getattr_names(value)
            if names & set(self.exprs) and key not in self.exprs:
                self.exprs[key].append(value)

    def _reads_env(self, node: ast.expr) -> bool:
        if not any(line in self._env_lines for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            return False  # most assignments: no environment read on their lines, no walk needed
        return any(isinstance(n, ast.Call) and self._reads_env_call(n) for n in ast.walk(node))

    def _reads_env_call(self, node: ast.Call) -> bool:
        return self._dotted(node.func) in {"os.environ.get", "os.getenv"}

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

    def _dotted(self, node: ast.expr) -> str:
        path = _path(node) or ""
        head, _, rest = path.partition(".")
        head = self.aliases.get(head, head)
        return f"{head}.{rest}" if rest else head

    def envs(self, key: str) -> set[str]:
        if key not in self._envs:
            self._envs[key] = self._env_names(key)
        return self._envs[key]

    def _env_names(self, key: str) -> set[str]:
        found = set()
        for value in self.exprs.get(key, []):
            for n in ast.walk(value):
                if isinstance(n, ast.Call) and self._dotted(n.func) in {"os.environ.get", "os.getenv"} and n.args:
                    if isinstance(n.args[0], ast.Constant):
                        found.add(str(n.args[0].value))
        return found

    def value(self, node: ast.expr, on: frozenset[str], depth: int = 0):
        """The value `node` has when no knob in `on` is set; _Unknown where it cannot be known."""
        if depth > 20:
            raise _Unknown
        v = lambda n: self.value(n, on, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            key = node.id if isinstance(node, ast.Name) else node.attr
            if isinstance(node, ast.Name) and key not in self.exprs and key in self.constants:
                return self.constants[key]
            if key.lower() in on or key not in self.exprs:
                raise _Unknown
            values = {repr(v(e)) for e in self.exprs[key]}
            if len(values) != 1:
                raise _Unknown
            return v(self.exprs[key][0])
        if isinstance(node, ast.Call):
            return self._call_value(node, on, v)
        if isinstance(node, ast.Compare):
            left = v(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = v(right_node)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            unknown = False
            for operand in node.values:
                try:
                    value = v(operand)
                except _Unknown:
                    unknown = True
                    continue
                if bool(value) == isinstance(node.op, ast.Or):
                    return value
            if unknown:
                raise _Unknown
            return value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            operand = v(node.operand)
            return not operand if isinstance(node.op, ast.Not) else -operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)):
            left, right = v(node.left), v(node.right)
            try:
                return {ast.Add: lambda: left + right, ast.Sub: lambda: left - right, ast.Mult: lambda: left * right,
                        ast.FloorDiv: lambda: left // right}[type(node.op)]()
            except Exception:
                raise _Unknown from None
        if isinstance(node, ast.IfExp):
            return v(node.body) if v(node.test) else v(node.orelse)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return tuple(v(e) for e in node.elts)
        raise _Unknown

    def _call_value(self, node: ast.Call, on: frozenset[str], v):
        dotted = self._dotted(node.func)
        if dotted in {"os.environ.get", "os.getenv"} and node.args and isinstance(node.args[0], ast.Constant):
            if str(node.args[0].value).lower() in on:
                raise _Unknown
            return v(node.args[1]) if len(node.args) > 1 else None
        if dotted == "getattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            key = str(node.args[1].value)
            return v(node.args[2]) if key not in self.exprs and len(node.args) > 2 else v(ast.Name(key))
        if dotted in {"int", "float", "bool", "str"} and len(node.args) == 1:
            try:
                return {"int": int, "float": float, "bool": bool, "str": str}[dotted](v(node.args[0]))
            except (TypeError, ValueError):
                raise _Unknown from None
        if isinstance(node.func, ast.Attribute) and node.func.attr in {"lower", "upper", "strip"}:
            base = v(node.func.value)
            if isinstance(base, str):
                return getattr(base, node.func.attr)()
        raise _Unknown

    def off(self, guard: tuple, on: frozenset[str]) -> bool:
        """True when the guarded code cannot run with the default settings."""
        node, positive, kind = guard
        try:
            if isinstance(node, (ast.For, ast.AsyncFor)):
                iterator = node.iter
                if isinstance(iterator, ast.Call) and base_name(iterator.func) == "range" and iterator.args:
                    bounds = [self.value(a, on) for a in iterator.args]
                    return len(range(*[int(b) for b in bounds])) == 0
                return False
            return bool(self.value(node, on)) != positive
        except (_Unknown, TypeError, ValueError, OverflowError):
            return False

    def keys_in(self, node: ast.AST) -> set[str]:
        names = set()
        for n in ast.walk(node):
            key = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None
            if key in self.exprs:
                names |= self.envs(key) or {key}
            if isinstance(n, ast.Call) and self._dotted(n.func) in {"os.environ.get", "os.getenv"} and n.args:
                if isinstance(n.args[0], ast.Constant):
                    names.add(str(n.args[0].value))
        return names


@lru_cache(maxsize=1 << 16)
def _identifiers(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
                     if isinstance(n, (ast.Name, ast.Attribute)))


def _getattr_names(node: ast.AST) -> set[str]:
    """`getattr(args, "slot_enabled", False)` reads the setting slot_enabled."""
    return {str(n.args[1].value) for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            and n.func.id == "getattr" and len(n.args) > 1 and isinstance(n.args[1], ast.Constant)}


def _compare(op: ast.cmpop, left, right) -> bool:
    try:
        return {
            ast.Eq: lambda: left == right, ast.NotEq: lambda: left != right, ast.Gt: lambda: left > right,
            ast.GtE: lambda: left >= right, ast.Lt: lambda: left < right, ast.LtE: lambda: left <= right,
            ast.In: lambda: left in right, ast.NotIn: lambda: left not in right,
            ast.Is: lambda: left is right, ast.IsNot: lambda: left is not right,
        }[type(op)]()
    except (TypeError, KeyError):
        raise _Unknown from None


# --- the analysis rules read ---------------------------------------------------------------------


@dataclass
class Hit:
    """One place a rule found something: its verdict, a sentence, and the events behind it."""

    status: str
    message: str
    events: tuple


class Analysis:
    """The program model plus what the logs say ran, and the shared views the rules use."""

    def __init__(self, source: DecodedSource, logs: dict[str, str], policy: str, source_name: str):
        self.source, self.policy, self.source_name = source, policy, source_name
        self.program = Program(source.tree)
        self.knobs = Knobs(self.program.nodes, self.program.aliases, self.program.constants)
        self.log_body = "\n".join(_log_body(text) for text in (logs or {}).values())
        self.on = self._knobs_on()
        self.live_default = self._live(open_all=False)
        self.live_open = self._live(open_all=True)
        self.events = [e for f in self.program.functions for e in f.events]
        self._classified: dict[int, tuple[str, tuple]] = {}
        self.has_score = self._closure(lambda f: any(e.kind == "ACC" and e.flags & VAL for e in f.events))
        self.has_train = self._closure(lambda f: any(self.is_ttt(e) for e in f.events))
        self.has_update = self._closure(lambda f: any(e.kind == "UPD" and e.flags & VAL for e in f.events))
        self.has_selection = self._closure(lambda f: _selects_by_score(f))
        self.has_serial = self._closure(lambda f: any(e.kind == "SERIAL" for e in f.events))
        self.has_train_read = self._closure(lambda f: any(e.kind == "TREAD" and e.own & TRAIN for e in f.events))

    def _knobs_on(self) -> frozenset[str]:
        """Knobs the logs print with a truthy value; settings tokens are then cut from the text that
        progress-line markers are searched in, so `prequant_ttt:0` is not taken for a TTT line."""
        names = {name.lower(): key for key in self.knobs.exprs for name in {key, *self.knobs.envs(key)}}
        on: set[str] = set()

        def cut_setting(match: re.Match) -> str:
            key = names.get(match.group(1).lower())
            if key is None:
                return match.group(0)
            if match.group(2).lower() not in _FALSY:
                on.update({key.lower(), *(env.lower() for env in self.knobs.envs(key))})
            return " "

        self.progress_text = _SETTING.sub(cut_setting, self.log_body)
        return frozenset(on)

    def _live(self, open_all: bool) -> set[int]:
        live, changed = {id(self.program.module)}, True
        while changed:
            changed = False
            for function in self.program.functions:
                if id(function) in live:
                    continue
                if any(id(source) in live and (open_all or not self.any_off(guards)) for source, guards in function.refs):
                    live.add(id(function))
                    changed = True
        return live

    def _closure(self, direct: Callable[[Function], bool]) -> set[int]:
        found = {id(f) for f in self.program.functions if direct(f)}
        changed = True
        while changed:
            changed = False
            for f in self.program.functions:
                if id(f) not in found and any(e.kind == "CALL" and any(id(c) in found for c in e.callees) for e in f.events):
                    found.add(id(f))
                    changed = True
        return found

    def any_off(self, guards: tuple) -> bool:
        return any(self.knobs.off(guard, self.on) for guard in guards)

    # Liveness of one event.

    def state(self, event: Event, markers: str | None) -> str:
        if id(event.func) in self.live_default and not self.any_off(event.guards):
            return "live"
        if id(event.func) in self.live_open:
            return "ran" if markers and re.search(markers, self.progress_text, re.I) else "gated"
        return "unreachable"

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
        lines = sorted({e.line for e in events if e is not None and e.line})
        return tuple(f"{self.source_name}:{line}" for line in lines[:12])

    def kind(self, kind: str, flag: int = 0) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (not flag or e.flags & flag)]

    def in_training_loop(self, event: Event) -> Event | None:
        for read in event.func.events:
            if read.kind == "TREAD" and set(map(id, read.loops)) & set(map(id, event.loops)):
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

    def scores_in(self, function: Function) -> list[Event]:
        return [e for e in function.events if (e.kind == "ACC" and e.flags & VAL)
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
                if any(kind == "if" and names_in(test) & loop_vars for test, _, kind in score.guards):
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


def _selects_by_score(function: Function) -> bool:
    """Keeps whatever scores best: `if loss < best_loss:`, `argmin(losses)`: a fit, not a plain evaluation."""
    for node in own_nodes(function):
        if isinstance(node, (ast.If, ast.IfExp)) and isinstance(node.test, ast.Compare) and isinstance(
                node.test.ops[0], (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
            if any(is_score(name) or "best" in name for name in names_in(node.test)):
                return True
        if isinstance(node, ast.Call) and base_name(node.func) in {"argmin", "argmax", "minimize", "minimize_scalar"}:
            return True
    return False


def _holds(body, node: ast.AST) -> bool:
    return isinstance(body, list) and any(s.lineno <= node.lineno <= (s.end_lineno or s.lineno) for s in body)


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


def verdict(a: Analysis, rule_id: str, hits: list[Hit], clean: str, markers: str | None = None) -> Finding:
    """Fold a rule's hits into its one Finding: live hits decide, dead ones are INFO."""
    rank = {FAIL: 3, WARN: 2, PASS: 1, INFO: 0}
    live, dead = [], []
    for hit in hits:
        state = a.state(hit.events[0], markers)
        (live if state in ("live", "ran") else dead).append((hit, state))
    if live:
        worst = max(rank[h.status] for h, _ in live)
        chosen = [(h, s) for h, s in live if rank[h.status] == worst]
        hit, state = chosen[0]
        extra = f"; {len(chosen) - 1} more place(s)" if len(chosen) > 1 else ""
        ran = " (gated off by default, but the log shows it ran)" if state == "ran" else ""
        return Finding(rule_id, hit.status, f"{hit.message}{ran}{extra}{a.note}",
                       a.where(*(e for h, _ in chosen for e in h.events)))
    if dead:
        hit, state = dead[0]
        gates = a.gates(hit.events[0])
        why = (f"gated off by {', '.join(gates)} (default off) and no log shows it ran" if state == "gated" and gates
               else "gated off by default and no log shows it ran" if state == "gated"
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
    """The analysis of a record folder's script (golf.facts.Context), or why there is none."""
    script = context.record.script
    if script.decoded is None or script.decoded.tree is None:
        return Unanalysable(INFO, "not checked: no script that parses")
    logs = {log.name: log.text for log in context.record.logs}
    return analyse_source(script.decoded, logs, context.policy, script.name)


def analyse_source(source: DecodedSource, logs: dict[str, str] | None = None, policy: str = "strict",
                   source_name: str = "train_gpt.py") -> Analysis | Unanalysable:
    """The analysis of one decoded script judged with what its logs show ran."""
    if policy not in POLICIES:
        raise InputError(f"unknown compliance policy {policy!r}: use one of {', '.join(POLICIES)}")
    if source.tree is None:
        return Unanalysable(WARN, f"cannot analyse {source_name}: it does not parse ({source.syntax_error})",
                            (source_name,))
    try:
        return Analysis(source, logs or {}, policy, source_name)
    except RecursionError:
        return Unanalysable(WARN, f"cannot analyse {source_name}: expressions nested too deeply for the "
                                  "checker; review by hand", (source_name,))
