"""Batch throughput: 8 JobSpecs through `proxx_batch` against `xargs -P2` of the bare encode
commands, and the same batch on one Celery worker against two.

    .venv/bin/python -m benchmarks.batch [--reps N] [--seconds S] [--no-write]

run alone measures the first comparison with where proxx's time went, and writes the "Batch
throughput" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import DagsterEventType as Event
from dagster import DagsterInstance

from benchmarks.batch_runs import CeleryBroker, celery_workers, execute_batch
from benchmarks.common import (
    REPO,
    clip_folder,
    machine,
    measured,
    publish_section,
    source_clip,
    xargs_listing,
)
from benchmarks.dagster_processes import dagster_home, event_times, step_body_s, step_start_s
from benchmarks.night import breakdown
from proxx_dagster.names import PLAN_OP
from proxx_exec import ExecutionResult, JobSpec, validate_job
from proxx_exec.naming import RESULT_SUFFIX
from proxx_exec.process import ENGINE_ENVIRONMENT

BATCH_SIZE = 8
PROFILE = "h264_half"
TITLE = "Batch throughput"
REPORT = REPO / "docs" / "benchmarks.md"


def batch_jobspecs(sources: list[str], out: Path, tag: str) -> list[dict[str, Any]]:
    out.mkdir()
    return [
        {
            "spec_version": "1",
            "job_id": f"{tag}-{index}",
            "sources": [source],
            "output_dir": str(out),
            "profile": PROFILE,
            "clip_timeout_s": 3600,
        }
        for index, source in enumerate(sources)
    ]


def xargs_bare(jobspecs: list[dict[str, Any]], scratch: Path) -> float:
    """`xargs -P2` over one shell script per JobSpec, each exec'ing the planned encode argv."""
    scratch.mkdir()
    commands = {}
    for index, fields in enumerate(jobspecs):
        job = validate_job(JobSpec.model_validate(fields))
        [clip] = job.plan.clips
        output = "file:" + str(scratch / f"bare-{index}{Path(clip.output).suffix}")
        commands[f"job-{index}"] = [str(job.engine_binary), *clip.argv[1:-1], output]
    listing = xargs_listing(commands, scratch)
    began = time.perf_counter()
    with listing.open() as jobs:
        subprocess.run(
            ["xargs", "-P2", "-n1", "sh"],
            stdin=jobs,
            env={**ENGINE_ENVIRONMENT, "PATH": "/usr/bin:/bin"},
            check=True,
        )
    elapsed = time.perf_counter() - began
    shutil.rmtree(scratch)
    return elapsed


@dataclass
class Phases:
    """Where one batch run's wall time went, from its own event log (seconds)."""

    launch_s: float  # `dg launch` started to the run's RUN_START: CLI, definitions, run worker
    plan_start_s: float  # RUN_START to the plan step's start: the executor's first process
    plan_body_s: float  # the plan step's start to its success: reading the batch, the fan-out
    step_start_s: list[float]  # each execute step: process asked for to its STEP_START
    step_body_s: list[float]  # each execute step: STEP_START to STEP_SUCCESS
    finish_s: float  # the last step's success to `dg launch` exiting


def run_phases(home: Path, began: float, ended: float) -> Phases:
    """The phases of the newest run in `home` (`began`/`ended`: wall clock around dg launch)."""
    with DagsterInstance.from_config(str(home)) as instance:
        [record] = instance.get_run_records(limit=1)
        at = event_times(instance, record.dagster_run.run_id)
    steps = sorted({key for _, key in at if key and key != PLAN_OP})
    successes = [at[Event.STEP_SUCCESS, key] for key in steps]
    return Phases(
        launch_s=at[Event.RUN_START, None] - began,
        plan_start_s=at[Event.STEP_START, PLAN_OP] - at[Event.RUN_START, None],
        plan_body_s=step_body_s(at, PLAN_OP),
        step_start_s=[step_start_s(at, key) for key in steps],
        step_body_s=[step_body_s(at, key) for key in steps],
        finish_s=ended - max(successes),
    )


def dagster_batch(
    home: Path,
    jobspecs: list[dict[str, Any]],
    execution: dict[str, Any],
    folder: Path,
    extra_env: dict[str, str] | None = None,
    results: list[ExecutionResult] | None = None,
    phases: list[Phases] | None = None,
) -> float:
    """Wall time of one proxx_batch run through `dg launch --job`; its ExecutionResults are
    added to `results` and where its time went to `phases` when given."""
    config = {"ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}}, "execution": execution}
    began, wall = time.perf_counter(), time.time()
    code, output = execute_batch(home, config, folder, **(extra_env or {}))
    elapsed = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"benchmark batch failed:\n{output[-3000:]}")
    if phases is not None:
        phases.append(run_phases(home, wall, wall + elapsed))
    for out in {Path(fields["output_dir"]) for fields in jobspecs}:
        if results is not None:
            results += [
                ExecutionResult.from_json(path.read_text())
                for path in sorted(out.glob(f"*{RESULT_SUFFIX}"))
            ]
        shutil.rmtree(out)
    return elapsed


def batch_vs_xargs(
    root: Path,
    source: Path,
    reps: int,
    results: list[ExecutionResult] | None = None,
    phases: list[Phases] | None = None,
) -> list[str]:
    home = dagster_home(root, "batch_home")
    sources = clip_folder(source, root / "batch8", BATCH_SIZE)
    bare, ours = [], []
    for rep in range(reps):
        bare.append(xargs_bare(batch_jobspecs(sources, root / f"x{rep}", f"x{rep}"), root / "xs"))
        jobspecs = batch_jobspecs(sources, root / f"m{rep}", f"m{rep}")
        multiprocess = {"config": {"multiprocess": {"max_concurrent": 2}}}
        ours.append(
            dagster_batch(home, jobspecs, multiprocess, root, results=results, phases=phases)
        )
    ratio = statistics.median(bare) / statistics.median(ours)
    print(f"8 JobSpecs: xargs -P2 bare vs proxx_batch multiprocess: {ratio:.3f}", flush=True)
    return [
        f"| throughput, {BATCH_SIZE} one-clip JobSpecs ({PROFILE}): `proxx_batch` "
        f"(multiprocess, 2 at a time, `dg launch`) vs `xargs -P2` of the bare argv "
        f"| {measured(ours)} vs {measured(bare)} | {ratio:.3f}x | >= 0.90x |"
    ]


def celery_one_vs_two_workers(root: Path, source: Path, reps: int) -> list[str]:
    """Workers from the test suite's helper: the shipped worker config, stopped on exit."""
    (root / "celery").mkdir()
    home = dagster_home(root / "celery", "batch_home")
    sources = clip_folder(source, root / "celery8", BATCH_SIZE)
    one_broker, two_broker = CeleryBroker.redis(), CeleryBroker.redis()
    one: list[float] = []
    two: list[float] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(celery_workers(one_broker, home, root / "celery", ["one"]))
        stack.enter_context(celery_workers(two_broker, home, root / "celery", ["left", "right"]))
        for rep in range(reps):
            for broker, samples, tag in ((one_broker, one, "c1"), (two_broker, two, "c2")):
                jobspecs = batch_jobspecs(sources, root / f"{tag}-{rep}", f"{tag}-{rep}")
                samples.append(dagster_batch(home, jobspecs, broker.execution(), root, broker.env))
    ratio = statistics.median(one) / statistics.median(two)
    print(f"Celery: 2 workers vs 1 worker throughput: {ratio:.3f}", flush=True)
    return [
        f"| throughput, {BATCH_SIZE} one-clip JobSpecs ({PROFILE}) on Celery (Redis): 2 workers "
        f"vs 1 (one task at a time each) | {measured(two)} vs {measured(one)} | {ratio:.3f}x | - |"
    ]


def phase_lines(phases: list[Phases], execute_s: float) -> list[str]:
    """Means over the runs: the run's own start and end, and each step's share beyond execute()."""
    mean = statistics.fmean
    start = mean(s for p in phases for s in p.step_start_s)
    body = mean(s for p in phases for s in p.step_body_s)
    fixed = mean(p.launch_s + p.plan_start_s + p.plan_body_s + p.finish_s for p in phases)
    return [
        "",
        f"Where each run's time went, from its event log (means over {len(phases)} runs): "
        f"`dg launch` to the run's start {mean(p.launch_s for p in phases):.2f} s (the CLI, "
        f"loading the definitions, the run worker); the plan step's process start "
        f"{mean(p.plan_start_s for p in phases):.2f} s (the executor's first) and its body "
        f"{mean(p.plan_body_s for p in phases):.2f} s; per JobSpec step, its process start "
        f"{start:.2f} s and its body {body:.2f} s, of which execute() {execute_s:.2f} s and the "
        f"rest (posters, contact sheet, events, the IO manager) {body - execute_s:.2f} s; the "
        f"last step's end to the command's exit {mean(p.finish_s for p in phases):.2f} s. In "
        f"two lanes the steps take about {BATCH_SIZE // 2} x ({start + body:.2f}) s.",
        "",
        f"Why the target is missed: jobs this short pay the run's fixed costs ({fixed:.1f} s: "
        "the CLI and run worker, the plan step, the exit) and each step's hand-off in full, "
        "where the bare side pays none. What would close it: the run's fixed costs do not "
        "shrink with the work (the executor's first step process starts its process server, "
        "whichever step it is), so only JobSpecs of more work amortise them; each step's "
        "hand-off would leave the encode slot if posters and contact sheets were made after "
        "the encodes rather than inside each encoding step.",
    ]


def section(
    row: list[str],
    results: list[ExecutionResult],
    phases: list[Phases],
    reps: int,
    seconds: float,
) -> list[str]:
    """The comparison and, from the proxx side's results and runs, where its time went."""
    parts = breakdown(results)
    jobs = parts["jobs"] or 1.0
    inside = ("validation_s", "encode_s", "verify_s", "hash_s", "commit_s")
    rest = parts["execute_s"] - sum(parts[key] for key in inside)
    return [
        "Made by `.venv/bin/python -m benchmarks.batch`: "
        f"{BATCH_SIZE} one-clip JobSpecs of one {seconds:g} s 1920x1080 clip (hard links), "
        f"{PROFILE}, {reps} repetitions, the sides alternating: `proxx_batch` through `dg "
        "launch` (multiprocess executor, 2 steps at a time, forkserver) against `xargs -P2` of "
        "the planned encode argv, bare.",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "",
        "| comparison | measured | ratio | target |",
        "| --- | --- | --- | --- |",
        *row,
        "",
        "Per job on the proxx side, from its ExecutionResults (means over "
        f"{int(parts['jobs'])} jobs): validation {parts['validation_s'] / jobs:.2f} s, encode "
        f"{parts['encode_s'] / jobs:.2f} s, verification {parts['verify_s'] / jobs:.2f} s, "
        f"SHA-256 {parts['hash_s'] / jobs:.2f} s, commit {parts['commit_s'] / jobs:.2f} s, the "
        f"rest of execute() {rest / jobs:.2f} s; the whole of execute() "
        f"{parts['execute_s'] / jobs:.2f} s. What the step adds beyond execute() (its process, "
        "posters and contact sheet, events, the IO manager) and the run's start are the rest of "
        "the wall time.",
        *phase_lines(phases, parts["execute_s"] / jobs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results: list[ExecutionResult] = []
    phases: list[Phases] = []
    with tempfile.TemporaryDirectory(prefix="proxx-batch-") as tmp:
        root = Path(tmp)
        source = source_clip(root, "1920x1080", args.seconds)
        row = batch_vs_xargs(root, source, args.reps, results, phases)
    lines = section(row, results, phases, args.reps, args.seconds)
    publish_section(REPORT, TITLE, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
