"""Parse one training log of any dialect in RULES.md into the figures the tools need.

Public API:
    Located                 a figure and the 1-based physical line it came from (0: the file name)
    MetricLine              one `<label> val_loss:<x> val_bpb:<y>` line (also `=` and `sliding` forms)
    BpbFigure               any BPB value the log prints as a score (see RunLog.bpb_figures)
    StepLine                one `step:i/n ...` line (training or periodic validation)
    RunLog                  everything parsed from one log; `final` is the score per RULES.md §6
    Gap                     the lines a head-and-tail read skipped, to keep line numbers physical
    parse_log_text(text, name, gap=None) -> RunLog
    parse_log_file(path, name=None, max_bytes=None) -> RunLog
    looks_like_train_log(path) -> bool
    choose_final(metric_lines) -> (MetricLine | None, reason)
    display_label(line) -> str      the label as the log spells it (`..._exact sliding`)
    matches_claim(line, claimed_bpb) -> bool   the line's value equals a claim to the printed precision
    printed_decimals(value) -> int

The parser never raises on content: invalid UTF-8 is replaced, binary junk is noise, lines past
MAX_LINE_CHARS are cut, and files are streamed line by line. Only the header (what comes before
the first `step:` line) is buffered, and only up to HEADER_BUFFER_CHARS, to tell the script
source that baseline logs print first from the log lines after it.
"""
from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from golf.findings import InputError

MAX_LINE_CHARS = 65_536
HEADER_BUFFER_CHARS = 4_000_000  # record scripts reach 158 KB; junk past this is read as log lines
LOG_SUFFIXES = (".log", ".txt")
SNIFF_HEAD_BYTES = 1 << 20
SNIFF_TAIL_BYTES = 1 << 16

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
# Timestamps, `[rank0]:` and logging-level prefixes that newer scripts put before each line.
_LINE_PREFIX = re.compile(
    r"^(?:\s*(?:\[[^\]]{0,48}\]:?"
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])"
    r"|\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\w:])"
    r"|(?:INFO|DEBUG|WARNING)(?::[\w.]*:|(?![\w:])))"
    r"(?:\s*[-|](?=\s))?)+"
)
_SEPARATOR = re.compile(r"^={20,}$")
_PYTHON_LINE = re.compile(r"^(?:import \w|from [\w.]+ import |def \w+\(|class \w+[(:]|if __name__ ==)")
_STEP = re.compile(r"^step:\s*(\d+)(?:\s*/\s*(\d+))?(?=\s|$)(.*)$")
_BARE_STEP = re.compile(r"^(\d+)\s*/\s*(\d+)\s+((?:train_loss|val_loss)\b.*)$")
_WARMUP_STEP = re.compile(r"^warmup_step:\s*\d")
_KEY_NUMBER = re.compile(r"(?<![A-Za-z_])([A-Za-z_]+)\s*[:=]\s*(" + _NUMBER + r")\s*(ms|s|m)?(?![\w.])")
# Possessive label tokens keep long junk lines linear: a lazy `.*?\s+` is quadratic on whitespace runs.
_METRIC = re.compile(
    r"^(?P<label>\S++(?:\s++(?!(?:sliding\s++)?val_loss)\S++)*+)"
    r"\s++(?P<sliding>sliding\s++)?val_loss\s*[:=]\s*(?P<loss>" + _NUMBER + r")"
    r"\s++(?:sliding\s++)?val_bpb\s*[:=]\s*(?P<bpb>" + _NUMBER + r")(?P<rest>.*)$",
    re.IGNORECASE,
)
_NUMERIC_OPTION = re.compile(r"^\(?\w+[:=]" + _NUMBER + r"\w*\)?$")
_DIAGNOSTIC_LABEL = re.compile(r"diagnostic|pre[-_ ]?quant|post[-_ ]ema|(?<!\d)\d+/\d", re.IGNORECASE)
_EVAL_TIME = re.compile(r"\beval_time\s*[:=]\s*(" + _NUMBER + r")\s*(ms|s)?", re.IGNORECASE)
_STOPPING_EARLY = re.compile(r"^stopping_early\s*:\s*(\S+)(.*)$")
_SERIALIZED = re.compile(r"^Serialized model(?P<label>[^:]*):\s*(?P<bytes>\d[\d,]*)\s*bytes", re.IGNORECASE)
_TOTAL = re.compile(r"^Total submission size(?P<label>[^:]*):\s*(?P<bytes>\d[\d,]*)\s*bytes", re.IGNORECASE)
_CODE = re.compile(r"^Code size\s*(?:\((?P<kind>[^)]*)\))?\s*:\s*(?P<bytes>\d[\d,]*)", re.IGNORECASE)
_HESSIANS = re.compile(r"^GPTQ:\s*collected\s+\d+\s+Hessians\s+in\s+(" + _NUMBER + r")\s*s", re.IGNORECASE)
_GPTQ_RESERVE = re.compile(r"^gptq:\s*reserving\s+(" + _NUMBER + r")\s*s", re.IGNORECASE)
_TOTAL_EVAL_TIME = re.compile(r"^total_eval_time\s*[:=]\s*(" + _NUMBER + r")\s*(ms|s)?", re.IGNORECASE)
_TTT_WARMUP = re.compile(r"^ttt_lora:\s*compile warmup done\s*\((" + _NUMBER + r")\s*s\)", re.IGNORECASE)
_VAL_LOADER_TOKENS = re.compile(r"^val_loader:.*?\btokens\s*:\s*(\d+)")
_VAL_TOKENS = re.compile(r"^val_tokens\s*[:=]\s*(\d+)")
_PYTHON_VERSION = re.compile(r"^Running Python\s+(\S+)")
_PYTORCH_VERSION = re.compile(r"^Running PyTorch\s+(\S+)")
_SMI_GPU = re.compile(r"^\|\s*+\d++\s++(\S++(?: \S++)*+)\s{2,}+(?:On|Off)\s*\|")
_LISTED_GPU = re.compile(r"^GPU \d+:([^(]+)\(UUID")
_SEED_LINE = re.compile(r"(?<![\w.])seed\s*[:=]\s*(\d+)\b", re.IGNORECASE)
_SEED_FILE_NAME = re.compile(r"seed[_\-]?(\d+)", re.IGNORECASE)
_SETTING = re.compile(r"(?<!\S)([A-Za-z_][\w.\-]*)[:=]\s*(\S+)")
_LOG_EVIDENCE = re.compile(rb"(?m)(?:^|\s)(?:step:\s*\d+/\d+|val_bpb\s*[:=]\s*\d)")
_TIME_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0}
# Any `<word>bpb` figure (`ppm_mix val_bpb:0.82`, `mix_bpb=1.0042`, `"post_ttt_val_bpb": 1.0629`), for lines
# that are neither metric nor step lines; per-batch and difference figures are no score.
_BPB_FIGURE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z_]*bpb)[\"']?\s*[:=]?\s*(" + _NUMBER + r")(?![\w.])", re.IGNORECASE)
_NOT_A_SCORE = re.compile(r"batch|gain|delta|gap|diff|std", re.IGNORECASE)
# A pass still under way: `[51/1893]`, `batch 766/782`, `[  4.0%]`.
_PROGRESS = re.compile(r"(?<![\w./])(\d+)\s*/\s*(\d+)(?![\w./])|(?<![\w.])(\d+(?:\.\d+)?)\s*%")


@dataclass(frozen=True)
class Located:
    """A figure from a log and the 1-based physical line it is on (0 when taken from the file name)."""

    value: float | int | str
    line: int


@dataclass(frozen=True)
class MetricLine:
    """A final-style metric line.

    `label` is the words before val_loss with `_exact` and numeric options (`stride:64`) removed,
    plus " sliding" for the `sliding val_loss:..` form, so a line and its `_exact` twin share it.
    """

    label: str
    val_loss: float
    val_bpb: float
    line: int
    exact: bool
    eval_time_ms: float | None
    diagnostic: bool
    text: str
    bpb_decimals: int


@dataclass(frozen=True)
class Gap:
    """Lines a read skipped: `lines` physical lines (`size` bytes) after text line `after`.

    Text lines up to `after` are physical lines of the same number; later ones are `lines` further on.
    """

    after: int
    lines: int
    size: int

    def physical(self, text_line: int) -> int:
        return text_line + self.lines if text_line > self.after else text_line

    def text_line(self, physical: int) -> int:
        """The text line of a physical one; a line inside the gap maps to the last one before it."""
        return physical - self.lines if physical > self.after + self.lines else min(physical, self.after)


@dataclass(frozen=True, slots=True)
class BpbFigure:
    """A BPB value the log prints, the 1-based line it is on, and the decimals it was printed with."""

    value: float
    line: int
    decimals: int


@dataclass(frozen=True, slots=True)
class StepLine:
    """A `step:i/n` line; times are in milliseconds whatever unit the log used."""

    step: int
    total: int | None
    train_loss: float | None
    val_loss: float | None
    val_bpb: float | None
    train_time_ms: float | None
    step_avg_ms: float | None
    line: int


@dataclass
class RunLog:
    """Everything the tools need from one log. Byte figures never come from unlabelled lines."""

    name: str
    seed: Located | None = None
    metric_lines: list[MetricLine] = field(default_factory=list)
    final: MetricLine | None = None
    final_reason: str = ""
    steps: list[StepLine] = field(default_factory=list)
    model_bytes: Located | None = None
    total_bytes: Located | None = None
    raw_model_bytes: Located | None = None  # unlabelled fp32/bf16 checkpoint: never for the cap
    raw_total_bytes: Located | None = None
    code_bytes: Located | None = None
    code_bytes_compressed: Located | None = None
    size_label: str | None = None
    train_time_ms: Located | None = None
    stopped_early: Located | None = None  # value: the reason word, e.g. "wallclock_cap"
    final_step: Located | None = None
    median_step_ms: float | None = None
    calibration_s: Located | None = None  # `GPTQ:collected N Hessians in Xs` (training data)
    gptq_reserve_s: Located | None = None
    ttt_warmup_s: Located | None = None  # logged outside total_eval_time (RULES.md §2)
    eval_time_ms: float | None = None
    eval_time_lines: list[int] = field(default_factory=list)
    val_tokens: Located | None = None
    gpu_lines: list[Located] = field(default_factory=list)
    embedded_source: str | None = None
    pytorch_version: str | None = None
    python_version: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    # Every BPB the log prints that could be a score: metric lines (diagnostic ones too), periodic
    # validation at step lines, and other `<word>bpb` figures outside the script's source, less
    # passes still under way (a `n/m` counter short of m, a percentage short of 100).
    bpb_figures: list[BpbFigure] = field(default_factory=list)
    line_count: int = 0
    read_truncated: bool = False  # parse_log_file stopped at max_bytes

    @property
    def complete(self) -> bool:
        """True when the log has a score line (a final non-diagnostic metric line)."""
        return self.final is not None


def parse_log_text(text: str, name: str, gap: Gap | None = None) -> RunLog:
    """Parse a log held in memory; line numbers count "\\n"-separated physical lines, past `gap` if any."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cut = (line.rstrip("\r")[:MAX_LINE_CHARS] for line in lines)
    if gap is None:
        return _parse_lines(cut, name)
    return _parse_numbered(((gap.physical(number), line) for number, line in enumerate(cut, start=1)), name)


def parse_log_file(path: Path, name: str | None = None, max_bytes: int | None = None) -> RunLog:
    """Stream a log from disk; raises InputError only when the file cannot be opened."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as error:
        raise InputError(f"cannot open log {path}: {error.strerror or error}; check the path and permissions") from error
    with handle:
        run = _parse_lines(_physical_lines(handle, max_bytes), name or path.name)
        run.read_truncated = max_bytes is not None and handle.tell() >= max_bytes and handle.read(1) != b""
    return run


def looks_like_train_log(path: Path) -> bool:
    """Cheap test for record folders: a .log/.txt file (or any file under logs/) with a step or val_bpb line."""
    path = Path(path)
    if path.suffix.lower() not in LOG_SUFFIXES and path.parent.name != "logs":
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_HEAD_BYTES)
            size = path.stat().st_size
            if size > SNIFF_HEAD_BYTES:
                handle.seek(max(SNIFF_HEAD_BYTES, size - SNIFF_TAIL_BYTES))
            tail = handle.read(SNIFF_TAIL_BYTES)
    except OSError:
        return False
    return bool(_LOG_EVIDENCE.search(head) or _LOG_EVIDENCE.search(tail))


def choose_final(metric_lines: list[MetricLine]) -> tuple[MetricLine | None, str]:
    """RULES.md §6: drop diagnostic lines, take the last remaining line, prefer its `_exact` twin."""
    candidates = [line for line in metric_lines if not line.diagnostic]
    if not candidates:
        if not metric_lines:
            return None, "no metric line"
        return None, f"no non-diagnostic metric line ({len(metric_lines)} diagnostic line(s) ignored)"
    last = candidates[-1]
    if last.exact:
        earlier = candidates[-2] if len(candidates) > 1 else None
        twin_note = f", the _exact twin of line {earlier.line}" if earlier and _are_twins(earlier, last) else ""
        return last, f"last non-diagnostic metric line: {display_label(last)} at line {last.line}{twin_note}"
    twin = next((line for line in reversed(candidates[:-1]) if line.exact and _are_twins(line, last)), None)
    if twin:
        return twin, (f"last non-diagnostic metric line is {last.label} at line {last.line}; "
                      f"using its _exact twin at line {twin.line}")
    return last, f"last non-diagnostic metric line: {last.label} at line {last.line} (no _exact twin)"


def display_label(line: MetricLine) -> str:
    """The label as the log spells it: `final_x_exact sliding` for an exact sliding-form line."""
    if not line.exact:
        return line.label
    first, _, rest = line.label.partition(" ")
    return f"{first}_exact {rest}".strip()


def printed_decimals(value: float) -> int:
    """Decimals a float shows when printed (1.0894 -> 4); used to compare at printed precision."""
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0
    return len(text.split(".")[1].rstrip("0"))


def matches_claim(line: MetricLine, claimed_bpb: float) -> bool:
    """True when the line's val_bpb equals a claimed value to the coarser of the two precisions."""
    decimals = min(line.bpb_decimals, printed_decimals(claimed_bpb))
    return abs(line.val_bpb - claimed_bpb) <= 0.5 * 10.0 ** -decimals + 1e-12


def _unfinished(progress: re.Match) -> bool:
    """A `n/m` counter short of m, or a percentage short of 100."""
    if progress.group(3) is not None:
        return float(progress.group(3)) < 100
    return int(progress.group(1)) < int(progress.group(2))


def _are_twins(a: MetricLine, b: MetricLine) -> bool:
    decimals = min(a.bpb_decimals, b.bpb_decimals)
    return a.label == b.label and a.exact != b.exact and abs(a.val_bpb - b.val_bpb) <= 0.5 * 10.0 ** -decimals + 1e-12


def _physical_lines(stream: BinaryIO, max_bytes: int | None) -> Iterator[str]:
    """Yield decoded physical lines, cutting overlong ones so memory stays bounded."""
    remaining = max_bytes if max_bytes is not None else float("inf")
    while remaining > 0:
        chunk = stream.readline(int(min(MAX_LINE_CHARS, remaining)))
        if not chunk:
            return
        remaining -= len(chunk)
        kept = chunk
        while not chunk.endswith(b"\n") and remaining > 0:  # overlong line: skip its tail
            chunk = stream.readline(int(min(MAX_LINE_CHARS, remaining)))
            if not chunk:
                break
            remaining -= len(chunk)
        yield kept.decode("utf-8", errors="replace").rstrip("\r\n")


def _parse_lines(lines: Iterable[str], name: str) -> RunLog:
    return _parse_numbered(enumerate(lines, start=1), name)


def _parse_numbered(lines: Iterable[tuple[int, str]], name: str) -> RunLog:
    parser = _Parser(RunLog(name=name))
    for number, raw in lines:
        parser.feed(number, raw)
    return parser.finish()


def _strip_prefix(raw: str) -> str:
    match = _LINE_PREFIX.match(raw)
    return (raw[match.end():] if match else raw).strip()


def _to_ms(value: str, unit: str | None) -> float:
    return float(value) * _TIME_UNIT_MS[(unit or "ms").lower()]


def _numbers_with_units(text: str) -> dict[str, tuple[str, str]]:
    """`key:12.5ms`-style figures on a line, keyed by lower-case key: {key: (number, unit)}."""
    return {key.lower(): (value, unit) for key, value, unit in _KEY_NUMBER.findall(text)}


def _size_label(text: str) -> str:
    """`int8+zlib` from ` int8+zlib` or ` (int6+lzma)`; empty for the unlabelled raw checkpoint."""
    return text.strip().strip("()").strip()


def _byte_count(text: str) -> int:
    return int(text.replace(",", ""))


class _Parser:
    """Line-by-line state machine. Header sections between `=====` lines are buffered so that a
    section holding Python source becomes `embedded_source` instead of being read as log lines."""

    def __init__(self, run: RunLog) -> None:
        self.run = run
        self.training_started = False
        self.buffering = True
        self.section: list[tuple[int, str]] = []
        self.section_chars = 0
        self.section_is_python = False

    def feed(self, number: int, raw: str) -> None:
        self.run.line_count = number
        content = _strip_prefix(raw)
        if self.buffering:
            if _SEPARATOR.match(content):
                self._close_section()
                return
            if _STEP.match(content) or _BARE_STEP.match(content) or _WARMUP_STEP.match(content):
                self._replay_section()
                self.buffering = False
            else:
                self.section.append((number, raw))
                self.section_chars += len(raw)
                self.section_is_python = self.section_is_python or bool(_PYTHON_LINE.match(content))
                if self.section_chars >= HEADER_BUFFER_CHARS:
                    self._replay_section()
                    self.buffering = False
                return
        self._interpret(number, content)

    def finish(self) -> RunLog:
        self._close_section()
        run = self.run
        run.final, run.final_reason = choose_final(run.metric_lines)
        self._finish_training_time()
        self._finish_eval_time()
        if run.seed is None:
            match = _SEED_FILE_NAME.search(Path(run.name).name)
            run.seed = Located(int(match.group(1)), 0) if match else None
        return run

    def _close_section(self) -> None:
        if self.section_is_python and self.run.embedded_source is None:
            self.run.embedded_source = "\n".join(raw for _, raw in self.section)
            self.section = []
        self._replay_section()

    def _replay_section(self) -> None:
        for number, raw in self.section:
            self._interpret(number, _strip_prefix(raw))
        self.section = []
        self.section_chars = 0
        self.section_is_python = False

    def _interpret(self, number: int, content: str) -> None:
        if not content or _SEPARATOR.match(content):
            return
        if self._take_step(number, content) or self._take_metric(number, content):
            return
        if self._take_size(number, content) or self._take_timing(number, content):
            return
        self._take_bpb_figures(number, content)
        self._take_header_facts(number, content)
        if not self.training_started and content[0] not in "|+":
            self._take_settings(content)

    def _take_step(self, number: int, content: str) -> bool:
        match = _STEP.match(content) or _BARE_STEP.match(content)
        if not match:
            if _WARMUP_STEP.match(content):
                self.training_started = True
                return True
            return False
        self.training_started = True
        values = _numbers_with_units(match.group(3))
        if not values:  # a line cut short by a crash or a truncated copy
            return True

        def number_of(key: str) -> float | None:
            return float(values[key][0]) if key in values else None

        def ms_of(key: str) -> float | None:
            return _to_ms(*values[key]) if key in values else None

        total = int(match.group(2)) if match.group(2) else None
        if "val_bpb" in values:
            self._add_bpb(values["val_bpb"][0], number)
        self.run.steps.append(StepLine(int(match.group(1)), total, number_of("train_loss"), number_of("val_loss"),
                                       number_of("val_bpb"), ms_of("train_time"), ms_of("step_avg"), number))
        return True

    def _take_metric(self, number: int, content: str) -> bool:
        match = _METRIC.match(content) if "val_bpb" in content.lower() else None
        if not match:
            return False
        words = [word for word in match.group("label").split() if not _NUMERIC_OPTION.match(word)]
        exact = bool(words) and words[0].lower().endswith("_exact")
        if exact:
            words[0] = words[0][: -len("_exact")]
        if match.group("sliding"):
            words.append("sliding")
        label = " ".join(words)
        eval_time = _EVAL_TIME.search(match.group("rest"))
        bpb_text = match.group("bpb")
        self._add_bpb(bpb_text, number)
        self.run.metric_lines.append(MetricLine(
            label=label,
            val_loss=float(match.group("loss")),
            val_bpb=float(bpb_text),
            line=number,
            exact=exact,
            eval_time_ms=_to_ms(eval_time.group(1), eval_time.group(2)) if eval_time else None,
            diagnostic=bool(_DIAGNOSTIC_LABEL.search(label)),
            text=content,
            bpb_decimals=len(bpb_text.split(".")[1]) if "." in bpb_text else 0,
        ))
        return True

    def _take_bpb_figures(self, number: int, content: str) -> None:
        if ("bpb" not in content and "BPB" not in content) or any(map(_unfinished, _PROGRESS.finditer(content))):
            return
        for match in _BPB_FIGURE.finditer(content):
            if not _NOT_A_SCORE.search(match.group(1)):
                self._add_bpb(match.group(2), number)

    def _add_bpb(self, text: str, number: int) -> None:
        value = float(text)
        if math.isfinite(value) and value > 0:  # 0.0 initialises an accumulator; it is never a score
            mantissa = text.lower().split("e")[0]
            decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
            self.run.bpb_figures.append(BpbFigure(value, number, decimals))

    def _take_size(self, number: int, content: str) -> bool:
        run = self.run
        if match := _SERIALIZED.match(content):
            label = _size_label(match.group("label"))
            located = Located(_byte_count(match.group("bytes")), number)
            if label:
                run.model_bytes, run.size_label = located, label
            else:
                run.raw_model_bytes = located
        elif match := _TOTAL.match(content):
            located = Located(_byte_count(match.group("bytes")), number)
            if _size_label(match.group("label")):
                run.total_bytes = located
            else:
                run.raw_total_bytes = located
        elif match := _CODE.match(content):
            kind = (match.group("kind") or "").lower()
            located = Located(_byte_count(match.group("bytes")), number)
            if "compressed" in kind and "uncompressed" not in kind:
                run.code_bytes_compressed = located
            else:
                run.code_bytes = located
        else:
            return False
        return True

    def _take_timing(self, number: int, content: str) -> bool:
        run = self.run
        if match := _STOPPING_EARLY.match(content):
            self.training_started = True
            run.stopped_early = Located(match.group(1), number)
            values = _numbers_with_units(match.group(2))
            if "train_time" in values:
                run.train_time_ms = Located(_to_ms(*values["train_time"]), number)
            if "step" in values:
                run.final_step = Located(int(float(values["step"][0])), number)
        elif match := _HESSIANS.match(content):
            run.calibration_s = Located(float(match.group(1)), number)
        elif match := _GPTQ_RESERVE.match(content):
            run.gptq_reserve_s = Located(float(match.group(1)), number)
        elif match := _TOTAL_EVAL_TIME.match(content):
            run.eval_time_ms = _to_ms(match.group(1), match.group(2) or "s")
            run.eval_time_lines = [number]
        elif match := _TTT_WARMUP.match(content):
            run.ttt_warmup_s = Located(float(match.group(1)), number)
        else:
            return False
        return True

    def _take_header_facts(self, number: int, content: str) -> None:
        run = self.run
        if run.val_tokens is None and (match := _VAL_LOADER_TOKENS.match(content) or _VAL_TOKENS.match(content)):
            run.val_tokens = Located(int(match.group(1)), number)
        elif match := _PYTHON_VERSION.match(content):
            run.python_version = run.python_version or match.group(1)
        elif match := _PYTORCH_VERSION.match(content):
            run.pytorch_version = run.pytorch_version or match.group(1)
        elif match := _SMI_GPU.match(content) or _LISTED_GPU.match(content):
            run.gpu_lines.append(Located(match.group(1).strip(), number))
        if run.seed is None and not self.training_started and (match := _SEED_LINE.search(content)):
            run.seed = Located(int(match.group(1)), number)

    def _take_settings(self, content: str) -> None:
        """`key:value`/`key=value` tokens; a line holding one `key: value` keeps the whole rest as value."""
        matches = list(_SETTING.finditer(content))
        if len(matches) == 1 and matches[0].start() == 0:
            self.run.settings.setdefault(matches[0].group(1), content[matches[0].start(2):])
            return
        for match in matches:
            self.run.settings.setdefault(match.group(1), match.group(2))

    def _finish_training_time(self) -> None:
        run = self.run
        timed = [step for step in run.steps if step.train_time_ms is not None]
        if run.train_time_ms is None and timed:
            run.train_time_ms = Located(timed[-1].train_time_ms, timed[-1].line)
        if run.final_step is None and run.steps:
            run.final_step = Located(run.steps[-1].step, run.steps[-1].line)
        rates = [(after.train_time_ms - before.train_time_ms) / (after.step - before.step)
                 for before, after in zip(timed, timed[1:]) if after.step > before.step]
        if rates and statistics.median(rates) > 0:
            run.median_step_ms = statistics.median(rates)
        elif timed and timed[-1].step_avg_ms is not None:
            run.median_step_ms = timed[-1].step_avg_ms
        elif timed and timed[-1].step > 0:  # times printed in minutes: consecutive steps look 0 ms apart
            run.median_step_ms = timed[-1].train_time_ms / timed[-1].step

    def _finish_eval_time(self) -> None:
        """Without `total_eval_time`, sum the eval_time of every non-diagnostic pass (RULES.md §2),
        counting an `_exact` line only when it is not the twin of the line just before it."""
        run = self.run
        if run.eval_time_lines:
            return
        total, lines, previous = 0.0, [], None
        for metric in run.metric_lines:
            if not metric.diagnostic and metric.eval_time_ms is not None:
                if not (metric.exact and previous and previous.label == metric.label and previous.eval_time_ms is not None):
                    total += metric.eval_time_ms
                    lines.append(metric.line)
            previous = metric
        if lines:
            run.eval_time_ms, run.eval_time_lines = total, lines
