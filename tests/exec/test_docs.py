"""The reference docs name every field, profile, check and reason code the code has."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from typing import get_args

from proxx_exec import BUILTIN_PROFILES, JobSpec, Reason, cli
from proxx_exec.commit import FULL_VOLUME_BYTES
from proxx_exec.jobspec import MAX_SPEC_BYTES
from proxx_exec.profiles import _CONTAINER_CODECS, _VIDEO_PROFILES, AudioCodec
from proxx_exec.tools.audit import (
    AuditReport,
    AuditTotals,
    ChangedOutput,
    ChangeKind,
    ExtraEntry,
    ExtraKind,
    MissingOutput,
    ResultAudit,
)
from proxx_exec.tools.samples import SampleClip, make_sample
from proxx_exec.validate import validate_job
from proxx_exec.verify import CHECK_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_jobspec_reference_is_complete() -> None:
    text = (DOCS / "jobspec.md").read_text()
    missing = [
        f"`{name}`"
        for name in (
            *JobSpec.model_fields,
            *BUILTIN_PROFILES,
            *CHECK_NAMES,
            *(r.value for r in Reason),
        )
        if f"`{name}`" not in text
    ]
    assert missing == []


def test_audit_json_schema_is_documented() -> None:
    """docs/audit.md names every field of `proxx audit --json` and every value of its enums."""
    text = (DOCS / "audit.md").read_text()
    models = (AuditReport, ResultAudit, AuditTotals, MissingOutput, ChangedOutput, ExtraEntry)
    names = [field for model in models for field in model.model_fields]
    names += [kind.value for kind in (*ChangeKind, *ExtraKind)]
    assert [f"`{name}`" for name in names if f"`{name}`" not in text] == []


def _jobspec_doc() -> str:
    return (DOCS / "jobspec.md").read_text()


def test_the_example_command_is_the_plan_of_its_example(tmp_path: Path) -> None:
    """The `h264_half` command in jobspec.md is what `proxx plan` makes for the source it
    describes (1920x1080 ProRes, a stereo and a mono track), paths aside."""
    day = tmp_path / "day1"
    day.mkdir()
    source = make_sample(
        day / "A001.mov",
        SampleClip(width=1920, height=1080, duration_s=0.2, audio_channels=(2, 1)),
    )
    spec = JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": "cam-a-2026-11-28",
            "sources": [str(source)],
            "output_dir": str(tmp_path / "proxies"),
            "profile": "h264_half",
        }
    )
    places = {str(day): "/media/day1", str(tmp_path / "proxies"): "/proxies/day1"}
    planned = []
    for argument in validate_job(spec).plan.clips[0].argv:
        shown_argument = argument
        for real, shown in places.items():
            shown_argument = shown_argument.replace(real, shown)
        planned.append(shown_argument)
    block = re.search(r"The exact `h264_half` command.*?```\n(.*?)```", _jobspec_doc(), re.S)
    assert block is not None
    documented = re.sub(r",\s+", ",", block.group(1)).split()  # the filter is wrapped at commas
    assert documented == planned


def _code_values(node: ast.expr) -> set[int]:
    """The codes an exit expression can be: a number, a module constant, either branch."""
    if isinstance(node, ast.IfExp):
        return _code_values(node.body) | _code_values(node.orelse)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return {node.value}
    if isinstance(node, ast.Name) and isinstance(getattr(cli, node.id, None), int):
        return {getattr(cli, node.id)}
    raise AssertionError(f"an exit code the test cannot read: {ast.unparse(node)}")


def _exit_codes(function: object) -> set[int]:
    """Every code a `typer.Exit(...)` in the function's (or module's) source can carry."""
    return {
        code
        for node in ast.walk(ast.parse(inspect.getsource(function)))  # type: ignore[arg-type]
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "typer.Exit"
        for argument in node.args
        for code in _code_values(argument)
    }


def test_documented_exit_codes_are_the_commands_exit_codes() -> None:
    codes = _exit_codes(cli)
    assert codes == {0, 1, 2, 3}  # the scan found the commands' codes
    line = re.search(r"Exit codes of `proxx`: (.*)", _jobspec_doc())
    assert line is not None
    assert {int(code) for code in re.findall(r"(?:^|, )(\d) ", line.group(1))} == codes
    docstring = re.search(r"Exit codes: (.*?)\.\n", cli.__doc__ or "", re.S)
    assert docstring is not None
    assert {int(code) for code in re.findall(r"(?:^|, )(\d) ", docstring.group(1))} == codes
    audit = (DOCS / "audit.md").read_text()
    tables = re.findall(r"\| exit code \| meaning \|\n\| --- \| --- \|\n((?:\|.*\n)+)", audit)
    assert len(tables) == 2  # `proxx audit`, then `proxx reproduce`
    for table, command in zip(tables, (cli.audit, cli.reproduce), strict=True):
        documented = {int(code) for code in re.findall(r"^\| (\d) \|", table, re.M)}
        assert documented == _exit_codes(command) | {2}  # 2: typer's usage error


def test_the_builtin_profile_table_is_the_profiles() -> None:
    rows = {
        row[0].strip("`"): row[1:]
        for line in _jobspec_doc().splitlines()
        if line.startswith("| `")
        and (row := [c.strip() for c in line.strip("|").split("|")])
        and row[0].strip("`") in BUILTIN_PROFILES
    }
    assert sorted(rows) == sorted(BUILTIN_PROFILES)
    for name, profile in BUILTIN_PROFILES.items():
        video, codec_profile, pix_fmt, size, threads, rate, audio = rows[name]
        assert (video, codec_profile, pix_fmt, audio) == (
            f"`{profile.video_codec}`",
            f"`{profile.codec_profile}`",
            f"`{profile.pix_fmt}`",
            f"`{profile.audio_codec}`",
        ), name
        assert (size, threads) == (f"1/{profile.scale_divisor}", str(profile.threads)), name
        if profile.video_codec == "libx264":
            assert rate == f"`-preset {profile.preset} -crf {profile.crf} -g {profile.gop}`"
    text = " ".join(_jobspec_doc().split())
    assert {p.scaler for p in BUILTIN_PROFILES.values()} == {"bicubic"}
    assert "All use the `bicubic` scaler." in text
    assert {(p.container, p.audio_codec) for p in BUILTIN_PROFILES.values()} == {
        ("mov", "pcm_s16le")
    }
    assert "All profiles write QuickTime (`.mov`) with 16-bit PCM audio" in text


def test_the_custom_profile_comments_are_the_compatibility_tables() -> None:
    comments = dict(re.findall(r"^  (\w+): .*?# (.*)$", _jobspec_doc(), re.M))
    codecs = list(dict.fromkeys(codec for codec, _ in _VIDEO_PROFILES))
    assert comments["codec_profile"] == "; ".join(
        f"{codec}: {', '.join(p for c, p in _VIDEO_PROFILES if c == codec)}" for codec in codecs
    )
    formats = {
        codec: sorted(
            set().union(*(f for (c, _), (_, _, f) in _VIDEO_PROFILES.items() if c == codec))
        )
        for codec in codecs
    }
    assert comments["pix_fmt"] == "; ".join(f"{c}: {', '.join(f)}" for c, f in formats.items())
    mov_only = [c for c in get_args(AudioCodec) if c not in _CONTAINER_CODECS["mp4"]]
    listed, note, rest = comments["audio_codec"].partition(" (both mov only)")
    assert note and listed.split(" | ") == mov_only
    assert [c for c in get_args(AudioCodec) if c not in mov_only] == ["aac"]
    assert rest.startswith(" | aac ")


def test_output_dir_is_described_as_made_when_missing() -> None:
    """A missing output_dir under a writable folder is made by the job (shown by
    tests/exec/test_validation.py::test_output_dir_is_made_by_a_job_that_runs_never_by_a_refusal);
    the field's description (the schema, the launchpad) and the reference say so."""
    row = next(line for line in _jobspec_doc().splitlines() if line.startswith("| `output_dir`"))
    described = JobSpec.model_json_schema()["properties"]["output_dir"]["description"]
    for text in (row, described):
        assert "existing" not in text and "the job makes it" in text, text


def test_the_field_table_gives_each_default_and_bound() -> None:
    """Each row of jobspec.md's field table says whether the field is required, its default
    as the model has it, and the bounds the schema enforces (sources, clip_timeout_s)."""
    rows = {
        match[0]: match[1:]
        for match in re.findall(
            r"^\| `(\w+)` \| (yes|no) \|([^|]*)\|([^|]*)\|$", _jobspec_doc(), re.MULTILINE
        )
    }
    assert list(rows) == list(JobSpec.model_fields)
    shown = {None: ("`null`", "unset")}
    for name, info in JobSpec.model_fields.items():
        required, default, _ = rows[name]
        assert required == ("yes" if info.is_required() else "no"), name
        if info.is_required():
            assert default.strip() == "", name
        else:
            value = list(info.default) if isinstance(info.default, tuple) else info.default
            written = json.dumps(value) if isinstance(value, list) else str(value)  # as in YAML
            assert default.strip() in shown.get(info.default, (f"`{written}`",)), name
    schema = JobSpec.model_json_schema()["properties"]
    sources = schema["sources"]
    assert f"({sources['minItems']:,} to {sources['maxItems']:,})" in rows["sources"][2]
    most = schema["clip_timeout_s"]["maximum"]
    assert most % 86400 == 0 and f"1 s to {most // 86400} days" in rows["clip_timeout_s"][2]
    longest = int(re.findall(r"\{0,(\d+)\}", schema["job_id"]["pattern"])[0]) + 1
    assert f"at most {longest} characters" in rows["job_id"][2]


def test_the_reason_table_gives_the_limits_the_code_has() -> None:
    """The sizes the reason table names are the code's: a JobSpec document's limit
    (SPEC_UNREADABLE) and the free space under which a failed encode is DISK_FULL."""
    rows = {
        reason: line
        for line in _jobspec_doc().splitlines()
        for reason in ("SPEC_UNREADABLE", "DISK_FULL")
        if f"| `{reason}` |" in line
    }
    for reason, limit in (("SPEC_UNREADABLE", MAX_SPEC_BYTES), ("DISK_FULL", FULL_VOLUME_BYTES)):
        assert limit % (1 << 20) == 0 and f" {limit >> 20} MiB" in rows[reason], reason
