"""The scale rehearsal: a night on a simulated N-core machine, through the path operators use.

Cards are copied under watch roots; the real `dagster-daemon` runs the real watch sensor, run
queue, run launcher and executors against real code servers (one per profile, each with its own
PROXX_* settings, as a deployment would have them). Only the engine is a stand-in
(benchmarks/standin.py): each encode makes a real proxy of a tiny real clip, then holds its
pinned threads on the simulated machine for the work the clip it stands for would take there -
the CPU time that profile measurably costs per second of that size of source, measured first.

Reported per night and N: makespan (the first run created to the last run ended) against the
ideal (total work / N), the cores busy over time, waits in the run queue, idle core-time, and
the orchestration's own CPU and memory per run (every process but the engine, sampled).

    python -m benchmarks.scale [--cores 2,16,64] [--nights cards,big] [--instance sized]
                               [--ideal-s 120] [--clips-per-job 8] [--keep] [--no-write]

`--clips-per-job` rehearses another PROXX_CLIPS_PER_JOB than the default (its rows say so);
`--keep` adds the nights run to the figures on the page instead of replacing them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from dagster import DagsterEventType as Event
from dagster import DagsterInstance, RunsFilter

from benchmarks.common import REPO, machine, replace_section, source_clip
from benchmarks.dagster_processes import EventTimes, event_times, step_body_s, step_start_s
from benchmarks.night import NIGHT, breakdown, make_night, run_bare
from benchmarks.per_profile import bare_run
from benchmarks.standin import SimulatedMachine, short_socket_path, write_standin
from proxx_dagster.names import FINISH_OP, FOLDER_JOB, FOLDER_OP, WATCH_SENSOR
from proxx_dagster.settings import DEFAULT_CLIPS_PER_JOB
from proxx_dagster.sizing import instance_yaml as sized_instance
from proxx_dagster.watch.folder_spec import consecutive_parts
from proxx_exec import ExecutionResult, JobSpec, validate_job
from proxx_exec.engines import default_engine_binary
from proxx_exec.naming import RESULT_SUFFIX
from proxx_exec.tools.samples import SampleClip, make_sample

BIN = Path(sys.executable).parent
REPORT = REPO / "docs" / "benchmarks.md"
FIGURES = REPO / "docs" / "benchmarks-scale.json"
TITLE = "Scale rehearsal"

PROFILES = ("h264_half", "prores_proxy")
SIZES = ("1920x1080", "3840x2160")
LENGTHS_S = (5, 12, 30, 60, 8, 120, 20, 45)  # a card's clips, in camera order
CARDS = 12
NIGHTS = ("cards", "big")
BIG_CARD_CLIPS = 150
SETTLE_S = 1  # the watch sensor's settle time: the copies here are instant
WATCH_INTERVAL_S = 5  # the smallest the setting allows
COST_SOURCE_S = 3.0  # seconds of source measured per profile and size


@dataclass(frozen=True)
class Clip:
    card: str
    name: str
    profile: str
    size: str
    seconds: float


def night_clips(night: str) -> list[Clip]:
    """`cards`: 12 cards of 8 clips, profiles alternating, one clip in four UHD;
    `big`: one camera's day, 150 clips of the same lengths, one profile."""
    clips = []
    if night == "cards":
        for card_index in range(CARDS):
            card = f"A{card_index + 1:03d}"
            for index, seconds in enumerate(LENGTHS_S):
                size = SIZES[(card_index + index) % 4 == 0]
                profile = PROFILES[card_index % 2]
                clips.append(Clip(card, f"{card}C{index + 1:03d}.mov", profile, size, seconds))
    elif night == "big":
        for index in range(BIG_CARD_CLIPS):
            size = SIZES[index % 4 == 0]
            seconds = LENGTHS_S[index % len(LENGTHS_S)]
            clips.append(Clip("B001", f"B001C{index + 1:03d}.mov", PROFILES[0], size, seconds))
    else:
        raise SystemExit(f"unknown night {night!r}: cards or big")
    return clips


def measure_costs(root: Path) -> dict[tuple[str, str], float]:
    """CPU seconds per second of source, per profile and source size, at the profile's pinned
    thread count: the real engine running the planned encode argv (getrusage of children)."""
    costs = {}
    for size in SIZES:
        source = source_clip(root, size, COST_SOURCE_S)
        for profile in PROFILES:
            out = root / f"cost-{profile}-{size}"
            out.mkdir()
            job = validate_job(
                JobSpec.model_validate(
                    {
                        "spec_version": "1",
                        "job_id": "cost",
                        "sources": [str(source)],
                        "output_dir": str(out),
                        "profile": profile,
                    }
                )
            )
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            bare_run(job, out)  # the planned encode argv, one engine process
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            costs[profile, size] = cpu / COST_SOURCE_S
            print(f"cost {profile} {size}: {costs[profile, size]:.2f} CPU s per source s")
    return costs


def threads_of(profile: str) -> int:
    from proxx_exec import BUILTIN_PROFILES  # noqa: PLC0415 - as the plan reads it

    return BUILTIN_PROFILES[profile].threads


def instance_yaml(kind: str, cores: int) -> str:
    if kind == "shipped":
        return (REPO / "deploy" / "dagster.yaml").read_text()
    return sized_instance(cores)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Each process's whole session: SIGTERM, then SIGKILL what is left after 20 s."""
    for process in processes:
        with _gone():
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(max(0.1, deadline - time.monotonic()))
        with _gone():
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def _gone() -> Iterator[None]:
    with suppress(ProcessLookupError):
        yield


class Sampler:
    """CPU and peak RSS of every process below the started ones, by kind, sampled."""

    def __init__(self, roots: list[int], standin: str) -> None:
        self._roots = roots
        self._standin = standin
        self.cpu: dict[int, tuple[str, float]] = {}
        self.rss: dict[str, float] = {}
        self.examples: dict[str, str] = {}  # a command line per kind, printed for the record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def kind(self, argv: list[str]) -> str:
        line = " ".join(argv)
        if self._standin in line:
            return "engine stand-in"
        if argv and Path(argv[0]).name.startswith("ffmpeg"):
            return "engine (tiny real encodes, verification)"
        for marker, kind in (
            ("dagster-daemon", "daemon"),
            ("api grpc", "code server"),
            # a run worker is started by the code server through multiprocessing, as steps are
            ("execute_run", "run worker and step processes"),
            ("forkserver", "run worker and step processes"),
            ("multiprocessing", "run worker and step processes"),
            ("execute_step", "run worker and step processes"),
        ):
            if marker in line:
                return kind
        return "other"

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for root in self._roots:
                try:
                    tree = [psutil.Process(root)]
                    tree += tree[0].children(recursive=True)
                except psutil.Error:
                    continue
                for process in tree:
                    try:
                        with process.oneshot():
                            argv = process.cmdline()
                            kind = self.kind(argv)
                            times = process.cpu_times()
                            rss = process.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    self.cpu[process.pid] = (kind, times.user + times.system)
                    self.examples.setdefault(kind, " ".join(argv)[:300])
                    self.rss[kind] = max(self.rss.get(kind, 0.0), rss)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        totals: dict[str, float] = {}
        for kind, seconds in self.cpu.values():
            totals[kind] = totals.get(kind, 0.0) + seconds
        return totals


def _make_cards(root: Path, clips: list[Clip], tiny: Path) -> None:
    """The night's card folders, outside the watch roots (they are moved in at once)."""
    for clip in clips:
        folder = root / "cards" / clip.profile / clip.card
        folder.mkdir(parents=True, exist_ok=True)
        os.link(tiny, folder / clip.name)


def _workspace(root: Path, ports: dict[str, int]) -> Path:
    path = root / "workspace.yaml"
    lines = ["load_from:"]
    for profile, port in ports.items():
        lines += [
            "  - grpc_server:",
            "      host: 127.0.0.1",
            f"      port: {port}",
            f"      location_name: proxx-{profile}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait(what: str, until: float, check: Any) -> None:
    while not check():
        if time.monotonic() > until:
            raise SystemExit(f"scale rehearsal: timed out waiting for {what}")
        time.sleep(0.5)


@dataclass
class Deployment:
    home: Path
    incoming: Path  # a watch root per profile below it
    processes: list[subprocess.Popen[bytes]]


@contextmanager
def deployment(
    here: Path, cores: int, instance: str, profiles: list[str], engine: str | None
) -> Iterator[Deployment]:
    """What an operator runs: an instance sized for `cores`, a code server per profile (its
    own watch root and PROXX_* settings), the watch sensors on, the daemon; all stopped after."""
    home = here / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(instance, cores))
    with DagsterInstance.from_config(str(home)):
        pass  # the storage is made once, before any process opens it
    incoming = here / "incoming"
    ports = {profile: _free_port() for profile in profiles}
    workspace = _workspace(here, ports)
    base_env = {**os.environ, "DAGSTER_HOME": str(home), "PROXX_CORES": str(cores)}
    processes: list[subprocess.Popen[bytes]] = []
    log = (here / "processes.log").open("ab")
    with ExitStack() as stack:
        stack.callback(log.close)
        stack.callback(_stop, processes)
        for profile, port in ports.items():
            (incoming / profile).mkdir(parents=True)
            env = {
                **base_env,
                "PROXX_WATCH_ROOTS": str(incoming / profile),
                "PROXX_PROFILE": profile,
                "PROXX_PROXY_ROOT": str(here / "proxies"),
                "PROXX_WATCH_SETTLE_S": str(SETTLE_S),
                "PROXX_WATCH_INTERVAL_S": str(WATCH_INTERVAL_S),
            }
            if engine:
                env["PROXX_ENGINE"] = engine
            argv = [str(BIN / "dagster"), "api", "grpc", "--module-name"]
            argv += ["proxx_dagster.definitions", "--attribute", "defs"]
            argv += ["--host", "127.0.0.1", "--port", str(port)]
            processes.append(
                subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
            )
        until = time.monotonic() + 180
        for port in ports.values():
            check = [str(BIN / "dagster"), "api", "grpc-health-check", "--port", str(port)]
            _wait(
                f"the code server on port {port}",
                until,
                lambda check=check: (
                    subprocess.run(check, check=False, capture_output=True).returncode == 0
                ),
            )
        for profile in profiles:
            start = [str(BIN / "dagster"), "sensor", "start", WATCH_SENSOR]
            start += ["-w", str(workspace), "-l", f"proxx-{profile}"]
            subprocess.run(start, env=base_env, check=True, capture_output=True, timeout=120)
        daemon = [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]
        processes.append(
            subprocess.Popen(daemon, env=base_env, stdout=log, stderr=log, start_new_session=True)
        )
        time.sleep(10)  # the daemon up and its first sensor ticks done before the copy
        yield Deployment(home, incoming, processes)


def copy_cards(cards: dict[str, tuple[Path, str]], deployed: Deployment) -> float:
    """Every card (folder, profile) under its profile's watch root at once; when."""
    copied = time.time()
    for card, (folder, profile) in cards.items():
        folder.rename(deployed.incoming / profile / card)
    return copied


def wait_for_runs(deployed: Deployment, count: int, timeout_s: float) -> list[Any]:
    """The run records of the folder job once `count` runs ended and none is left."""
    with DagsterInstance.from_config(str(deployed.home)) as instance:

        def records() -> list[Any]:
            return list(instance.get_run_records(RunsFilter(job_name=FOLDER_JOB)))

        def ended() -> bool:
            done = [r for r in records() if r.dagster_run.is_finished]
            return len(done) >= count and len(done) == len(records())

        _wait("the night's runs", time.monotonic() + timeout_s, ended)
        return records()


def floor_s(clips: list[Clip], work: dict[str, float], cores: int, clips_per_job: int) -> float:
    """What no orchestration can beat: the larger of the ideal (work / cores) and the longest
    job, its clips one after another on its pinned threads (the spec: a job's clips run in
    order, and a job is never cut). Jobs are the cards cut as the watch sensor cuts them."""
    cards: dict[str, list[Clip]] = {}
    for clip in clips:
        cards.setdefault(clip.card, []).append(clip)
    longest = max(
        sum(work[f"{c.card}/{c.name}"] / threads_of(c.profile) for c in job)
        for card in cards.values()
        for job in consecutive_parts(card, clips_per_job)
    )
    return round(max(sum(work.values()) / cores, longest), 1)


def clip_work(
    clips: list[Clip], costs: dict[tuple[str, str], float], scale: float
) -> dict[str, float]:
    """Each clip's work on the simulated machine, in core-seconds."""
    return {f"{c.card}/{c.name}": costs[c.profile, c.size] * c.seconds * scale for c in clips}


def rehearse(
    root: Path, night: str, cores: int, costs: dict[tuple[str, str], float], args: Any
) -> dict[str, Any]:
    """One night on one simulated machine; its figures."""
    clips = night_clips(night)
    # core-seconds on the real CPU the costs were measured on
    full_work = sum(costs[c.profile, c.size] * c.seconds for c in clips)
    scale = min(1.0, args.ideal_s * cores / full_work)
    work = clip_work(clips, costs, scale)
    here = root / f"{night}-{cores}"
    here.mkdir()
    tiny = make_sample(here / "tiny.mov", SampleClip(width=320, height=180, duration_s=0.2))
    _make_cards(here, clips, tiny)
    cards = {c.card: (here / "cards" / c.profile / c.card, c.profile) for c in clips}
    socket_path = short_socket_path(here)
    standin = write_standin(here / "ffmpeg-standin", default_engine_binary(), socket_path, work)
    profiles = sorted({c.profile for c in clips})
    with (
        SimulatedMachine(cores, socket_path) as simulated,
        deployment(here, cores, args.instance, profiles, str(standin)) as deployed,
    ):
        sampler = Sampler([p.pid for p in deployed.processes], str(standin))
        copied = copy_cards(cards, deployed)
        offset = copied - time.monotonic()  # wall clock -> the simulated machine's clock
        runs = wait_for_runs(deployed, len(cards), args.timeout_s)
        orchestration = sampler.stop()
    for kind, example in sorted(sampler.examples.items()):
        print(f"  {kind}: {example}", flush=True)
    row = figures(night, cores, clips, runs, simulated, offset, copied, sum(work.values()), scale)
    return row | {
        "clips_per_job": args.clips_per_job,
        "floor_s": floor_s(clips, work, cores, args.clips_per_job),
        "floor_clip_s": floor_s(clips, work, cores, 1),
        "orchestration_cpu_s_per_run": {
            kind: round(seconds / len(runs), 2) for kind, seconds in sorted(orchestration.items())
        },
        "peak_rss_mib": {kind: round(mib) for kind, mib in sorted(sampler.rss.items())},
    }


def real_night(root: Path, instance: str) -> dict[str, Any]:
    """The night of benchmarks/night.py on this machine, real engine, through the watch roots
    as an operator runs it; then `xargs -P2` over the encode commands its results record."""
    here = root / "real-night"
    here.mkdir()
    cores = os.cpu_count() or 1
    made = make_night(here)
    profiles = {card: profile for card, profile, _ in NIGHT}
    cards = {card: (here / "media" / card, profiles[card]) for card in made}
    with deployment(here, cores, instance, sorted(set(profiles.values())), None) as deployed:
        copied = copy_cards(cards, deployed)
        runs = wait_for_runs(deployed, len(cards), 7200)
        with DagsterInstance.from_config(str(deployed.home)) as dagster:
            times = [(r, event_times(dagster, r.dagster_run.run_id)) for r in runs]
    failed = [r.dagster_run.run_id for r in runs if r.dagster_run.status.value != "SUCCESS"]
    if failed:
        raise SystemExit(f"real night: runs failed: {failed}")
    first = min(r.create_timestamp.timestamp() for r in runs)
    proxx_s = max(r.end_time for r in runs) - first
    results = [
        ExecutionResult.from_json(path.read_text())
        for path in sorted((here / "proxies").rglob(f"*{RESULT_SUFFIX}"))
    ]
    parts = breakdown(results)
    bare = run_bare(results, here / "bare")
    floor = parts["encode_s"] / (parts["encode_s"] + parts["verify_s"])
    ratio = bare.wall_s / proxx_s
    executes = [result.timing.duration_s for result in results]
    return {
        "cores": cores,
        "runs": len(runs),
        "jobs": len(results),
        "clips": int(parts["clips"]),
        "sensor_latency_s": round(first - copied, 1),
        "proxx_s": round(proxx_s, 1),
        "bare_s": round(bare.wall_s, 1),
        "ratio": round(ratio, 3),
        "floor": round(floor, 3),
        "share_of_floor": round(ratio / floor, 3),
        # the jobs' own execute() times on xargs' two lanes, each job's clips in order
        "jobs_bound_s": round(max(sum(executes) / BARE_LANES, *executes), 1),
        "execute_s": round(sum(executes), 1),
        "phases_s": night_phases(times),
    }


BARE_LANES = 2  # xargs -P2


def night_phases(times: list[tuple[Any, EventTimes]]) -> dict[str, float]:
    """Sums over a night's card runs, from their event logs: each run's process start, its plan
    step, its part steps' process starts and bodies (execute() and the hand-off), and from its
    last part to its end (finish_card, the run's end)."""
    sums = dict.fromkeys(("launch", "plan", "step_start", "step_body", "finish"), 0.0)
    for record, at in times:
        parts = sorted({k for _, k in at if k and k not in {FOLDER_OP, FINISH_OP}})
        sums["launch"] += at[Event.RUN_START, None] - at[Event.RUN_STARTING, None]
        sums["plan"] += at[Event.STEP_SUCCESS, FOLDER_OP] - at[Event.RUN_START, None]
        sums["step_start"] += sum(step_start_s(at, k) for k in parts)
        sums["step_body"] += sum(step_body_s(at, k) for k in parts)
        sums["finish"] += record.end_time - max(at[Event.STEP_SUCCESS, k] for k in parts)
    return {name: round(seconds, 1) for name, seconds in sums.items()}


def figures(
    night: str,
    cores: int,
    clips: list[Clip],
    runs: list[Any],
    simulated: SimulatedMachine,
    offset: float,
    copied: float,
    total_work: float,
    scale: float,
) -> dict[str, Any]:
    failed = [r.dagster_run.run_id for r in runs if r.dagster_run.status.value != "SUCCESS"]
    if failed:
        raise SystemExit(f"scale rehearsal: runs failed: {failed}")
    created = [r.create_timestamp.timestamp() for r in runs]
    starts = [r.start_time for r in runs]
    ends = [r.end_time for r in runs]
    first, last = min(created), max(ends)
    makespan = last - first
    ideal = total_work / cores
    busy = simulated.busy_cores(first - offset, last - offset, 20)
    waits = [s - c for s, c in zip(starts, created, strict=True)]
    idle = cores * makespan - simulated.core_seconds(first - offset, last - offset)
    return {
        "night": night,
        "cores": cores,
        "cards": len({c.card for c in clips}),
        "clips": len(clips),
        "runs": len(runs),
        "work_scale": round(scale, 3),
        "work_core_s": round(total_work, 1),
        "makespan_s": round(makespan, 1),
        "ideal_s": round(ideal, 1),
        "ratio": round(makespan / ideal, 3),
        "utilisation": round(ideal / makespan, 3),
        "sensor_latency_s": round(first - copied, 1),
        "queue_wait_s": {
            "median": round(statistics.median(waits), 1),
            "max": round(max(waits), 1),
        },
        "idle_core_s_per_run": round(idle / len(runs), 1),
        "busy_cores_by_twentieth": [round(b, 1) for b in busy],
    }


# The targets, makespan / ideal, per night and N.
TARGETS = {("cards", 16): 1.10, ("cards", 64): 1.25, ("big", 16): 1.5}
BUSY = 0.75  # a twentieth with fewer cores busy than this share of N counts as short of work


def _short_stretches(row: dict[str, Any]) -> tuple[float, float, float]:
    """Seconds short of work at the start, in between and at the end of the makespan."""
    busy = row["busy_cores_by_twentieth"]
    short = [b < BUSY * row["cores"] for b in busy]
    width = row["makespan_s"] / len(busy)
    start = next((i for i, s in enumerate(short) if not s), len(short))
    end = next((i for i, s in enumerate(reversed(short)) if not s), 0)
    between = sum(short[start : len(short) - end])
    return start * width, between * width, end * width


def with_floor(row: dict[str, Any], costs: dict[tuple[str, str], float]) -> dict[str, Any]:
    """A kept row with its floor worked out again from the night, its scale and the costs."""
    clips = night_clips(row["night"])
    full = sum(clip_work(clips, costs, 1.0).values())
    # the scale as rehearse() had it: the row's work_scale is rounded
    scale = min(1.0, row["ideal_s"] * row["cores"] / full)
    work = clip_work(clips, costs, scale)
    return row | {
        "floor_s": floor_s(clips, work, row["cores"], clips_per_job(row)),
        "floor_clip_s": floor_s(clips, work, row["cores"], 1),
    }


def clips_per_job(row: dict[str, Any]) -> int:
    """The PROXX_CLIPS_PER_JOB a row was rehearsed with (older rows: the default)."""
    return int(row.get("clips_per_job", DEFAULT_CLIPS_PER_JOB))


def row_order(row: dict[str, Any]) -> tuple[int, bool, int, int]:
    """Nights as NIGHTS lists them, the default cut first, then by cores."""
    cut = clips_per_job(row)
    return NIGHTS.index(row["night"]), cut != DEFAULT_CLIPS_PER_JOB, -cut, row["cores"]


def label(row: dict[str, Any]) -> str:
    """The night, and its cut where it is not the default."""
    cut = clips_per_job(row)
    return str(row["night"]) + ("" if cut == DEFAULT_CLIPS_PER_JOB else f", {cut} clips per job")


def against_targets(rows: list[dict[str, Any]]) -> list[str]:
    """Each row with a target: met or not, and where the time short of work went."""
    lines = []
    for row in rows:
        target = TARGETS.get((row["night"], row["cores"]))
        if target is None:
            continue
        verdict = "met" if row["ratio"] <= target else "missed"
        cut = clips_per_job(row)
        line = (
            f"- {label(row)} on {row['cores']} cores: {row['ratio']:.2f}x the ideal, target "
            f"<= {target:.2f}x: {verdict}."
        )
        if verdict == "missed":
            floor = row["floor_s"] / row["ideal_s"]
            start, between, end = _short_stretches(row)
            if floor > target:
                line += (
                    f" No orchestration could meet it: the longest job alone, its clips one "
                    f"after another on their pinned threads, takes {floor:.2f}x the ideal; "
                    f"the night took {row['makespan_s'] / row['floor_s']:.2f}x that floor."
                )
                clip_floor = row.get("floor_clip_s", row["floor_s"]) / row["ideal_s"]
                if clip_floor > target:
                    line += (
                        f" Nor could any cut of the cards: in jobs of one clip each, the "
                        f"longest clip alone on its pinned threads takes {clip_floor:.2f}x "
                        "the ideal."
                    )
            most = max(row["busy_cores_by_twentieth"])
            if most < BUSY * row["cores"]:
                jobs = row["cards"] * math.ceil(row["clips"] / row["cards"] / cut)
                threads = max(threads_of(profile) for profile in PROFILES)
                line += (
                    f" At most {most:.0f} of the {row['cores']} cores were ever busy: the night "
                    f"is {jobs} jobs (at most {cut} clips each) of at most "
                    f"{threads} threads, {jobs * threads} threads for {row['cores']} cores."
                )
                lines.append(line)
                continue
            line += (
                f" Fewer than {BUSY:.0%} of the cores were busy for {start:.0f} s at the start "
                f"(the runs starting: their processes start together on this machine's real "
                f"cores), {between:.0f} s in between (jobs ending together while the next were "
                f"still starting) and {end:.0f} s at the end (the last jobs, those that could not "
                "start in the first round: a job is never cut, so the night ends with fewer jobs "
                "than cores)."
            )
        lines.append(line)
    return lines


def describe(
    rows: list[dict[str, Any]], costs: dict[tuple[str, str], float], real: dict[str, Any] | None
) -> list[str]:
    lines = [
        f"Made by `python -m benchmarks.scale` on {datetime.now(UTC).date().isoformat()}, "
        f"{machine()}; the figures are also in `docs/benchmarks-scale.json`.",
        "",
        "The real daemon, watch sensor, run queue, run launcher and executors run a night on a "
        "simulated N-core machine: only the engine is a stand-in that makes a real proxy of a "
        "tiny clip, then holds its pinned threads of the simulated cores for the measured work "
        "of the clip it stands for (benchmarks/standin.py). Measured work per second of source "
        "(CPU seconds, the profile's pinned threads): "
        + ", ".join(f"{p} {s} {v:.2f}" for (p, s), v in sorted(costs.items()))
        + ". The floor is what no orchestration can beat: the larger of the ideal and the "
        "longest job's work over its threads, its clips one after another (a job's clips run in "
        f"order and a job is never cut; a card is cut into jobs of at most "
        f"{DEFAULT_CLIPS_PER_JOB} clips, the default, where the row names no other cut). "
        "The watch sensor gives a card whose longest job is longer the higher queue priority, "
        "so it starts first (the stand-in clips are alike, so here the profile's cost decides: "
        "the ProRes cards first). Where the "
        "night's "
        "work would take much longer than a rehearsal can wait, every "
        "clip's work is scaled down by the same factor (`work_scale`): the orchestration's "
        "own times are not scaled, so a scaled night is a pessimistic rehearsal.",
        "",
        "| night | N | runs | makespan | ideal (work / N) | makespan / ideal | floor / ideal | "
        "utilisation | run queue wait, median / max | idle core-s per run | sensor latency |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {label(row)} ({row['clips']} clips, work x{row['work_scale']}) | {row['cores']} "
            f"| {row['runs']} | {row['makespan_s']} s | {row['ideal_s']} s | "
            f"**{row['ratio']:.2f}x** | {row['floor_s'] / row['ideal_s']:.2f}x | "
            f"{row['utilisation']:.0%} | "
            f"{row['queue_wait_s']['median']} s / {row['queue_wait_s']['max']} s | "
            f"{row['idle_core_s_per_run']} | {row['sensor_latency_s']} s |"
        )
    lines += ["", *against_targets(rows)]
    lines += ["", "Cores busy, mean per twentieth of the makespan:", ""]
    for row in rows:
        lines.append(
            f"- {label(row)}, N={row['cores']}: "
            + " ".join(f"{b:g}" for b in row["busy_cores_by_twentieth"])
        )
    lines += ["", "Orchestration per run (CPU seconds; peak RSS of one process of the kind):", ""]
    for row in rows:
        kinds = row["orchestration_cpu_s_per_run"]
        lines.append(
            f"- {label(row)}, N={row['cores']}: "
            + "; ".join(
                f"{kind} {seconds} s, {row['peak_rss_mib'].get(kind, 0)} MiB"
                for kind, seconds in kinds.items()
            )
        )
    if real is not None:
        lines += [
            "",
            f"The real night on this machine ({real['jobs']} jobs, {real['clips']} clips of "
            "benchmarks/night.py, real engine), copied under the watch roots and run by the "
            f"daemon with the instance sized for {real['cores']} cores, against `xargs -P2` "
            "over the encode commands its results record: proxx "
            f"{real['proxx_s']} s (first run created to last run ended; the sensor took "
            f"{real['sensor_latency_s']} s more to see the cards settle), bare "
            f"{real['bare_s']} s: **{real['ratio']:.3f}x**; the floor, encode / (encode + "
            f"verification), {real['floor']:.3f}; proxx as a share of the floor: "
            f"**{real['share_of_floor']:.3f}** (target >= 0.97).",
            *real_night_breakdown(real),
        ]
    return lines


def real_night_breakdown(real: dict[str, Any]) -> list[str]:
    """Where the real night's time went beyond the bare encodes (absent from older figures)."""
    if "phases_s" not in real:
        return []
    phases = real["phases_s"]
    beyond = phases["step_body"] - real["execute_s"]
    # in the pool, so on a lane: everything but finish_card, which runs beside the next run
    lanes = phases["launch"] + phases["plan"] + phases["step_start"] + beyond
    own = lanes / BARE_LANES
    rest = real["proxx_s"] - real["jobs_bound_s"] - own
    return [
        "",
        f"Where it went: the {real['jobs']} jobs' own execute() took {real['execute_s']} s in "
        f"all (encode, verification, hashing; two at a time on two cores), {real['jobs_bound_s']} "
        f"s on two lanes. Summed over the runs beyond execute(): the run worker's start "
        f"{phases['launch']} s, the plan step with its process start {phases['plan']} s, the "
        f"part steps' process starts {phases['step_start']} s, the part steps' hand-off "
        f"(posters, contact sheet, ASC MHL seal, events) {beyond:.1f} s, all of them holding a "
        f"place in the pool, about {own:.0f} s on two lanes; and from the last part to the "
        f"run's end (finish_card, the card sheet, outside the pool) {phases['finish']} s. The "
        f"other {rest:.0f} s of proxx's {real['proxx_s']} s are not broken down further: places "
        "without an encode between runs (the queue's look, a launch) and at the night's end, "
        "where whole jobs on two lanes leave one lane without work while the other finishes "
        "(the bare side's single commands do not). What would close the gap: the hand-off out "
        "of the encoding steps and a cheaper start per run (the plan step with the executor's "
        "first process start, and the hand-off, are "
        f"{(phases['plan'] + beyond) / lanes:.0%} of the runs' own cost in the pool), and "
        "cards cut into more jobs (`PROXX_CLIPS_PER_JOB` "
        f"below its default {DEFAULT_CLIPS_PER_JOB}) so that the night ends with less left on "
        "one lane.",
    ]


def kept_figures() -> tuple[dict[str, Any], dict[tuple[str, str], float]]:
    """The figures on record, and their costs keyed as measure_costs keys them."""
    kept = json.loads(FIGURES.read_text())
    costs = {
        (profile, size): value
        for key, value in kept["costs"].items()
        for profile, size in [key.split(" ")]
    }
    return kept, costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2,16,64")
    parser.add_argument(
        "--nights", default="cards,big", help="empty: keep the rehearsal's figures on the page"
    )
    parser.add_argument("--instance", choices=("shipped", "sized"), default="sized")
    parser.add_argument(
        "--ideal-s",
        type=float,
        default=120.0,
        help="scale each night's work down so that its ideal makespan is at most this",
    )
    parser.add_argument(
        "--real-night", action="store_true", help="also the real night through the watch roots"
    )
    parser.add_argument(
        "--clips-per-job",
        type=int,
        default=DEFAULT_CLIPS_PER_JOB,
        help="PROXX_CLIPS_PER_JOB for the rehearsal's code servers",
    )
    parser.add_argument(
        "--keep", action="store_true", help="add the nights run to the figures kept on the page"
    )
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="per night")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # stopped (kill, a service manager): the daemon and code servers it started go too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    rows: list[dict[str, Any]] = []
    real = None
    # the code servers take it from the environment, as a deployment's would
    os.environ["PROXX_CLIPS_PER_JOB"] = str(args.clips_per_job)
    nights = [night for night in args.nights.split(",") if night]
    with tempfile.TemporaryDirectory(prefix="proxx-scale-") as tmp:
        root = Path(tmp)
        if nights and args.keep:  # other nights, cuts and machines stay; so do the costs
            kept, costs = kept_figures()
            ran = {(n, int(c), args.clips_per_job) for n in nights for c in args.cores.split(",")}
            rows = [
                with_floor(r, costs)
                for r in kept["rehearsal"]
                if (r["night"], r["cores"], clips_per_job(r)) not in ran
            ]
        elif nights:
            costs = measure_costs(root)
        if nights:
            for night in nights:
                for cores in (int(n) for n in args.cores.split(",")):
                    row = rehearse(root, night, cores, costs, args)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
            rows.sort(key=row_order)
        else:  # the rehearsal's figures are kept as they are; their floors follow the code
            kept, costs = kept_figures()
            rows = [with_floor(row, costs) for row in kept["rehearsal"]]
            real = kept["real_night"]
        if args.real_night:
            real = real_night(root, args.instance)
            print(json.dumps(real), flush=True)
        elif real is None and FIGURES.exists():  # kept as measured, until measured again
            real = json.loads(FIGURES.read_text())["real_night"]
    lines = describe(rows, costs, real)
    print("\n".join(lines))
    if not args.no_write:
        figures = {
            "costs": {f"{profile} {size}": cost for (profile, size), cost in costs.items()},
            "rehearsal": rows,
            "real_night": real,
        }
        FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
        replace_section(REPORT, TITLE, lines)
        print(f"wrote {FIGURES.relative_to(REPO)} and {TITLE!r} in {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
