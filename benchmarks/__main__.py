"""The benchmark: measured side by side in one run, printed, and written to docs/benchmarks.md.

1. proxx against bare FFmpeg, per built-in profile: the exact encode argv run bare,
   `proxx_exec.execute` in process, and `proxx run` as a process; interleaved. `proxx run`'s
   start-up to the encode's start.
2. Dagster against the CLI: `dg launch --job proxx_job` vs `proxx run`, 10-clip JobSpec.
3. Celery: 8 one-clip JobSpecs through `proxx_batch` on 1 vs 2 Celery workers.
4. Planning at scale: `proxx validate` + `proxx plan --json` of a 1,000-clip JobSpec.
5. Memory: peak RSS of the proxx process (not FFmpeg) for 10- and 100-clip jobs.
6. A night: five camera cards of mixed clips through `proxx_batch` against `xargs -P2` of the
   recorded encode commands, with the cost breakdown (benchmarks/night.py).

The "Thread counts", "Scale rehearsal" and "Batch throughput" sections are measured on their own
(`python -m benchmarks.threads`, `python -m benchmarks.scale`, `python -m benchmarks.batch`) and
kept.

    python3 dev.py bench [--reps N] [--seconds S] [--sizes WxH,WxH] [--night-reps N]
                         [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import audio_size, batch, scale, threads, volume_share
from benchmarks.batch import celery_one_vs_two_workers
from benchmarks.common import (
    REPO,
    clip_folder,
    machine,
    measured,
    replace_section,
    section_of,
    source_clip,
    timed_child,
)
from benchmarks.dagster_processes import dagster_home
from benchmarks.night import night, save
from benchmarks.night import report as night_report
from benchmarks.per_profile import ProfileRow, measure, startup
from proxx_dagster.builders import EXECUTE_PROXX_JOB, LAUNCHER
from proxx_exec import BUILTIN_PROFILES
from proxx_exec.engines import identify_engine
from proxx_exec.jobspec import DEFAULT_ENGINE
from proxx_exec.tools.samples import SampleClip, make_sample

REPORT = REPO / "docs" / "benchmarks.md"


def spec_file(root: Path, name: str, sources: list[str], profile: str) -> tuple[Path, Path]:
    out = root / f"{name}-out"
    out.mkdir()
    path = root / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "spec_version": "1",
                "job_id": name,
                "sources": sources,
                "output_dir": str(out),
                "profile": profile,
            }
        )
    )
    return path, out


def dagster_vs_cli(root: Path, source: Path, reps: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    sources = clip_folder(source, root / "ten", 10)
    home = dagster_home(root, "dagster_home")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    cli, dag = [], []
    for rep in range(reps):
        path, out = spec_file(root, f"cli{rep}", sources, "h264_half")
        cli.append(timed_child([str(bin_dir / "proxx"), "run", str(path)])[0])
        shutil.rmtree(out)
        fields = json.loads(path.read_text())
        fields["job_id"] = f"dag{rep}"
        out.mkdir()
        config = root / f"dag{rep}.yaml"
        config.write_text(json.dumps({"ops": {"execute_jobspec": {"config": fields}}}))
        dag.append(
            timed_child(
                [
                    str(bin_dir / LAUNCHER),
                    *EXECUTE_PROXX_JOB,
                    "-c",
                    str(config),
                ],
                env=env,
            )[0]
        )
        shutil.rmtree(out)
    ratio = statistics.median(dag) / statistics.median(cli)
    print(f"dg launch vs proxx run, 10 clips: ratio {ratio:.3f}", flush=True)
    return [
        f"| `proxx_job` via `dg launch` (SQLite) vs `proxx run`, 10-clip "
        f"JobSpec, h264_half | {measured(dag)} vs {measured(cli)} | {ratio:.3f}x | <= 1.25x |"
    ]


def planning_at_scale(root: Path, small: Path) -> list[str]:
    proxx = str(Path(sys.executable).parent / "proxx")
    sources = clip_folder(small, root / "thousand", 1000)
    path, _ = spec_file(root, "thousand", sources, "h264_quarter")
    validate_s, validate_kib = timed_child([proxx, "validate", str(path)])
    plan_s, plan_kib = timed_child([proxx, "plan", "--json", str(path)])
    print(f"1000 clips: validate {validate_s:.2f}s, plan {plan_s:.2f}s", flush=True)
    peak = max(validate_kib, plan_kib) / 1024
    return [
        f"| `proxx validate` + `proxx plan --json`, 1,000-clip JobSpec (sources probed "
        f"once each, in separate processes) | {validate_s:.2f} s + {plan_s:.2f} s, peak "
        f"{peak:.0f} MiB | {validate_s + plan_s:.2f} s | < 2 s, < 200 MiB |"
    ]


def memory_with_clip_count(root: Path, small: Path) -> list[str]:
    proxx = str(Path(sys.executable).parent / "proxx")
    peaks = {}
    for count in (10, 100):
        sources = clip_folder(small, root / f"mem{count}", count)
        path, _ = spec_file(root, f"mem{count}", sources, "h264_quarter")
        peaks[count] = timed_child([proxx, "run", str(path)])[1] / 1024
    ratio = peaks[100] / peaks[10]
    print(f"peak RSS 10 clips {peaks[10]:.0f} MiB, 100 clips {peaks[100]:.0f} MiB", flush=True)
    return [
        f"| peak RSS of the `proxx run` process (FFmpeg excluded), 100-clip vs 10-clip job "
        f"| {peaks[100]:.0f} MiB vs {peaks[10]:.0f} MiB | {ratio:.3f}x | flat (~1.0x) |"
    ]


def celery_rows(root: Path, source: Path, reps: int) -> list[str]:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            pass
    except OSError as error:
        print(f"Celery comparison skipped: Redis unreachable ({error})", flush=True)
        return [f"| Celery 2 workers vs 1 | not measured: Redis unreachable ({error}) | - | - |"]
    return celery_one_vs_two_workers(root, source, reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", default="1920x1080,3840x2160", help="source sizes, WxH,...")
    parser.add_argument("--night-reps", type=int, default=1, help="0 leaves the night out")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    with tempfile.TemporaryDirectory(prefix="proxx-bench-") as tmp:
        root = Path(tmp)
        sources = {size: source_clip(root, size, args.seconds) for size in sizes}
        rows = [
            measure(root, sources[size], size, profile, args.reps)
            for size in sizes
            for profile in BUILTIN_PROFILES
        ]
        source = sources[sizes[0]]
        starts = startup(root, source, args.reps * 3)
        audio_sizes = audio_size.measure(root, source, args.seconds)
        rates = volume_share.measure_profiles(root, source, args.seconds)
        disk = volume_share.disk_write_mb_s(root)
        volume = volume_share.section(
            rates, disk, volume_share.SHIPPED_CORES, f"{args.seconds:g} s {sizes[0]}"
        )
        engine = identify_engine(DEFAULT_ENGINE)[0].version_line
        small = make_sample(root / "SMALL.mov", SampleClip(width=320, height=180, duration_s=0.4))
        others = [
            "| comparison | measured | ratio | target |",
            "| --- | --- | --- | --- |",
            *dagster_vs_cli(root, source, args.reps),
            *celery_rows(root, source, args.reps),
            *planning_at_scale(root, small),
            *memory_with_clip_count(root, small),
        ]
        the_night = night(root, args.night_reps) if args.night_reps else None
    page = report(rows, starts, audio_sizes, volume, others, the_night, engine, args)
    print("\n".join(page))
    if not args.no_write:
        # Sections measured by runs of their own (benchmarks/threads.py, scale.py, batch.py)
        # are kept as they are.
        kept = {
            title: section_of(REPORT, title) for title in (threads.TITLE, scale.TITLE, batch.TITLE)
        }
        REPORT.write_text("\n".join(page) + "\n")
        for title, body in kept.items():
            if body is not None:
                replace_section(REPORT, title, body)
        if the_night is not None:
            save(the_night, REPORT.with_name("benchmarks-night.json"))
        print(f"wrote {REPORT.relative_to(REPO)}")


METHOD = """\
Made by `python3 dev.py bench` (entry point `benchmarks/__main__.py`); rerun it to refresh this
page. Speed is measured here, never asserted in tests. Every figure and every sentence of
measured fact below is written by the run from what it measured.

Per profile, three sides alternate (A B C A B C ...): bare = the exact encode command from
`proxx plan`, one FFmpeg process; `execute()` = `proxx_exec.execute` called inside an already
running Python, which is what a Dagster op pays; `proxx run` = the command as a user runs it,
from process start to exit (interpreter start, imports, the CLI). Both proxx sides do the whole
job: validation (source probe, engine `-version` and SHA-256), the encode, full verification
(header checks and an `-xerror` decode of the whole proxy), the proxy's SHA-256, the commit and
the result file. The tables give the median wall time and the spread, (max - min) / median."""


def _share(value: float) -> str:
    return f"{value:.1%}"


def report(
    rows: list[ProfileRow],
    starts: list[float],
    audio_sizes: list[audio_size.SizeRow],
    volume: list[str],
    others: list[str],
    the_night: dict[str, Any] | None,
    engine: str,
    args: argparse.Namespace,
) -> list[str]:
    first = args.sizes.split(",")[0]
    h264 = next(r for r in rows if r.size == first and r.profile == "h264_half")
    start = statistics.median(starts)
    worst_verify = max(rows, key=lambda r: r.verify_share)
    table = [
        "| source | profile | bare FFmpeg | `execute()` in process | ratio | `proxx run` "
        "(process) | ratio | verification / encode |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r.size} | {r.profile} | {measured(r.bare)} | {measured(r.in_process)} | "
            f"{r.ratio(r.in_process):.3f}x | {measured(r.cli)} | {r.ratio(r.cli):.3f}x | "
            f"{_share(r.verify_share)} |"
            for r in rows
        ),
    ]
    targets = [
        "| comparison | measured | target | met? |",
        "| --- | --- | --- | --- |",
        f"| `proxx run` start-up, process start to the encode's start, 1-clip JobSpec "
        f"| {start:.3f} s (median of {len(starts)}, ±{1 / os.sysconf('SC_CLK_TCK'):.2f} s) "
        f"| <= 0.15 s | {'yes' if start <= 0.15 else 'no'} |",
        f"| `proxx run` vs bare, {args.seconds:g} s {first}, h264_half "
        f"| {h264.ratio(h264.cli):.3f}x | <= 1.18x "
        f"| {'yes' if h264.ratio(h264.cli) <= 1.18 else 'no'} |",
        f"| verification, share of the encode, worst profile "
        f"({worst_verify.size} {worst_verify.profile}) | {_share(worst_verify.verify_share)} "
        f"| <= 12 % | {'yes' if worst_verify.verify_share <= 0.12 else 'no'} |",
    ]
    source = (
        f"{args.sizes.replace(',', ' and ')}, 25 fps H.264 (CRF 12) with stereo and mono PCM "
        f"tracks, {args.seconds:g} s, made with lavfi testsrc2 and sine; the other comparisons "
        f"use the first size"
    )
    page = [
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
        "## Targets",
        "",
        *targets,
        "",
        "## proxx against the same encode run bare, per profile",
        "",
        *table,
        "",
        "## What bit-exact audio costs in size",
        "",
        *audio_size.section(audio_sizes, f"{args.seconds:g} s {first}"),
        "",
        "## Does one volume need a limit?",
        "",
        *volume,
        "",
    ]
    if the_night is not None:
        page += ["## A night's work", "", *night_report(the_night), ""]
    page += [
        "## Orchestration, planning at scale, memory",
        "",
        *others,
        "",
        "## Reading the figures",
        "",
        *reading(rows, start, the_night),
        "",
    ]
    return page


def reading(rows: list[ProfileRow], start: float, the_night: dict[str, Any] | None) -> list[str]:
    """The page's prose, made from this run's figures."""
    fastest = min(rows, key=lambda r: statistics.median(r.bare))
    slowest = max(rows, key=lambda r: statistics.median(r.bare))
    fixed = [statistics.median(r.in_process) - statistics.median(r.bare) for r in rows]
    lines = [
        f"- Each job pays a cost the encoder does not: in this run "
        f"{min(fixed):.2f} to {max(fixed):.2f} s per one-clip job inside a running Python "
        f"(validation, the verification decode, the SHA-256s, the commit). On the fastest "
        f"encode here ({fastest.size} {fastest.profile}, {statistics.median(fastest.bare):.2f} s "
        f"bare) that is {fastest.ratio(fastest.in_process):.3f}x; on the slowest "
        f"({slowest.size} {slowest.profile}, {statistics.median(slowest.bare):.2f} s) "
        f"{slowest.ratio(slowest.in_process):.3f}x."
        + (
            " A negative figure means that row's difference was within its noise (see the spreads)."
            if min(fixed) < 0
            else ""
        ),
        f"- `proxx run` adds the interpreter, its imports and the CLI: {start:.3f} s pass "
        "between its start and the start of the encode.",
    ]
    if the_night is not None:
        parts = the_night["parts"]
        lines.append(
            f"- Over the night, verification took {parts['verify_s']:.1f} s against "
            f"{parts['encode_s']:.1f} s of encoding "
            f"({parts['verify_s'] / parts['encode_s']:.1%}); that share is the floor no "
            "faster orchestration can remove without weakening what a result proves."
        )
    return lines


if __name__ == "__main__":
    main()
