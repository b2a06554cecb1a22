"""Does one volume need a limit? The bytes per second proxies are written at on a machine of N
cores, against what one disk takes.

Each built-in profile's planned argv is run once on a 1920x1080 source; its proxy's size and the
encode's CPU time give the write rate of one encode running flat out on its pinned threads (CPU
time / threads: the fastest it can go, so the highest rate). At N cores the pool runs up to
`pool_limit(N)` encodes at once; all of them of the profile writing fastest is the worst case.
The disk is measured with `dd` writing 512 MB and syncing before it ends (conv=fsync).
`python3 dev.py bench` writes this section for the 16 cores deploy/dagster.yaml is sized for.

Run alone: `.venv/bin/python -m benchmarks.volume_share [--cores 16]` (prints the page's section).
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import source_clip
from proxx_dagster.sizing import encode_slots, pool_limit
from proxx_exec import BUILTIN_PROFILES, JobSpec, validate_job
from proxx_exec.process import ENGINE_ENVIRONMENT

SOURCE_SIZE, SOURCE_S = "1920x1080", 4.0
DD_MB = 512
SHIPPED_CORES = 16  # the cores deploy/dagster.yaml is sized for
GIGABIT_MB_S = 125.0  # a 1 Gb/s network share, before protocol overhead


@dataclass(frozen=True)
class ProfileRate:
    profile: str
    threads: int
    proxy_bytes: int
    cpu_s: float
    footage_s: float

    @property
    def mb_per_footage_minute(self) -> float:
        return self.proxy_bytes / self.footage_s * 60 / 1e6

    @property
    def write_mb_s(self) -> float:
        """One encode flat out on its pinned threads."""
        return self.proxy_bytes / (self.cpu_s / self.threads) / 1e6


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_profiles(root: Path, source: Path, footage_s: float) -> list[ProfileRate]:
    """Each built-in profile once on `source` (`footage_s` long), in a folder under `root`."""
    out = root / "volume-share"
    out.mkdir()
    rows = []
    for name, profile in BUILTIN_PROFILES.items():
        spec = JobSpec.model_validate(
            {
                "spec_version": "1",
                "job_id": f"rate-{name}",
                "sources": [str(source)],
                "output_dir": str(out),
                "profile": name,
            }
        )
        job = validate_job(spec)
        argv = list(job.plan.clips[0].argv)
        output = out / f"{name}{profile.extension}"
        before = _children_cpu()
        subprocess.run(
            [*argv[:-1], "file:" + str(output)],
            executable=job.engine_binary,
            env=ENGINE_ENVIRONMENT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
        )
        cpu = _children_cpu() - before
        rows.append(ProfileRate(name, profile.threads, output.stat().st_size, cpu, footage_s))
        output.unlink()
        print(f"{name}: {rows[-1].proxy_bytes} bytes, {cpu:.2f} s CPU", file=sys.stderr)
    return rows


def disk_write_mb_s(folder: Path) -> float:
    """dd of DD_MB megabytes into `folder`, synced before dd ends."""
    target = folder / "dd.bin"
    done = subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={DD_MB}", "conv=fsync"],
        capture_output=True,
        text=True,
        check=True,
    )
    target.unlink()
    # dd's last line: "536870912 bytes (537 MB, 512 MiB) copied, 1.23 s, 436 MB/s"
    seconds = float(re.findall(r"copied, ([0-9.]+) s", done.stderr)[-1])
    return DD_MB * 1024 * 1024 / seconds / 1e6


def section(rows: list[ProfileRate], disk: float, cores: int, source: str) -> list[str]:
    encodes = pool_limit(cores)
    fastest = max(rows, key=lambda r: r.write_mb_s)
    slowest = min(rows, key=lambda r: r.write_mb_s)
    low, high = encode_slots(cores) * slowest.write_mb_s, encodes * fastest.write_mb_s
    return [
        f"Each built-in profile's planned argv once on the {source} source; "
        "one encode's write rate is its proxy's size over its CPU time divided by its pinned "
        "threads (the encode flat out, so the highest rate). The disk: `dd` of "
        f"{DD_MB} MB with `conv=fsync` on this machine's disk.",
        "",
        "| profile | threads | proxy per minute of footage | one encode writes |",
        "| --- | --- | --- | --- |",
        *(
            f"| {r.profile} | {r.threads} | {r.mb_per_footage_minute:.0f} MB "
            f"| {r.write_mb_s:.1f} MB/s |"
            for r in rows
        ),
        "",
        f"At {cores} cores the pool runs {encode_slots(cores)} to {encodes} encodes at once: "
        f"they write {low:.0f} to {high:.0f} MB/s ({slowest.profile} on every slot to "
        f"{fastest.profile} on every pool place), {low / disk:.0%} to {high / disk:.0%} of this "
        f"disk's {disk:.0f} MB/s and at most {high / GIGABIT_MB_S:.0%} of a 1 Gb/s network "
        "share. A limit of one run per output volume would hold a volume to one encode's "
        f"{fastest.write_mb_s:.0f} MB/s at most while the cores stand idle: it protects nothing "
        "a disk needs, so the instance "
        "has none. Reading camera originals from one slow disk might (a source's bitrate is "
        "the camera's, far above a proxy's); that would key on the source volume and needs "
        "its own measurement on such a disk.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cores", type=int, default=SHIPPED_CORES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proxx-volume-") as folder:
        root = Path(folder)
        rows = measure_profiles(root, source_clip(root, SOURCE_SIZE, SOURCE_S), SOURCE_S)
        disk = disk_write_mb_s(root)
    described = f"{SOURCE_S:g} s {SOURCE_SIZE}"
    sys.stdout.write("\n".join(section(rows, disk, args.cores, described)) + "\n")


if __name__ == "__main__":
    main()
