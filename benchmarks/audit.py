"""How fast `proxx audit` is: result files per second and gigabytes hashed per second.

    .venv/bin/python -m benchmarks.audit [--results N] [--big-files N] [--big-mb MB] [--reps N]

One real job is run to get a real ExecutionResult; from it, result documents of the same shape
are written (new job ids, outputs, sizes and SHA-256s, re-sealed digests) for synthetic proxies:
1. many results (three small proxies each, 100 results per folder): the per-result cost;
2. a few large proxies: hashing throughput, with the files in the page cache (warm) and evicted
   from it first (cold, posix_fadvise DONTNEED), beside `sha256sum` on the same files.
Prints a table; writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import machine
from proxx_exec import JobSpec, execute
from proxx_exec.files import file_fingerprint
from proxx_exec.result import compute_digest
from proxx_exec.tools.audit import audit_results
from proxx_exec.tools.samples import SampleClip, make_sample

PER_FOLDER = 100
BLOCK = os.urandom(1 << 20)


def template(root: Path) -> dict[str, Any]:
    """A real result of a one-clip job."""
    source = make_sample(root / "A001C001.mov", SampleClip(duration_s=1))
    out = root / "template"
    out.mkdir()
    spec = JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": "template",
            "sources": [str(source)],
            "output_dir": str(out),
            "profile": "h264_quarter",
        }
    )
    result = execute(spec)
    assert result.completed, result.failure
    document: dict[str, Any] = json.loads(result.to_json())
    return document


def write_proxy(path: Path, size: int) -> tuple[int, str]:
    with path.open("wb") as handle:
        for offset in range(0, size, len(BLOCK)):
            handle.write(BLOCK[: min(len(BLOCK), size - offset)])
    return file_fingerprint(path)


def write_result(base: dict[str, Any], folder: Path, job_id: str, sizes: list[int]) -> Path:
    document = copy.deepcopy(base)
    document["job_id"] = document["spec"]["job_id"] = job_id
    document["spec"]["output_dir"] = str(folder)
    clips = []
    for index, size in enumerate(sizes):
        output = folder / f"{job_id}-{index + 1:02d}.mov"
        length, digest = write_proxy(output, size)
        clip = copy.deepcopy(base["clips"][0])
        clip.update(index=index, output=str(output), output_bytes=length, output_sha256=digest)
        clips.append(clip)
    document["clips"] = clips
    document["digest"] = compute_digest(document)
    path = folder / f"{job_id}.proxx-result.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def evict(paths: list[Path]) -> None:
    """Drop the files' pages from the page cache, so the next read comes from the disk."""
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def timed(action: Callable[[], object], reps: int, before: Callable[[], None] | None) -> float:
    samples = []
    for _ in range(reps):
        if before is not None:
            before()
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def audit_in_process(results: list[Path]) -> None:
    report = audit_results(results)
    assert report.intact, report.totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--big-files", type=int, default=8)
    parser.add_argument("--big-mb", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="proxx-audit-bench-"))
    try:
        base = template(root)
        many: list[Path] = []
        for number in range(options.results):
            folder = root / "season" / f"night-{number // PER_FOLDER:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            many.append(write_result(base, folder, f"job-{number:05d}", [64 << 10] * 3))
        big_folder = root / "big"
        big_folder.mkdir()
        big = [
            write_result(base, big_folder, f"big-{n:03d}", [options.big_mb << 20])
            for n in range(options.big_files)
        ]
        big_proxies = [p for p in big_folder.iterdir() if p.suffix == ".mov"]
        many_bytes = audit_results(many).totals.bytes_hashed
        big_bytes = options.big_files * (options.big_mb << 20)

        rows = []
        seconds = timed(lambda: audit_in_process(many), options.reps, None)
        rows.append(
            (
                f"{options.results} results, 3 x 64 KiB proxies each (warm)",
                seconds,
                f"{options.results / seconds:.0f} results/s",
                f"{many_bytes / seconds / 1e9:.2f} GB/s",
            )
        )
        command = [str(Path(sys.executable).parent / "proxx"), "audit", "--json", *map(str, many)]
        seconds = timed(
            lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL),
            options.reps,
            None,
        )
        rows.append(
            (
                "the same, `proxx audit --json` process end to end",
                seconds,
                f"{options.results / seconds:.0f} results/s",
                "",
            )
        )
        sha256sum = ["sha256sum", *map(str, big_proxies)]
        for label, before in (("warm", None), ("cold", lambda: evict(big_proxies))):
            seconds = timed(lambda: audit_in_process(big), options.reps, before)
            rows.append(
                (
                    f"{options.big_files} x {options.big_mb} MiB proxies ({label})",
                    seconds,
                    f"{options.big_files / seconds:.1f} results/s",
                    f"{big_bytes / seconds / 1e9:.2f} GB/s",
                )
            )
            seconds = timed(
                lambda: subprocess.run(sha256sum, check=True, stdout=subprocess.DEVNULL),
                options.reps,
                before,
            )
            rows.append(
                (
                    f"  sha256sum on the same files ({label})",
                    seconds,
                    "",
                    f"{big_bytes / seconds / 1e9:.2f} GB/s",
                )
            )
    finally:
        shutil.rmtree(root)
    print(f"machine: {machine()}")
    print(f"{'case':<58} {'median':>9}  {'results':>15}  {'hashed':>10}")
    for label, seconds, per_result, rate in rows:
        print(f"{label:<58} {seconds:>7.2f} s  {per_result:>15}  {rate:>10}")


if __name__ == "__main__":
    main()
