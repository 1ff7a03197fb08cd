"""golf.checks on the record fixtures: one row per (rule id, fixture, options) and the status it must give.

The fixtures under tests/fixtures/records are complete record folders in the real log dialects
(see make_fixtures.py there); each differs from BaselinePass in the one way its name says.
The status compared is the worst one the rule reports (FAIL > WARN > PASS > INFO).
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from golf.checks import POLICIES, RecordResult, check_record, describe_checks, infer_track, load_sota
from golf.facts import Context, Sota
from golf.findings import FAIL, INFO, PASS, WARN, InputError
from golf.record import load_record
from golf.rules import COMPLIANCE_IDS, IDS, REGISTRY

RECORDS = Path(__file__).resolve().parent / "fixtures" / "records"
SOTA_DIR = "SotaPrevious"


def fixture(name: str) -> Path:
    """A fixture folder by its short name (the part after the date)."""
    matches = sorted(RECORDS.glob(f"track_*/*_{name}"))
    assert len(matches) == 1, f"fixture {name!r} not found under {RECORDS}"
    return matches[0]


def result_of(name: str, **options) -> RecordResult:
    if options.get("sota") == SOTA_DIR:
        options["sota"] = str(fixture(SOTA_DIR))
    return check_record(fixture(name), **options)


def findings(result: RecordResult, rule: str):
    return [finding for finding in result.findings if finding.id == rule]


# (rule id, fixture, options, expected worst status)
CASES = [
    ("files", "BaselinePass", {}, PASS),
    ("files", "FilesNoScript", {}, FAIL),
    ("files", "FilesNoLogs", {}, FAIL),
    ("files", "FilesOtherScriptName", {}, WARN),
    ("files", "FilesNoRequirements", {}, WARN),
    ("submission_json", "BaselinePass", {}, PASS),
    ("submission_json", "EvalOnlyRerun", {}, PASS),
    ("submission_json", "JsonInvalid", {}, FAIL),
    ("submission_json", "JsonMeanMismatch", {}, WARN),
    ("submission_json", "JsonBetterThanLogs", {}, FAIL),
    ("submission_json", "JsonClaimsEarlierLine", {}, WARN),
    ("submission_json", "JsonMissingKeys", {}, WARN),
    ("code", "BaselinePass", {}, PASS),
    ("code", "CodeWrappedLzma", {}, PASS),
    ("code", "BoobyTrapWrapped", {}, PASS),
    ("code", "CodeSyntaxError", {}, FAIL),
    ("code", "CodeLogFromOtherScript", {}, WARN),
    ("code", "CodeLogCommentsOnly", {}, WARN),
    ("code", "CodeDecompressionBomb", {}, FAIL),
    ("code", "CodeBz2Bomb", {}, FAIL),
    ("code", "FilesNoScript", {}, INFO),
    ("artifact_size", "BaselinePass", {}, PASS),
    ("artifact_size", "ModernScoreFirstTTT", {}, PASS),
    ("artifact_size", "ArtifactOverCap", {}, FAIL),
    ("artifact_size", "ArtifactCompressedCode", {}, WARN),
    ("artifact_size", "ArtifactExecSidecar", {}, WARN),
    ("train_time", "BaselinePass", {}, PASS),
    ("train_time", "ModernScoreFirstTTT", {}, PASS),
    ("train_time", "TrainTimeOver", {}, FAIL),
    ("train_time", "TrainTimeOneStepOver", {}, WARN),
    ("train_time", "TrainTimeCalibration", {}, WARN),
    ("train_time", "NonRecordLongRun", {}, INFO),
    ("eval_time", "BaselinePass", {}, PASS),
    ("eval_time", "EvalTimeOver", {}, FAIL),
    ("eval_time", "EvalTimeMissing", {}, WARN),
    ("eval_time", "ModernScoreFirstTTT", {}, WARN),
    ("eval_time", "NonRecordLongRun", {}, INFO),
    ("seeds", "BaselinePass", {}, PASS),
    ("seeds", "EvalOnlyRerun", {}, PASS),
    ("seeds", "SeedsIncomplete", {}, FAIL),
    ("seeds", "SeedsTooFew", {}, WARN),
    ("seeds", "FilesNoLogs", {}, FAIL),
    ("seeds", "SeedsRepeated", {}, WARN),
    ("seeds", "NonRecordLongRun", {}, INFO),
    ("final_line", "BaselinePass", {}, INFO),
    ("significance", "BaselinePass", {"sota": SOTA_DIR}, PASS),
    ("significance", "BaselinePass", {"sota": 1.2400}, PASS),
    ("significance", "BaselinePass", {}, WARN),
    ("significance", "BaselinePass", {"sota": 1.2250}, WARN),
    ("significance", "SeedsTooFew", {"sota": 1.2400}, WARN),
    ("significance", "BaselinePass", {"sota": 1.2200}, FAIL),
    ("significance", "NonRecordLongRun", {}, INFO),
    ("bpb_bytes", "BaselinePass", {}, PASS),
    ("bpb_bytes", "EvalOnlyRerun", {}, PASS),
    ("bpb_bytes", "BpbBytesInflated", {}, FAIL),
    ("bpb_bytes", "BpbBytesNoTokens", {}, INFO),
    ("hardware", "BaselinePass", {}, PASS),
    ("hardware", "HardwarePCIe", {}, WARN),
    ("hardware", "ModernScoreFirstTTT", {}, INFO),
    ("track", "BaselinePass", {}, INFO),
    ("provenance", "BaselinePass", {}, INFO),
]


@pytest.mark.parametrize("rule, name, options, expected", CASES,
                         ids=[f"{rule}-{name}-{'-'.join(map(str, options.values())) or 'default'}" for rule, name, options, _ in CASES])
def test_rule_status(rule, name, options, expected):
    result = result_of(name, **options)
    assert result.statuses().get(rule) == expected, [f"{f.status} {f.message}" for f in findings(result, rule)]


def test_every_rule_has_a_passing_and_a_failing_fixture():
    outcomes: dict[str, set[str]] = {}
    for rule, _, _, expected in CASES:
        outcomes.setdefault(rule, set()).add(expected)
    for rule in REGISTRY:
        if rule.id in ("track", "final_line") or rule.id in COMPLIANCE_IDS:  # report-only; compliance: test_compliance.py
            continue
        if rule.id == "provenance":  # needs real patch files: pass and fail cases in tests/test_patches.py
            continue
        assert outcomes.get(rule.id, set()) & {PASS, INFO}, f"{rule.id} has no passing fixture"
        assert outcomes.get(rule.id, set()) & {FAIL, WARN}, f"{rule.id} has no failing or warning fixture"


def test_registry_documents_every_rule():
    assert len(IDS) == len(set(IDS))
    for rule in REGISTRY:
        assert rule.module.ID == rule.id and rule.summary, f"{rule.id} has no docstring"
        assert set(rule.severity) == set(POLICIES), f"{rule.id}: SEVERITY must cover {POLICIES}"
        assert all(set(when) == {FAIL, WARN} for when in rule.severity.values()), rule.id
        assert rule.cites.startswith("RULES.md §"), rule.id
    assert [check_id for check_id, _ in describe_checks()] == list(IDS)
    assert COMPLIANCE_IDS < set(IDS)


def test_findings_carry_their_rule_id():
    result = result_of("ModernScoreFirstTTT", policy="competition")
    assert {finding.id for finding in result.findings} == set(IDS)


def test_clean_record_passes_under_both_policies():
    own_ids = set(IDS) - COMPLIANCE_IDS
    for policy in POLICIES:
        result = result_of("BaselinePass", policy=policy, sota=SOTA_DIR)
        assert result.verdict == "pass", [f"{f.id} {f.status} {f.message}" for f in result.findings if f.status == FAIL]
        assert not [f for f in result.findings if f.status == WARN and f.id in own_ids]


def test_failures_name_the_seed_and_the_line():
    [over] = [f for f in findings(result_of("ArtifactOverCap"), "artifact_size") if f.status == FAIL]
    assert over.message.startswith("seed 42: artifact 16,001,206 B > 16,000,000 B (over by 1,206")
    assert over.evidence == ("train_seed42.log:203", "train_seed42.log:204")
    [slow] = [f for f in findings(result_of("TrainTimeOver"), "train_time") if f.status == FAIL]
    assert slow.message.startswith("seed 2025: train_time 601,500 ms > 600,000 ms by 1,500 ms (tolerance 500 ms")
    [cut] = [f for f in findings(result_of("SeedsIncomplete"), "seeds") if "without a final metric line" in f.message]
    assert cut.message.startswith("seed 2025: train_seed2025.log ends at line")
    [late] = [f for f in findings(result_of("EvalTimeOver"), "eval_time") if f.status == FAIL]
    assert late.message == "seed 314: eval 612.4 s > 600 s"


def test_artifact_pass_reports_margin():
    [passed] = findings(result_of("BaselinePass"), "artifact_size")
    assert passed.message == "artifact 15,815,706 B ≤ 16,000,000 B (margin 184,294), largest of 3: seed 42"


def test_claim_matching_an_earlier_line_is_named():
    [claim] = [f for f in findings(result_of("JsonClaimsEarlierLine"), "submission_json") if "seed 42" in f.message]
    assert "the claim is the final_int6_sliding_window line instead" in claim.message
    assert claim.evidence == ("submission.json", "train_seed42.log:227", "train_seed42.log:224")


def test_decompression_bomb_is_refused_with_a_reason():
    for name in ("CodeDecompressionBomb", "CodeBz2Bomb"):
        [bomb] = findings(result_of(name), "code")
        assert bomb.status == FAIL and "decompression bomb" in bomb.message


def test_wrapped_script_is_decoded_for_the_checks():
    [code] = findings(result_of("CodeWrappedLzma"), "code")
    assert "decoded lzma then b85" in code.message or "decoded b85" in code.message or "decoded" in code.message


def test_runtime_code_files_are_listed_with_sizes():
    [sidecar] = [f for f in findings(result_of("ArtifactExecSidecar"), "artifact_size") if f.status == WARN]
    assert "train_gpt_decode.py 231 B" in sidecar.message


def test_eval_only_rerun_supplies_the_score():
    result = result_of("EvalOnlyRerun")
    assert {seed: row["log"] for seed, row in result.seeds.items()} == {
        "42": "ttt_rerun/seed_42.log", "1337": "ttt_rerun/seed_1337.log", "2025": "ttt_rerun/seed_2025.log"}
    assert all(row["train_time_s"] == 599.532 for row in result.seeds.values())


def test_significance_reports_both_rules_and_both_conversions():
    result = result_of("BaselinePass", sota=SOTA_DIR)
    written, frontier = findings(result, "significance")
    assert "gap -0.00805 bpb = -0.01359 nats/token (ratio 1.6885) = -0.00558 nats/byte" in written.message
    assert "written rule (0.005 nats, p < 0.01): t=" in written.message and "Welch p < 0.01" in written.message
    assert frontier.status == INFO and "frontier rule (one-sided Welch p < 0.25" in frontier.message
    stats = result.stats
    assert stats["written_rule"]["passed"] is True and stats["frontier_rule"]["passed"] is True
    assert stats["sota"]["n"] == 3 and stats["n"] == 3


def compliance_failures(result: RecordResult) -> set[str]:
    return {f.id for f in result.findings if f.status == FAIL and f.id in COMPLIANCE_IDS}


def test_compliance_findings_are_merged_for_every_rule():
    result = result_of("BaselinePass")
    assert {f.id for f in result.findings} >= COMPLIANCE_IDS
    assert not compliance_failures(result)


def test_score_first_ttt_depends_on_the_policy():
    assert "ttt" in compliance_failures(result_of("ModernScoreFirstTTT", policy="strict"))
    result = result_of("ModernScoreFirstTTT", policy="competition")
    assert not compliance_failures(result), [f.message for f in result.findings if f.status == FAIL]


def test_pre_eval_ttt_fails_under_both_policies():
    for policy in POLICIES:
        assert "pre_eval_ttt" in compliance_failures(result_of("PreEvalTTT", policy=policy))


def test_booby_trap_network_call_is_reported():
    for name in ("BoobyTrap", "BoobyTrapWrapped"):
        assert "network" in compliance_failures(result_of(name))


def test_non_record_run_passes_without_time_limits():
    result = result_of("NonRecordLongRun", policy="competition")
    assert result.track == "non_record_16mb"
    own_ids = set(IDS) - COMPLIANCE_IDS
    assert not [f"{f.id} {f.message}" for f in result.findings if f.status in (FAIL, WARN) and f.id in own_ids]


def copy_fixture(name: str, destination: Path) -> Path:
    return Path(shutil.copytree(fixture(name), destination))


DROP = object()  # edit_json(key=DROP) removes the key


def edit_json(**changes):
    def edit(folder: Path) -> None:
        data = json.loads((folder / "submission.json").read_text())
        data.update({key: value(data) if callable(value) else value for key, value in changes.items()})
        (folder / "submission.json").write_text(json.dumps({k: v for k, v in data.items() if v is not DROP}))
    return edit


def edit_text(name: str, old: str, new: str):
    def edit(folder: Path) -> None:
        for path in folder.glob(name):
            text = path.read_text()
            assert old in text, f"{old!r} not in {path}"
            path.write_text(text.replace(old, new))
    return edit


def write_file(name: str, text: str):
    return lambda folder: (folder / name).write_text(text)


def rename(old: str, new: str):
    return lambda folder: (folder / old).rename(folder / new)


def remove(name: str):
    return lambda folder: (folder / name).unlink()


def state_log_total(name: str, total: int):
    """Rewrite the labelled `Total submission size <q>+<c>:` line, as a log that counted raw code would print it."""
    def edit(folder: Path) -> None:
        path = folder / name
        lines = [re.sub(r"^(Total submission size \S+: )\d+", rf"\g<1>{total}", line)
                 for line in path.read_text().split("\n")]
        path.write_text("\n".join(lines))
    return edit


def move_hessians_into_the_timed_loop(folder: Path) -> None:
    """Log the GPTQ Hessian line before `stopping_early`: the training clock already covers it."""
    for path in folder.glob("logs/*.txt"):
        lines = path.read_text().split("\n")
        hessians = next(line for line in lines if line.startswith("GPTQ:collected"))
        lines.remove(hessians)
        stop = next(index for index, line in enumerate(lines) if line.startswith("stopping_early"))
        path.write_text("\n".join(lines[:stop] + [hessians] + lines[stop:]))


# (rule id, fixture, one edit to a copy of it, options, expected worst status)
EDITED_CASES = [
    ("submission_json", "BaselinePass", edit_json(seed_results=lambda d: {f"seed_{k}": v for k, v in d["seed_results"].items()}), {}, PASS),
    ("submission_json", "BaselinePass", edit_json(seed_results=lambda d: {k: v["val_bpb"] for k, v in d["seed_results"].items()}), {}, PASS),
    ("submission_json", "BaselinePass", edit_json(seed_results=lambda d: {**d["seed_results"], "7": {"val_bpb": 1.2}}), {}, WARN),
    ("submission_json", "BaselinePass", edit_json(val_bpb=None, status="retracted"), {}, FAIL),
    ("code", "CodeLogFromOtherScript", lambda folder: (folder / "eval_ttt.py").write_text(
        (folder / "train_gpt.py").read_text().replace("lr=3e-4", "lr=6e-4")), {}, PASS),
    ("code", "BaselinePass", write_file("train_gpt.py", ""), {}, FAIL),
    ("train_time", "TrainTimeCalibration", edit_text("logs/*.txt", "GPTQ:collecting Hessians from calibration data...",
                                                     "gptq:generating autoregressive calibration data (64 seqs)"), {}, PASS),
    ("track", "NonRecordLongRun", write_file("README.md", "# Long run\n\nFour hours on 4xA100.\n"), {}, WARN),
    ("hardware", "ModernScoreFirstTTT", edit_json(hardware="1xH100 PCIe"), {}, WARN),
    ("hardware", "ModernScoreFirstTTT", edit_json(hardware="8xH100 80GB SXM"), {}, INFO),
    ("eval_time", "JsonClaimsEarlierLine", edit_text("train_seed*.log", "eval_time:88123ms", "eval_time:288123ms"), {}, WARN),
    ("eval_time", "JsonClaimsEarlierLine", edit_text("train_seed*.log", "eval_time:402123ms", "eval_time:612123ms"), {}, FAIL),
    ("train_time", "TrainTimeCalibration", move_hessians_into_the_timed_loop, {}, PASS),
    ("code", "BaselinePass", write_file("train_gpt.py", 'rows = ["a"]\nprint(f"{\'\\\\n\'.join(rows)}")\n'), {},
     WARN if sys.version_info < (3, 12) else PASS),
    ("files", "FilesOtherScriptName", write_file("train_gpt_v4.py", "print('older')\n"), {}, WARN),
    ("code", "FilesOtherScriptName", write_file("train_gpt_v4.py", "print('older')\n"), {}, PASS),
    ("seeds", "BaselinePass", write_file("results.txt", "final_int8_zlib_roundtrip_exact val_loss:2.0 val_bpb:1.2\n"), {}, PASS),
    ("seeds", "BaselinePass", write_file("README.md", "# Run\n\nBest 3 of 7 seeds.\n"), {}, WARN),
    # Shapes merged records show accepted: WARN with the figures, never FAIL.
    ("submission_json", "BaselinePass", edit_json(val_bpb=1.22509229), {}, WARN),
    ("submission_json", "BaselinePass", edit_json(val_bpb=None, mean_val_bpb=1.224382), {}, WARN),
    ("submission_json", "BaselinePass", edit_json(val_bpb="1.22438"), {}, WARN),
    ("submission_json", "BaselinePass", remove("submission.json"), {}, INFO),
    # A headline the logs hold (seed 2025's last validation step), or within rounding of the lowest they allow.
    ("submission_json", "BaselinePass", edit_json(val_bpb=1.2166), {}, WARN),
    ("submission_json", "BaselinePass", edit_json(val_bpb=1.2172), {}, WARN),
    # No seeds listed: it may be one seed's or the best seeds' mean, so only below every logged BPB FAILs.
    ("submission_json", "BaselinePass", edit_json(val_bpb=1.2170, seed_results=DROP), {}, WARN),
    ("submission_json", "BaselinePass", edit_json(val_bpb=1.2163, seed_results=DROP), {}, FAIL),
    ("files", "BaselinePass", remove("submission.json"), {}, FAIL),
    ("files", "BaselinePass", rename("README.md", "V2_README.md"), {}, WARN),
    ("train_time", "TrainTimeOneStepOver", edit_text("train_seed42.log", "600035ms", "600128ms"), {}, WARN),
    # Budget breaches maintainers ruled on: FAIL.
    ("train_time", "ModernScoreFirstTTT", edit_text("logs/train_seed42.txt", "train_time: 591990ms", "train_time: 602048ms"),
     {}, FAIL),
]


@pytest.mark.parametrize("rule, name, edit, options, expected", EDITED_CASES,
                         ids=[f"{rule}-{name}-{index}" for index, (rule, name, *_rest) in enumerate(EDITED_CASES)])
def test_rule_status_after_one_edit(tmp_path, rule, name, edit, options, expected):
    folder = copy_fixture(name, tmp_path / fixture(name).name)
    edit(folder)
    result = check_record(folder, **options)
    assert result.statuses().get(rule) == expected, [f"{f.status} {f.message}" for f in findings(result, rule)]


def test_track_from_path_then_json_then_default(tmp_path):
    assert infer_track(load_record(fixture("BaselinePass")), None) == ("10min_16mb", "from the path")
    moved = copy_fixture("NonRecordLongRun", tmp_path / "2026-04-13_NonRecordLongRun")
    assert infer_track(load_record(moved), None) == (
        "non_record_16mb", "from submission.json track 'non-record-unlimited-compute-16mb'")
    data = json.loads((moved / "submission.json").read_text())
    del data["track"]
    (moved / "submission.json").write_text(json.dumps(data))
    track, source = infer_track(load_record(moved), None)
    assert track == "10min_16mb" and source.startswith("by default")
    assert infer_track(load_record(moved), "non_record_16mb") == ("non_record_16mb", "from --track")
    assert check_record(moved, track="non-record-16mb").track == "non_record_16mb"  # submission.json spelling


def test_sota_from_number_and_from_folder():
    assert load_sota("1.0810") == Sota("1.081 bpb", 1.081)
    sota = load_sota(str(fixture(SOTA_DIR)))
    assert len(sota.val_losses) == 3 and sota.val_bpb == pytest.approx(1.232429, abs=1e-6)
    with pytest.raises(InputError, match="neither a BPB number nor an existing record folder"):
        load_sota("not-a-folder")


def test_result_is_data_for_other_tools():
    result = result_of("BaselinePass")
    assert result.statuses()["artifact_size"] == PASS
    row = result.seeds["1337"]
    assert set(row) >= {"val_bpb", "val_loss", "artifact_bytes", "train_time_s", "eval_time_s"}
    assert row["artifact_bytes"] == 15_803_706 and row["val_bpb"] == 1.22437404
    assert result.to_json()["verdict"] == "pass"


def test_booby_trapped_script_is_never_run(tmp_path):
    for name in ("BoobyTrap", "BoobyTrapWrapped"):
        folder = copy_fixture(name, tmp_path / name)
        result = check_record(folder)
        assert (folder / "CANARY.txt").exists(), f"{name}: the canary was deleted"
        assert not (folder / "EXECUTED").exists(), f"{name}: the script ran"
        assert result.statuses()["code"] == PASS
    assert not str(getattr(sys.modules.get("json"), "__file__", "")).startswith(str(tmp_path))


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "no such folder"),
    (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt", "not a folder"),
])
def test_unusable_folder_is_an_input_error(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        check_record(make(tmp_path))


def test_symlink_loop_is_an_input_error(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InputError, match="symlink loop"):
        check_record(tmp_path / "a")


def test_bad_options_are_input_errors():
    with pytest.raises(InputError, match="policy 'lenient'"):
        check_record(fixture("BaselinePass"), policy="lenient")
    with pytest.raises(InputError, match="track '1h'"):
        check_record(fixture("BaselinePass"), track="1h")


def test_val_bpb_of_one_seed_is_named(tmp_path):
    folder = copy_fixture("BaselinePass", tmp_path / "2026-04-01_BaselinePass")
    edit_json(val_bpb=1.22509229)(folder)
    [mean] = [f for f in findings(check_record(folder), "submission_json") if f.status == WARN]
    assert mean.message == ("val_bpb 1.22509 in submission.json, logs give 1.224382 (mean of 3 seeds): off by "
                            "+0.000710, tolerance 5e-05; it is seed 42's final score, not the mean")


def test_headline_better_than_the_logs_fails_with_the_figures():
    [claim] = [f for f in findings(result_of("JsonBetterThanLogs"), "submission_json") if f.status == FAIL]
    assert claim.message == ("val_bpb 1.2144 in submission.json is better than the logs allow: the mean of each listed "
                             "seed's best logged BPB (seeds 42, 1337, 2025) is 1.217300 and no log prints 1.2144; "
                             "lower by 0.002900, beyond rounding (1.0e-04)")
    assert claim.evidence == ("submission.json", "train_seed42.log:197", "train_seed1337.log:197", "train_seed2025.log:197")


def drop_json_date(folder: Path) -> None:
    data = json.loads((folder / "submission.json").read_text())
    del data["date"]
    (folder / "submission.json").write_text(json.dumps(data))


@pytest.mark.parametrize("folder_name, edit, expected", [
    ("2026-04-28_LogTotalOver", None, FAIL),
    ("LogTotalOver", drop_json_date, FAIL),   # undated: judged by today's rule
    ("2026-04-02_LogTotalOver", None, WARN),  # before the ruling, authors repacked after review
])
def test_a_log_total_over_the_cap_fails_from_the_late_april_ruling(tmp_path, folder_name, edit, expected):
    """The shipped script is smaller than the code the log counted: the log's total decides, since its ruling."""
    folder = copy_fixture("ModernScoreFirstTTT", tmp_path / folder_name)
    state_log_total("logs/train_seed42.txt", 16_071_265)(folder)
    if edit:
        edit(folder)
    [over] = [f for f in findings(check_record(folder), "artifact_size") if f.status in (FAIL, WARN)]
    assert over.status == expected
    assert over.message.startswith("seed 42: artifact 16,071,265 B > 16,000,000 B (over by 71,265; log total 16,071,265 B")


def test_an_overrun_in_minute_resolution_logs_is_measured_in_ms(tmp_path):
    folder = copy_fixture("ModernScoreFirstTTT", tmp_path / "2026-04-02_ModernScoreFirstTTT")
    edit_text("logs/train_seed42.txt", "train_time: 591990ms", "train_time: 602048ms")(folder)
    [slow] = [f for f in findings(check_record(folder), "train_time") if f.status == FAIL]
    assert slow.message.startswith("seed 42: train_time 602,048 ms > 600,000 ms by 2,048 ms (tolerance 500 ms;")
    assert "median step 0.0 ms" not in slow.message


def test_context_date_from_the_folder_name_then_submission_json(tmp_path):
    record = load_record(fixture("BaselinePass"))
    assert Context(record, "strict", "10min_16mb", "", None).date.isoformat() == "2026-04-01"
    undated = copy_fixture("BaselinePass", tmp_path / "BaselinePass")
    edit_json(date="2026-03-19T04:50:00Z")(undated)
    assert Context(load_record(undated), "strict", "10min_16mb", "", None).date.isoformat() == "2026-03-19"


def test_context_analysis_is_built_once_on_first_use(monkeypatch):
    import golf.analysis

    calls = []
    monkeypatch.setattr(golf.analysis, "analyse", lambda context: calls.append(context) or object())
    context = Context(load_record(fixture("BaselinePass")), "strict", "10min_16mb", "", None)
    assert not calls
    assert context.analysis is context.analysis and len(calls) == 1
