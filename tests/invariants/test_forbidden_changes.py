"""Explicit Forbidden Changes: each attempted violation is refused or impossible."""

from __future__ import annotations

import ast
import os
import stat
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from proxx_exec import (
    BUILTIN_PROFILES,
    ClipProgress,
    ClipState,
    FailureClass,
    Reason,
    Status,
    execute,
    validate_job,
)
from proxx_exec.naming import REFUSAL_INFIX
from proxx_exec.profiles import Profile
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import Media, engine_calls, listing, write_engine_wrapper
from tests.invariants.harness import busy_cpus
from tests.invariants.source import modules

RESULT = "test-job.proxx-result.json"


def encodes(folder: Path) -> list[str]:
    return [args for _, args in engine_calls(folder) if "-c:v" in args]


def test_adaptive_quality_the_plan_ignores_time_and_load(
    make_spec: SpecFactory, media: Media
) -> None:
    """A job that takes long, on a loaded machine, runs to the end with the settings it planned
    on an idle one. (That nothing reads the load: test_load_based_parameter_changes_impossible;
    the clock: test_construction.)"""
    slow_source = media.h264_clip("LONG720.mov", seconds=2)
    slow = make_spec([slow_source], profile="prores_lt")
    planned = validate_job(slow).plan.clips[0].argv
    with busy_cpus(2):
        result = execute(slow)
    assert result.status is Status.COMPLETED
    assert result.clips[0].argv == list(planned)


def test_heuristic_engine_fallback_an_unavailable_engine_fails_validation(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    path_bin = tmp_path / "bin"
    path_bin.mkdir()
    decoy = path_bin / "ffmpeg"
    decoy.write_text(f"#!/bin/sh\necho used >> {tmp_path}/decoy\n")
    decoy.chmod(decoy.stat().st_mode | stat.S_IXUSR)
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{path_bin}:{old_path}"
    try:
        result = execute(make_spec([media.standard], engine=str(tmp_path / "gpu-ffmpeg")))
    finally:
        os.environ["PATH"] = old_path
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.VALIDATION,
        Reason.ENGINE_UNAVAILABLE,
    )
    assert not (tmp_path / "decoy").exists()  # no engine from PATH, no default engine
    assert result.engine is None
    # Only the refusal's record, which leaves the job_id free.
    assert [n.split(REFUSAL_INFIX)[0] for n in listing(out_dir)] == ["test-job"]


def test_smart_retry_a_timed_out_clip_is_never_run_again(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    """Execution layer here; the Dagster layers: tests/dagster (retry refusal, daemon)."""
    wrapper = write_engine_wrapper(
        tmp_path, 'case "$*" in *-c:v*) exec /bin/sleep 30;; esac\nexec "$REAL" "$@"'
    )
    result = execute(
        make_spec(
            [media.standard, media.standard.parent / "A001C001.mov"],
            engine=str(wrapper),
            clip_timeout_s=1,
            naming="{index}",
        )
    )
    assert result.failure is not None and result.failure.reason is Reason.TIMEOUT
    assert len(encodes(tmp_path)) == 1
    assert [c.state for c in result.clips] == [ClipState.FAILED, ClipState.NOT_RUN]


def test_cross_job_optimization_impossible_jobs_share_no_work(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    """Two jobs with the same source: two encodes, two independent results."""
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        assert (
            execute(
                make_spec(
                    [media.standard], job_id=name, output_dir=str(folder), engine=str(wrapper)
                )
            ).status
            is Status.COMPLETED
        )
    assert len(encodes(tmp_path)) == 2


# What would tell execution about the machine's load or size (CPU count, affinity, usage).
LOAD_READS = {
    "os.getloadavg",
    "os.cpu_count",
    "os.sched_getaffinity",
    "os.process_cpu_count",
    "os.times",
    "resource.getrusage",
    "psutil",
    "/proc/loadavg",
    "/proc/stat",
    "/proc/cpuinfo",
    "/proc/meminfo",
}


def test_load_based_parameter_changes_impossible() -> None:
    """Queue depth or load cannot reach the plan or the run: proxx_exec reads nothing that
    tells it the machine's load or size, and has no queue (the whole run on a loaded machine:
    test_one_jobspec_one_outcome_under_every_perturbation)."""
    found = [
        f"{name}: {needle}"
        for name, tree in modules()
        for needle in LOAD_READS
        if needle in ast.unparse(tree)
    ]
    assert found == []


def test_priority_driven_semantic_changes_impossible(make_spec: SpecFactory, media: Media) -> None:
    """A JobSpec has no priority, deadline or rush field; validation cannot be skipped."""
    with pytest.raises(ValidationError):
        make_spec([media.standard], priority="high")
    with pytest.raises(ValidationError):
        make_spec([media.standard], skip_validation=True)


def test_partial_success_five_clips_fourth_fails(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    sources = [
        media.clip(f"F{i}.mov", SampleClip(duration_s=0.4, reel_name=f"F{i}")) for i in range(5)
    ]
    wrapper = write_engine_wrapper(
        tmp_path, 'case "$*" in *F3.mov*-c:v*) exit 1;; esac\nexec "$REAL" "$@"'
    )
    result = execute(make_spec(sources, engine=str(wrapper)))
    assert result.status is Status.FAILED
    assert [c.state for c in result.clips] == [ClipState.DISCARDED] * 3 + [
        ClipState.FAILED,
        ClipState.NOT_RUN,
    ]
    assert listing(out_dir) == [RESULT]


def test_speculative_execution_next_clip_waits_for_verification(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    sources = [
        media.clip(f"V{i}.mov", SampleClip(duration_s=0.4, reel_name=f"V{i}")) for i in range(3)
    ]
    wrapper = write_engine_wrapper(
        tmp_path,
        '"$REAL" "$@"; rc=$?\n'
        f'printf "%s %s\\n" "$(/bin/date +%s.%N)" "$*" >> "{tmp_path}/ends.log"\nexit $rc',
    )
    assert execute(make_spec(sources, engine=str(wrapper))).status is Status.COMPLETED
    starts = [t for t, a in engine_calls(tmp_path) if "-version" not in a]
    ends = [
        float(line.split()[0])
        for line in (tmp_path / "ends.log").read_text().splitlines()
        if "-version" not in line
    ]
    # encode0, verify0, encode1, verify1, encode2, verify2: each starts after the last ended.
    assert len(starts) == len(ends) == 6
    assert all(starts[i + 1] >= ends[i] for i in range(5))


def test_result_reinterpretation_timeout_with_a_full_output_is_failed(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    """The engine writes a complete, valid proxy, then hangs: still FAILED, no proxy kept."""
    wrapper = write_engine_wrapper(
        tmp_path, 'case "$*" in *-c:v*) "$REAL" "$@"; exec /bin/sleep 30;; esac\nexec "$REAL" "$@"'
    )
    seen: list[bool] = []

    def staged_exists(event: ClipProgress) -> None:
        seen.append(any((out_dir / ".proxx-staging-test-job").glob("*.mov")))

    began = time.monotonic()
    result = execute(
        make_spec([media.standard], engine=str(wrapper), clip_timeout_s=4),
        on_progress=staged_exists,
    )
    assert time.monotonic() - began < 30
    assert result.failure is not None and result.failure.reason is Reason.TIMEOUT
    assert result.status is Status.FAILED and listing(out_dir) == [RESULT]
    assert any(seen)  # the finished proxy was there; the result still says FAILED


def test_implicit_profile_updates_impossible(make_spec: SpecFactory, media: Media) -> None:
    before = {name: profile.model_dump() for name, profile in BUILTIN_PROFILES.items()}
    for _ in range(2):
        execute(make_spec([media.standard], job_id=f"p{_}", naming="{source_stem}_{job_id}"))
    assert {name: p.model_dump() for name, p in BUILTIN_PROFILES.items()} == before
    with pytest.raises(TypeError):
        BUILTIN_PROFILES["h264_half"] = BUILTIN_PROFILES["h264_quarter"]  # type: ignore[index]
    with pytest.raises(ValidationError):
        BUILTIN_PROFILES["h264_half"].crf = 18  # type: ignore[misc]
    assert isinstance(BUILTIN_PROFILES["h264_half"], Profile)


def test_context_dependent_validation_impossible(
    make_spec: SpecFactory, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same invalid JobSpec fails the same way under load, in another directory, at
    another time of the process."""
    (tmp_path / "a-file").write_text("not a folder")
    spec = make_spec([media.standard], output_dir=str(tmp_path / "a-file" / "proxies"))
    failures = [execute(spec).failure]
    with busy_cpus(2):
        failures.append(execute(spec).failure)
    monkeypatch.chdir("/")
    failures.append(execute(spec).failure)
    assert failures[0] is not None and failures[0].reason is Reason.OUTPUT_DIR_MISSING
    assert failures.count(failures[0]) == 3


def test_metric_driven_behavior_changes_impossible(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    """Many failures in a row do not change how the next job runs."""
    spec = make_spec([media.standard], job_id="after-failures")
    plan_before = validate_job(spec).plan
    for index in range(5):
        execute(make_spec([tmp_path / "missing.mov"], job_id=f"fail{index}"))
    assert validate_job(spec).plan == plan_before
