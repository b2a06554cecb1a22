"""The invariance harness: run one JobSpec under perturbations of everything that is not the
JobSpec or the engine, and compare what matters (argv, digest, output bytes).

Each perturbed run is a separate `proxx run` process, so the perturbation (environment, working
directory, clock, CPU set, load, a job beside it) applies to the whole of proxx.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libfaketime

from proxx_exec import ExecutionResult, JobSpec
from tests.helpers import PROXX


@dataclass(frozen=True)
class Perturbation:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    cpus: frozenset[int] | None = None
    beside: Callable[[], contextlib.AbstractContextManager[object]] | None = None


def faked_clock_env(offset: str) -> dict[str, str]:
    """LD_PRELOAD libfaketime (from the locked `libfaketime` wheel) with a clock offset."""
    _, env = libfaketime.get_reload_information()
    return {**env, "FAKETIME": offset}


@contextlib.contextmanager
def busy_cpus(count: int = 2) -> Iterator[object]:
    """Load the machine with busy processes for the duration."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def run_perturbed(spec: JobSpec, spec_file: Path, perturbation: Perturbation) -> ExecutionResult:
    spec_file.write_text(json.dumps(spec.canonical()))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/"),
        **perturbation.env,
    }

    def pin() -> None:
        if perturbation.cpus is not None:
            os.sched_setaffinity(0, perturbation.cpus)

    beside = perturbation.beside() if perturbation.beside else contextlib.nullcontext()
    with beside:
        completed = subprocess.run(
            [PROXX, "run", str(spec_file)],
            cwd=perturbation.cwd or spec_file.parent,
            env=env,
            capture_output=True,
            check=False,
            timeout=300,
            preexec_fn=pin,
        )
    assert completed.stdout, completed.stderr.decode()
    return ExecutionResult.from_json(completed.stdout)


def fingerprint_of_run(result: ExecutionResult) -> tuple[object, ...]:
    """Everything two runs of one JobSpec must share."""
    return (
        result.digest,
        result.status,
        [c.argv for c in result.clips],
        [c.output_sha256 for c in result.clips],
    )
