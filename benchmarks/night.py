"""A night's work: camera cards of mixed clips through `proxx_batch` (multiprocess, two JobSpecs
at a time) against `xargs -P2` over the bare encode commands the results record.

Verification is work a bare loop does not do, so the floor for proxx is
encode / (encode + verification), measured in the same run from the results' own timing; the
night's throughput is compared with it. Every figure and sentence of measured fact on the page
comes from this run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterInstance

from benchmarks.batch_runs import running_batch
from benchmarks.common import xargs_listing
from benchmarks.dagster_processes import dagster_home
from benchmarks.processes import descendants
from proxx_dagster.names import EXECUTE_BATCH_OP, PLAN_OP
from proxx_exec import ExecutionResult
from proxx_exec.engines import default_engine_binary, identify_engine
from proxx_exec.naming import result_path
from proxx_exec.process import ENGINE_ENVIRONMENT
from proxx_exec.tools.samples import SampleClip, make_sample

# card name, profile, clips as (seconds, size, audio tracks)
NIGHT: tuple[tuple[str, str, tuple[tuple[float, str, int], ...]], ...] = (
    (
        "A001",
        "h264_half",
        (
            (5, "1920x1080", 2),
            (12, "1920x1080", 2),
            (30, "1920x1080", 4),
            (60, "1920x1080", 2),
            (8, "1920x1080", 2),
            (120, "1920x1080", 2),
            (20, "1920x1080", 8),
        ),
    ),
    (
        "B002",
        "prores_proxy",
        (
            (5, "3840x2160", 4),
            (10, "3840x2160", 4),
            (15, "3840x2160", 4),
            (20, "1920x1080", 2),
            (30, "1920x1080", 2),
            (10, "1920x1080", 8),
            (45, "1920x1080", 2),
        ),
    ),
    (
        "C003",
        "dnxhr_lb",
        (
            (5, "1920x1080", 2),
            (8, "1920x1080", 2),
            (15, "1920x1080", 4),
            (30, "1920x1080", 2),
            (60, "1920x1080", 2),
            (90, "1920x1080", 2),
            (10, "3840x2160", 4),
        ),
    ),
    (
        "D004",
        "h264_quarter",
        (
            (5, "3840x2160", 4),
            (20, "3840x2160", 2),
            (40, "1920x1080", 2),
            (60, "1920x1080", 8),
            (120, "1920x1080", 2),
            (15, "1920x1080", 2),
            (8, "1920x1080", 2),
        ),
    ),
    (
        "E005",
        "prores_lt",
        (
            (5, "1920x1080", 2),
            (8, "1920x1080", 4),
            (10, "1920x1080", 2),
            (12, "1920x1080", 2),
            (5, "1920x1080", 8),
        ),
    ),
)


@dataclass(frozen=True)
class Side:
    wall_s: float
    cpu_busy: float  # share of the machine's CPU time that was busy
    peak_mib: float  # peak RSS of the run's whole process tree


def make_night(root: Path) -> dict[str, list[str]]:
    """The cards' clips: camera-like H.264 (CRF 12) with 24-bit PCM tracks."""
    cards: dict[str, list[str]] = {}
    for card, _, clips in NIGHT:
        folder = root / "media" / card
        folder.mkdir(parents=True)
        paths = []
        for number, (seconds, size, tracks) in enumerate(clips, start=1):
            width, height = (int(v) for v in size.split("x"))
            path = folder / f"{card}C{number:03d}.mov"
            make_sample(
                path,
                SampleClip(
                    width=width,
                    height=height,
                    duration_s=seconds,
                    audio_channels=(2,) + (1,) * (tracks - 1),
                    video_codec="libx264",
                    codec_args=("-preset", "ultrafast", "-crf", "12"),
                    pix_fmt="yuv420p",
                    reel_name=card,
                    timecode=f"{10 + number:02d}:00:00:00",
                ),
            )
            paths.append(str(path))
        cards[card] = paths
    return cards


def jobspecs(cards: dict[str, list[str]], out: Path, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "spec_version": "1",
            "job_id": f"{tag}-{card}",
            "sources": cards[card],
            "output_dir": str(out / card),
            "profile": profile,
            "clip_timeout_s": 7200,
        }
        for card, profile, _ in NIGHT
    ]


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _tree_rss_kib(root: int) -> int:
    total = 0
    for pid in [root, *(proc.pid for proc in descendants(root))]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class _Watch:
    """Samples the process tree's RSS while a side runs."""

    def __init__(self, pid: int) -> None:
        self.peak_kib = 0
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self._pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


def run_proxx(home: Path, specs: list[dict[str, Any]], root: Path) -> Side:
    config = {
        "ops": {PLAN_OP: {"config": {"jobspecs": specs}}},
        "execution": {"config": {"multiprocess": {"max_concurrent": 2}}},
    }
    busy0, total0 = _cpu_times()
    began = time.perf_counter()
    with running_batch(home, config, root) as batch:
        watch = _Watch(batch.pid)
        output, _ = batch.communicate()
        peak = watch.stop()
    wall = time.perf_counter() - began
    busy1, total1 = _cpu_times()
    if batch.returncode != 0:
        raise SystemExit(f"night batch failed:\n{output[-3000:]}")
    return Side(wall, (busy1 - busy0) / (total1 - total0), peak)


def run_bare(results: list[ExecutionResult], scratch: Path) -> Side:
    """`xargs -P2` over one script per clip, each exec'ing the recorded encode argv."""
    scratch.mkdir()
    binary = str(default_engine_binary())
    listing = xargs_listing(
        {
            f"{result.job_id}-{clip.index}": [
                binary,
                *clip.argv[1:-1],
                "file:" + str(scratch / f"{result.job_id}-{clip.index}.mov"),
            ]
            for result in results
            for clip in result.clips
        },
        scratch,
    )
    busy0, total0 = _cpu_times()
    began = time.perf_counter()
    with listing.open() as jobs:
        process = subprocess.Popen(
            ["xargs", "-P2", "-n1", "sh"],
            stdin=jobs,
            env={**ENGINE_ENVIRONMENT, "PATH": "/usr/bin:/bin"},
        )
        watch = _Watch(process.pid)
        process.wait()
        peak = watch.stop()
    wall = time.perf_counter() - began
    busy1, total1 = _cpu_times()
    if process.returncode != 0:
        raise SystemExit("bare night failed")
    shutil.rmtree(scratch)
    return Side(wall, (busy1 - busy0) / (total1 - total0), peak)


def read_results(specs: list[dict[str, Any]]) -> list[ExecutionResult]:
    results = []
    for fields in specs:
        path = Path(result_path(fields["output_dir"], fields["job_id"]))
        result = ExecutionResult.from_json(path.read_text())
        if not result.completed:
            raise SystemExit(f"night job failed: {result.failure}")
        results.append(result)
    return results


def dagster_costs(home: Path) -> dict[str, float]:
    """From the last run's event log: run start to the first step, and per JobSpec step the
    time the step took beyond proxx's own execute() (posters and contact sheet, events, IO manager,
    asset reporting)."""
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
        records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START)
        started = records.records[0].event_log_entry.timestamp
    steps = [s for s in stats if s.step_key and s.step_key.startswith(EXECUTE_BATCH_OP)]
    first = min(s.start_time for s in stats if s.start_time)
    plan = next(s for s in stats if s.step_key == PLAN_OP)
    return {
        "run_start_to_first_step_s": first - started,
        "plan_step_s": (plan.end_time or 0) - (plan.start_time or 0),
        "steps": float(len(steps)),
        "step_total_s": sum((s.end_time or 0) - (s.start_time or 0) for s in steps),
    }


def breakdown(results: list[ExecutionResult]) -> dict[str, float]:
    clips = [c for r in results for c in r.timing.clips]
    return {
        "jobs": float(len(results)),
        "clips": float(len(clips)),
        "validation_s": sum(r.timing.validation_s or 0 for r in results),
        "encode_s": sum(c.encode_s for c in clips),
        "verify_s": sum(c.verify_s for c in clips),
        "hash_s": sum(c.hash_s for c in clips),
        "commit_s": sum(r.timing.commit_s or 0 for r in results),
        "execute_s": sum(r.timing.duration_s for r in results),
        "video_s": sum(float(c.duration_s or 0) for r in results for c in r.clips),
    }


def engine_identity_s(times: int = 5) -> float:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        identify_engine("imageio-ffmpeg")
        samples.append(time.perf_counter() - began)
    return sorted(samples)[len(samples) // 2]


def night(root: Path, reps: int) -> dict[str, Any]:
    home = dagster_home(root, "night_home")
    print("night: making the cards", flush=True)
    cards = make_night(root)
    proxx_sides: list[Side] = []
    bare_sides: list[Side] = []
    costs: dict[str, float] = {}
    parts: dict[str, float] = {}
    for rep in range(reps):
        specs = jobspecs(cards, root / f"night-{rep}", f"n{rep}")
        proxx_sides.append(run_proxx(home, specs, root))
        results = read_results(specs)
        parts = breakdown(results)
        costs = dagster_costs(home)
        bare_sides.append(run_bare(results, root / f"bare-{rep}"))
        print(
            f"night rep {rep}: proxx_batch {proxx_sides[-1].wall_s:.1f} s, "
            f"xargs -P2 {bare_sides[-1].wall_s:.1f} s",
            flush=True,
        )
        for card in {Path(f["output_dir"]) for f in specs}:
            shutil.rmtree(card)
    return {
        "proxx": proxx_sides,
        "bare": bare_sides,
        "parts": parts,
        "dagster": costs,
        "engine_identity_s": engine_identity_s(),
        "cards": {card: len(clips) for card, clips in cards.items()},
    }


def describe_night() -> str:
    """The night's shape, from NIGHT itself."""
    profiles = ", ".join(profile for _, profile, _ in NIGHT)
    clips = [clip for _, _, card in NIGHT for clip in card]
    sizes = " and ".join(sorted({size for _, size, _ in clips}, key=len))
    tracks = [tracks for _, _, tracks in clips]
    seconds = [seconds for seconds, _, _ in clips]
    return (
        f"{profiles}; {sizes} H.264 (CRF 12) sources of {min(seconds):g} to {max(seconds):g} s "
        f"with {min(tracks)} to {max(tracks)} PCM tracks"
    )


def report(data: dict[str, Any]) -> list[str]:
    proxx: list[Side] = data["proxx"]
    bare: list[Side] = data["bare"]
    parts = data["parts"]
    dag = data["dagster"]
    p = sorted(s.wall_s for s in proxx)[len(proxx) // 2]
    b = sorted(s.wall_s for s in bare)[len(bare) // 2]
    floor = parts["encode_s"] / (parts["encode_s"] + parts["verify_s"])
    ratio = b / p
    share = ratio / floor
    jobs, clips = int(parts["jobs"]), int(parts["clips"])
    other = parts["execute_s"] - sum(
        parts[k] for k in ("validation_s", "encode_s", "verify_s", "hash_s", "commit_s")
    )
    verdict = "met" if share >= 0.97 else "missed"
    lines = [
        f"{jobs} cards ({', '.join(f'{k}: {v} clips' for k, v in data['cards'].items())}), "
        f"{clips} clips, {parts['video_s'] / 60:.1f} minutes of video, one JobSpec per card "
        f"with its own profile ({describe_night()}).",
        "",
        f"| side | wall (median of {len(proxx)}) | CPU busy | peak RSS of the process tree |",
        "| --- | --- | --- | --- |",
        f"| `proxx_batch`, multiprocess, 2 at a time | {p:.1f} s | "
        f"{sum(s.cpu_busy for s in proxx) / len(proxx):.0%} | "
        f"{max(s.peak_mib for s in proxx):.0f} MiB |",
        f"| `xargs -P2`, the recorded encode argv, bare | {b:.1f} s | "
        f"{sum(s.cpu_busy for s in bare) / len(bare):.0%} | "
        f"{max(s.peak_mib for s in bare):.0f} MiB |",
        "",
        f"- Throughput of proxx relative to bare: **{ratio:.3f}x**.",
        f"- The floor, encode / (encode + verification), from the results' timing: "
        f"{parts['encode_s']:.1f} s / ({parts['encode_s']:.1f} s + {parts['verify_s']:.1f} s) "
        f"= **{floor:.3f}**.",
        f"- proxx as a share of the floor: **{share:.3f}** (target >= 0.97: {verdict}).",
        "",
        "Where the proxx side's time went (sums over the night, from the ExecutionResults and "
        "Dagster's event log):",
        "",
        "| part | total | per job | per clip |",
        "| --- | --- | --- | --- |",
    ]
    rows = [
        ("validation (engine identity, probes, plan)", parts["validation_s"]),
        ("encode", parts["encode_s"]),
        ("verification (header checks, full decode)", parts["verify_s"]),
        ("SHA-256 of the proxies", parts["hash_s"]),
        ("commit", parts["commit_s"]),
        ("rest of execute() (staging, result file)", other),
        (
            "Dagster, per step beyond execute() (posters and contact sheet, events, IO manager, "
            "assets)",
            dag["step_total_s"] - parts["execute_s"],
        ),
        ("Dagster, run start to the first step", dag["run_start_to_first_step_s"]),
        ("Dagster, the plan step", dag["plan_step_s"]),
    ]
    for name, total in rows:
        lines.append(f"| {name} | {total:.2f} s | {total / jobs:.3f} s | {total / clips:.3f} s |")
    lines += [
        "",
        f"Engine identity alone (`-version` and the SHA-256 of the binary), median of 5: "
        f"{data['engine_identity_s']:.3f} s per job.",
    ]
    return lines


def save(data: dict[str, Any], path: Path) -> None:
    """Keep the raw figures beside the page, for the record."""
    path.write_text(
        json.dumps(
            {
                **data,
                "proxx": [s.__dict__ for s in data["proxx"]],
                "bare": [s.__dict__ for s in data["bare"]],
            },
            indent=2,
        )
    )
