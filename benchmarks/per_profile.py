"""proxx against the same encode run bare, per built-in profile, three ways interleaved:

A = the exact encode argv from `proxx plan`, one FFmpeg process;
B = `proxx_exec.execute` inside an already running Python: what a Dagster op pays;
C = `proxx run` as a user runs it, from process start to exit (interpreter, imports, CLI).

Also the start-up of `proxx run`: from its process start to the moment the encode's FFmpeg
process starts (engine identity and the source probe included), read from /proc.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import timed_child
from benchmarks.processes import descendants
from proxx_exec import JobSpec, execute, validate_job
from proxx_exec.process import ENGINE_ENVIRONMENT
from proxx_exec.validate import ValidatedJob

PROXX = str(Path(sys.executable).parent / "proxx")
_TICK = 1 / os.sysconf("SC_CLK_TCK")


@dataclass
class ProfileRow:
    size: str
    profile: str
    bare: list[float] = field(default_factory=list)
    in_process: list[float] = field(default_factory=list)
    cli: list[float] = field(default_factory=list)
    encode: list[float] = field(default_factory=list)
    verify: list[float] = field(default_factory=list)

    def ratio(self, samples: list[float]) -> float:
        return statistics.median(samples) / statistics.median(self.bare)

    @property
    def verify_share(self) -> float:
        return sum(self.verify) / sum(self.encode)


def _fields(source: Path, profile: str, output: Path, job_id: str) -> dict[str, object]:
    output.mkdir()
    return {
        "spec_version": "1",
        "job_id": job_id,
        "sources": [str(source)],
        "output_dir": str(output),
        "profile": profile,
        "clip_timeout_s": 3600,
    }


def bare_run(job: ValidatedJob, scratch: Path) -> float:
    """The planned argv, run as a plain FFmpeg process into a scratch folder."""
    clip = job.plan.clips[0]
    argv = [*clip.argv[:-1], "file:" + str(scratch / ("bare" + Path(clip.output).suffix))]
    began = time.perf_counter()
    subprocess.run(
        argv,
        executable=job.engine_binary,
        env=ENGINE_ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )
    elapsed = time.perf_counter() - began
    for leftover in scratch.iterdir():
        leftover.unlink()
    return elapsed


def measure(root: Path, source: Path, size: str, profile: str, reps: int) -> ProfileRow:
    row = ProfileRow(size, profile)
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    probe = validate_job(
        JobSpec.model_validate(_fields(source, profile, root / f"probe-{size}-{profile}", "p"))
    )
    for rep in range(reps):
        row.bare.append(bare_run(probe, scratch))
        out = root / f"in-{size}-{profile}-{rep}"
        spec = JobSpec.model_validate(_fields(source, profile, out, f"in{rep}"))
        began = time.perf_counter()
        result = execute(spec)
        row.in_process.append(time.perf_counter() - began)
        if not result.completed:
            raise SystemExit(f"benchmark job failed: {result.failure}")
        row.encode += [c.encode_s for c in result.timing.clips]
        row.verify += [c.verify_s for c in result.timing.clips]
        shutil.rmtree(out)
        out = root / f"cli-{size}-{profile}-{rep}"
        spec_file = root / f"cli-{size}-{profile}-{rep}.json"
        spec_file.write_text(json.dumps(_fields(source, profile, out, f"cli{rep}")))
        row.cli.append(timed_child([PROXX, "run", str(spec_file)])[0])
        shutil.rmtree(out)
    print(
        f"{size} {profile:14s} execute() {row.ratio(row.in_process):.3f}x, proxx run "
        f"{row.ratio(row.cli):.3f}x, verification {row.verify_share:.1%} of the encode",
        flush=True,
    )
    return row


def _start_ticks(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def startup(root: Path, source: Path, reps: int) -> list[float]:
    """Seconds from `proxx run`'s process start to its encode's process start (±1 tick)."""
    samples = []
    for rep in range(reps):
        out = root / f"start-{rep}"
        spec_file = root / f"start-{rep}.json"
        spec_file.write_text(json.dumps(_fields(source, "h264_half", out, f"start{rep}")))
        process = subprocess.Popen(
            [PROXX, "run", str(spec_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        began = _start_ticks(process.pid)
        encode: int | None = None
        while encode is None and process.poll() is None:
            for proc in descendants(process.pid):
                if "-c:v" in proc.argv:
                    encode = _start_ticks(proc.pid)
                    break
            time.sleep(0.002)
        process.wait()
        if encode is None or process.returncode != 0:
            raise SystemExit("start-up: the encode was not seen")
        samples.append((encode - began) * _TICK)
        shutil.rmtree(out)
    print(f"proxx run start-up to encode: {statistics.median(samples):.3f} s", flush=True)
    return samples
