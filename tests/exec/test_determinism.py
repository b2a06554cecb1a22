"""Same JobSpec + same engine -> same argv and digest: the plan is pure, the digest covers all
but timing and host, one encode per clip in order, the JobSpec and plan cannot change after
validation, the JobSpec is canonical.
(The same run under perturbations of environment, locale, clock, CPUs and load:
tests/invariants/test_same_input_same_behavior.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from proxx_exec import ExecutionResult, JobSpec, Status, digest_matches, execute
from proxx_exec.plan import JobPlan
from proxx_exec.tools.samples import SampleClip
from proxx_exec.validate import validate_job
from tests.conftest import SpecFactory
from tests.helpers import PROXX, Media, engine_calls, write_engine_wrapper


def test_digest_covers_everything_but_timing_and_host(make_spec: SpecFactory, media: Media) -> None:
    result = execute(make_spec([media.standard]))
    assert digest_matches(result)
    moved = result.model_copy(
        update={"host": result.host.model_copy(update={"engine_binary": "/elsewhere/ffmpeg"})}
    )
    assert digest_matches(moved)
    tampered = result.model_copy(update={"status": Status.FAILED})
    assert not digest_matches(tampered)
    assert ExecutionResult.from_json(result.to_json()) == result


def test_plan_is_pure(make_spec: SpecFactory, media: Media) -> None:
    spec = make_spec([media.standard], profile="dnxhr_lb")
    first, second = validate_job(spec).plan, validate_job(spec).plan
    assert first == second
    assert first.clips[0].argv[0] == "ffmpeg"
    argv = first.clips[0].argv
    for flag in ("-nostdin", "-xerror", "-threads", "-map_metadata", "-fps_mode"):
        assert flag in argv
    assert "-y" not in argv
    assert argv[argv.index("-i") + 1] == "file:" + str(media.standard)


def test_exactly_one_encode_per_clip_in_order(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    sources = [
        media.clip(f"O{i}.mov", SampleClip(duration_s=0.4, reel_name=f"O{i}")) for i in range(3)
    ]
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    result = execute(make_spec(sources, engine=str(wrapper)))
    assert result.status is Status.COMPLETED
    calls = [args for _, args in engine_calls(tmp_path) if "-version" not in args]
    kinds = [("encode" if "-c:v" in args else "verify", args) for args in calls]
    assert [k for k, _ in kinds] == ["encode", "verify"] * 3
    for (kind, args), source in zip(kinds[::2], sources, strict=True):
        assert kind == "encode" and f"file:{source}" in args


def test_a_jobspec_rewritten_during_its_run_changes_nothing(media: Media, tmp_path: Path) -> None:
    """JobSpec immutability as a user can break it: while `proxx run` encodes the first clip,
    the JobSpec file is rewritten (another profile and naming, the clips reversed, another
    output folder). The job runs what was validated: the planned commands, in the planned
    order, into the planned folder, and its result records the JobSpec as it was."""
    sources = [
        media.clip(f"R{i}.mov", SampleClip(duration_s=0.4, reel_name=f"R{i}")) for i in range(2)
    ]
    out, elsewhere = tmp_path / "proxies", tmp_path / "elsewhere"
    out.mkdir()
    spec_file, rewritten = tmp_path / "job.json", tmp_path / "rewritten.json"
    wrapper = write_engine_wrapper(
        tmp_path,
        f'case "$*" in *" -c:v "*) cp "{rewritten}" "{spec_file}" ;; esac\nexec "$REAL" "$@"',
    )
    document = {
        "spec_version": "1",
        "job_id": "as-validated",
        "sources": [str(s) for s in sources],
        "output_dir": str(out),
        "profile": "h264_quarter",
        "engine": str(wrapper),
    }
    spec_file.write_text(json.dumps(document))
    rewritten.write_text(
        json.dumps(
            {
                **document,
                "sources": [str(s) for s in reversed(sources)],
                "output_dir": str(elsewhere),
                "profile": "prores_proxy",
                "naming": "{index}",
            }
        )
    )
    spec = JobSpec.model_validate(document)
    planned = [clip.argv[1:] for clip in validate_job(spec).plan.clips]
    result_file = tmp_path / "result.json"
    ran = subprocess.run(
        [PROXX, "run", str(spec_file), "--result", str(result_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert spec_file.read_text() == rewritten.read_text()  # rewritten while the job ran
    result = ExecutionResult.from_json(result_file.read_text())
    assert result.spec == spec
    assert [list(clip.argv[1:]) for clip in result.clips] == [list(a) for a in planned]
    encodes = [args for _, args in engine_calls(tmp_path) if " -c:v " in f" {args} "]
    assert encodes == [" ".join(argv) for argv in planned]
    assert sorted(p.name for p in out.iterdir()) == [
        "R0.mov",
        "R1.mov",
        "as-validated.proxx-result.json",
        "as-validated.proxx.ale",
        "as-validated.proxx.fcpxml",
        "ascmhl",
    ]
    assert not elsewhere.exists()


def _mutable_parts(model: type[BaseModel], where: str = "") -> list[str]:
    """Where a model's value could change after it is made: a model that is not frozen, or a
    field whose type can change in place (a list, a dict, a set, anything untyped)."""
    found = [] if model.model_config.get("frozen") else [f"{where or model.__name__} not frozen"]
    for name, info in model.model_fields.items():
        found += _mutable_types(info.annotation, f"{where or model.__name__}.{name}")
    return found


def _mutable_types(annotation: object, where: str) -> list[str]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _mutable_types(get_args(annotation)[0], where)
    if origin is Literal:
        return []
    if origin in (tuple, Union, UnionType):
        return [
            p
            for arg in get_args(annotation)
            if arg is not Ellipsis
            for p in _mutable_types(arg, where)
        ]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _mutable_parts(annotation, where)
    if annotation in (str, int, float, bool, type(None)) or (
        isinstance(annotation, type) and issubclass(annotation, Enum)
    ):
        return []
    return [f"{where}: {annotation}"]


def test_what_a_job_runs_cannot_change_after_validation() -> None:
    """The JobSpec, its profile and the plan made from them hold only values that cannot be
    changed in place: what validation checked is what runs and what the result records."""
    assert [p for model in (JobSpec, JobPlan) for p in _mutable_parts(model)] == []
    assert _mutable_parts(_Loose) == ["_Loose not frozen", "_Loose.names: list[str]"]


class _Loose(BaseModel):
    """What the scan must catch: the test's own proof that it can fail."""

    names: list[str]


def test_fingerprint_is_canonical(media: Media, out_dir: Path) -> None:
    short = {
        "spec_version": "1",
        "job_id": "j",
        "sources": [str(media.standard)],
        "output_dir": str(out_dir),
        "profile": "h264_half",
    }
    explicit = {
        **short,
        "naming": "{source_stem}",
        "clip_timeout_s": 3600,
        "engine": "imageio-ffmpeg",
        "retried_from": None,
    }
    reordered = dict(reversed(list(explicit.items())))
    prints = {JobSpec.model_validate(d).fingerprint for d in (short, explicit, reordered)}
    assert len(prints) == 1
    changed = JobSpec.model_validate({**short, "profile": "h264_quarter"}).fingerprint
    assert changed not in prints


def test_importing_proxx_exec_loads_no_orchestrator() -> None:
    code = (
        "import sys, proxx_exec, proxx_exec.cli, proxx_exec.run; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'dagster', 'celery'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert completed.returncode == 0, completed.stdout


def test_reading_results_and_the_cli_load_no_media_library() -> None:
    """`proxx audit` and `proxx --help` hash and read JSON only: PyAV loads with media work."""
    code = (
        "import sys, proxx_exec.cli, proxx_exec.tools.audit, proxx_exec.result; "
        "sys.exit(1 if 'av' in sys.modules else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert completed.returncode == 0, completed.stderr
