"""Batch throughput: 8 JobSpecs through `proxx_batch` against `xargs -P2` of the bare encode
commands, and the same batch on one Celery worker against two."""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.batch_runs import CeleryBroker, celery_workers, execute_batch
from benchmarks.common import clip_folder, measured, xargs_listing
from benchmarks.dagster_processes import dagster_home
from proxx_dagster.names import PLAN_OP
from proxx_exec import JobSpec, validate_job
from proxx_exec.process import ENGINE_ENVIRONMENT

BATCH_SIZE = 8
PROFILE = "h264_half"


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


def dagster_batch(
    home: Path,
    jobspecs: list[dict[str, Any]],
    execution: dict[str, Any],
    folder: Path,
    extra_env: dict[str, str] | None = None,
) -> float:
    """Wall time of one proxx_batch run through `dg launch --job`."""
    config = {"ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}}, "execution": execution}
    began = time.perf_counter()
    code, output = execute_batch(home, config, folder, **(extra_env or {}))
    elapsed = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"benchmark batch failed:\n{output[-3000:]}")
    for out in {Path(fields["output_dir"]) for fields in jobspecs}:
        shutil.rmtree(out)
    return elapsed


def batch_vs_xargs(root: Path, source: Path, reps: int) -> list[str]:
    home = dagster_home(root, "batch_home")
    sources = clip_folder(source, root / "batch8", BATCH_SIZE)
    bare, ours = [], []
    for rep in range(reps):
        bare.append(xargs_bare(batch_jobspecs(sources, root / f"x{rep}", f"x{rep}"), root / "xs"))
        jobspecs = batch_jobspecs(sources, root / f"m{rep}", f"m{rep}")
        multiprocess = {"config": {"multiprocess": {"max_concurrent": 2}}}
        ours.append(dagster_batch(home, jobspecs, multiprocess, root))
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
