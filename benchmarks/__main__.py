"""proxx against bare FFmpeg on the same clips, per built-in profile, measured interleaved.

For each profile: A = the exact encode argv from `proxx plan`, run bare (one FFmpeg process);
B = `proxx_exec.execute` end to end (validate with probes and engine hash, encode, full
verification decode, commit, result). Runs alternate A B A B ...; the table shows medians, the
spread (max-min over median) and the ratio B/A. Results go to stdout and docs/benchmarks.md.

    python3 dev.py bench [--reps N] [--seconds S] [--size WxH]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from proxx_exec import BUILTIN_PROFILES, JobSpec, execute, validate_job
from proxx_exec.process import ENGINE_ENVIRONMENT
from proxx_exec.samples import SampleClip, make_sample

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "benchmarks.md"


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{model}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def bare_run(spec: JobSpec, scratch: Path) -> float:
    """The planned argv, run as a plain FFmpeg process into a scratch folder."""
    job = validate_job(spec)
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


def proxx_run(fields: dict[str, object], scratch: Path, number: int) -> float:
    output = scratch / f"proxx-{number}"
    output.mkdir()
    spec = JobSpec.model_validate({**fields, "output_dir": str(output), "job_id": f"b{number}"})
    began = time.perf_counter()
    result = execute(spec)
    elapsed = time.perf_counter() - began
    if not result.completed:
        raise SystemExit(f"benchmark job failed: {result.failure}")
    shutil.rmtree(output)
    return elapsed


def spread(samples: list[float]) -> float:
    return (max(samples) - min(samples)) / statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="proxx-bench-") as tmp:
        root = Path(tmp)
        source = make_sample(
            root / "SRC001.mov",
            SampleClip(
                width=width,
                height=height,
                duration_s=args.seconds,
                audio_channels=(2, 1),
                video_codec="libx264",
                codec_args=("-preset", "ultrafast", "-crf", "12"),
                pix_fmt="yuv420p",
            ),
        )
        scratch = root / "scratch"
        scratch.mkdir()
        rows = []
        engine = ""
        for profile in BUILTIN_PROFILES:
            fields = {
                "spec_version": "1",
                "sources": [str(source)],
                "profile": profile,
                "clip_timeout_s": 3600,
            }
            bare: list[float] = []
            ours: list[float] = []
            for rep in range(args.reps):
                probe_spec = JobSpec.model_validate(
                    {**fields, "job_id": "bare", "output_dir": str(scratch)}
                )
                bare.append(bare_run(probe_spec, scratch))
                ours.append(proxx_run(fields, root, rep))
            engine = validate_job(probe_spec).plan.engine.version_line
            ratio = statistics.median(ours) / statistics.median(bare)
            rows.append(
                (
                    profile,
                    statistics.median(bare),
                    spread(bare),
                    statistics.median(ours),
                    spread(ours),
                    ratio,
                )
            )
            print(
                f"{profile:14s} bare {rows[-1][1]:7.2f}s  proxx {rows[-1][3]:7.2f}s  "
                f"ratio {ratio:5.3f}",
                flush=True,
            )
    table = [
        "| profile | bare FFmpeg (median, spread) | proxx run (median, spread) | ratio |",
        "| --- | --- | --- | --- |",
    ]
    table += [
        f"| {p} | {b:.2f} s ({sb:.0%}) | {o:.2f} s ({so:.0%}) | {r:.3f}x |"
        for p, b, sb, o, so, r in rows
    ]
    print("\n".join(table))
    if not args.no_write:
        write_report(table, engine, args)


METHOD = """\
Made by `python3 dev.py bench` (entry point `benchmarks/__main__.py`); rerun it to refresh this
page. Speed is measured here, never asserted in tests.

Bare = the exact encode command from `proxx plan`, one FFmpeg process. proxx =
`proxx_exec.execute` end to end: validation (source probe, engine `-version` and SHA-256), the
encode, full verification (header checks and an `-xerror` decode of the whole proxy), output
SHA-256, commit and the result file. Per profile the two alternate (A B A B ...); the table gives
the median wall time and the spread, (max - min) / median."""


def write_report(table: list[str], engine: str, args: argparse.Namespace) -> None:
    source = (
        f"{args.size} 25 fps H.264 (CRF 12) with stereo and mono PCM tracks, "
        f"{args.seconds:g} s, made with lavfi testsrc2 and sine"
    )
    lines = [
        "# Benchmarks",
        "",
        METHOD,
        "",
        f"- date: {datetime.now(UTC).date().isoformat()}",
        f"- machine: {machine()}",
        f"- engine: {engine}",
        f"- source: {source}",
        f"- repetitions: {args.reps} per side",
        "",
        "## proxx run vs the same argv run bare",
        "",
        *table,
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
