"""The chaos night (docs/reliability.md): one night of real work and real faults through the
shipped deployment, then every run checked against what really happened.

A real `dagster-daemon` on the shipped deploy/dagster.yaml with every sensor of the code location
on, real `dagster-celery worker` processes on Redis, real FFmpeg on clips made with lavfi:

- camera cards copied under the watch root by a slow copy (files growing for seconds);
- a card that gains clips while its job is about to start;
- a card of hostile file names (markup, quotes, brackets, backticks, `*`, `|`, right-to-left
  marks, a newline);
- a `proxx_batch` on multiprocess whose steps differ in length many times over;
- a `proxx_batch` on Celery whose worker is SIGKILLed mid-encode;
- a `proxx_job` whose run worker is SIGKILLed mid-encode;
- a `proxx_job` that fills its (small tmpfs) disk.

The truth is the ExecutionResult files beside the proxies (and, for a job killed before it could
write one, its staging folder and the engine calls). For every run: its final status, its
batch-outcome tags, its rows on the night report page (parsed as HTML) and the markdown it shows
in Dagster must equal that truth; no healthy run has a failure anywhere in its event log; every
clip has exactly one verified proxy, encoded once, and no failed job left a final-named or
partial file; nothing the night started is still running afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    EventLogEntry,
    MarkdownMetadataValue,
    TableMetadataValue,
    TableRecord,
)
from markdown_it import MarkdownIt

from benchmarks.batch_runs import (
    CeleryBroker,
    batch_config,
    celery_workers,
    finish,
    running_batch,
)
from benchmarks.dagster_processes import BIN, REPO, daemon, dagster_env
from benchmarks.processes import SUITE_MARK, Proc, encoder_pid, leftovers, parent_of, wait_for
from proxx_dagster.names import (
    BATCH_COMPLETED_TAG,
    BATCH_FAILED_TAG,
    BATCH_JOB,
    EXECUTE_OP,
    FOLDER_JOB,
    FOLDER_TAG,
    JOB_ID_TAG,
    PLAN_OP,
    PROXX_JOB,
)
from proxx_dagster.reports.batch_outcome import NO_RESULT, batch_outcome
from proxx_dagster.reports.night_html import NO_RESULT_STATUS
from proxx_dagster.reports.night_runs import night_of
from proxx_exec import ExecutionResult, Reason, Status
from proxx_exec.display import visible
from proxx_exec.naming import STAGING_PREFIX, night_report_path, result_path, staging_dir
from proxx_exec.result import ClipState
from proxx_exec.tools.samples import SampleClip
from tests.dagster.helpers import events, run_config, spec_fields
from tests.dagster.services import require_tcp_service
from tests.helpers import Media, job_encodes, mounted, sha256, slow_copy, write_engine_wrapper

SETTLE_S = 2  # PROXX_WATCH_SETTLE_S: short, so the night stays quick
WATCH_INTERVAL_S = 5  # PROXX_WATCH_INTERVAL_S and PROXX_ORPHAN_INTERVAL_S: their minimum
CHUNKS = 6
CHUNK_PAUSE_S = 0.8  # well below the watch interval: a growing file never looks settled
# The long step of the multiprocess batch outlasts its short steps by several looks of the
# orphan sensor, however loaded the machine.
LONG_STEP_S = 25
NIGHT_BUDGET_S = 300  # bounded wait for the night's work (about 2 min on an idle 2-core machine)

# Names a camera or an editor can give a clip, each one read as markup, a command or a
# pattern somewhere. All are valid clips, shown as written (marks that move text shown as
# escapes, `proxx_exec.display.visible`); the one with a newline is a name a JobSpec cannot
# carry, so the watch sensor lists it as skipped (and says why) instead of taking it.
HOSTILE = (
    "A001 [take 2].mov",
    "[bold red]B002[reverse].mov",
    "C003 \"double\" 'single'.mov",
    "<script>alert(1)<\\script>.mov",
    "`date` $(id) *star* |pipe|.mov",
    "\u202eRTL \u200fmark\u200e.mov",
)
NEWLINE = "two\nlines.mov"
STAGED = re.compile(rf"file:\S*/({re.escape(STAGING_PREFIX)}[^/\s]+/\S+)")
HOSTILE_CARD = 'H004 <b>&amp; [card] "night"'


def far_from_noon() -> str:
    """A fixed-offset time zone in which it is about midnight now: a night runs from noon to
    noon, so every run of the test falls into one night, whenever it runs."""
    hour = datetime.now(UTC).hour
    offset = -hour if hour <= 12 else 24 - hour  # -12 .. +11 hours
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


@contextlib.contextmanager
def copying(*pairs: tuple[Path, Path]) -> Iterator[None]:
    """Slow copies running beside the test; joined (bounded) on the way out."""
    threads = [
        threading.Thread(target=slow_copy, args=(*pair, CHUNKS, CHUNK_PAUSE_S), daemon=True)
        for pair in pairs
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.join(timeout=60)


def launch(
    home: Path, env: dict[str, str], job: str, config: dict[str, Any], path: Path
) -> subprocess.Popen[str]:
    """`dagster job launch`: the run goes through the daemon's run queue to a run worker."""
    path.write_text(yaml.safe_dump(config))
    workspace = str(REPO / "workspace.yaml")
    argv = [str(BIN / "dagster"), "job", "launch", "-w", workspace, "-j", job, "-c", str(path)]
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env=dagster_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class _Page(HTMLParser):
    """The night report as a reader sees it: every table's rows of cell texts, and the tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read_page(path: Path) -> _Page:
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    parsed.close()
    return parsed


JOB_COLUMNS = ["job", "run", "Dagster job", "trigger", "launched", "status", "reason"]


def job_rows(page: _Page) -> list[dict[str, str]]:
    """The page's table of jobs, one dict per row."""
    [table] = [t for t in page.tables if t and t[0][: len(JOB_COLUMNS)] == JOB_COLUMNS]
    header, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def clip_names(page: _Page) -> set[str]:
    """The clip names shown in the per-job clip tables."""
    names: set[str] = set()
    for table in page.tables:
        if table and table[0][:2] == ["#", "clip"]:
            names.update(row[1] for row in table[1:])
    return names


@dataclass
class Truth:
    """What really happened to one run: the JobSpecs it ran and the result each left (None:
    the job left no result, because it never started or was killed)."""

    run: DagsterRun
    results: dict[str, ExecutionResult | None] = field(default_factory=dict)
    began: list[str] = field(default_factory=list)  # jobs without a result that had started

    @property
    def healthy(self) -> bool:
        return bool(self.results) and all(
            r is not None and r.status is Status.COMPLETED for r in self.results.values()
        )


def read_result(output_dir: str, job_id: str) -> ExecutionResult | None:
    path = Path(result_path(output_dir, job_id))
    return ExecutionResult.from_json(path.read_text()) if path.is_file() else None


def jobspecs_of(run: DagsterRun) -> list[tuple[str, str]]:
    """(job_id, output_dir) of every JobSpec the run was launched with."""
    config: dict[str, Any] = dict(run.run_config)
    ops: dict[str, Any] = config.get("ops", {})
    if run.job_name == PROXX_JOB:
        spec = ops[EXECUTE_OP]["config"]
        return [(spec["job_id"], spec["output_dir"])]
    if run.job_name == BATCH_JOB:
        return [(s["job_id"], s["output_dir"]) for s in ops[PLAN_OP]["config"]["jobspecs"]]
    assert run.job_name == FOLDER_JOB, run.job_name
    return [(run.tags[JOB_ID_TAG], str(Path(run.tags[FOLDER_TAG]) / "Proxy"))]


FAILURE_WORDS = ("fail", "died", "lost", "error")


def failure_events(instance: DagsterInstance, run_id: str) -> list[str]:
    """Everything in the run's event log that reports a failure: run and step failures, and
    engine events (written by our sensors, Dagster's monitoring) that speak of one."""
    found = []
    for kind in (DagsterEventType.RUN_FAILURE, DagsterEventType.STEP_FAILURE):
        found += [f"{kind.name}: {e.message}" for e in events(instance, run_id, kind)]
    for entry in events(instance, run_id, DagsterEventType.ENGINE_EVENT):
        message = entry.message or ""
        if any(word in message.lower() for word in FAILURE_WORDS):
            found.append(f"ENGINE_EVENT: {message}")
    return found


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def skipped_rows(entry: EventLogEntry) -> list[TableRecord]:
    """The files a folder job's step output lists as skipped, with the reason."""
    data = entry.get_dagster_event().step_output_data
    table = data.metadata.get("proxx/skipped") if data else None
    return list(table.value.records) if isinstance(table, TableMetadataValue) else []


def markdown_texts(instance: DagsterInstance, run_id: str) -> list[str]:
    """The markdown metadata of the run's events, rendered as markdown is rendered in
    Dagster's UI (CommonMark with tables), as the text a reader sees."""
    renderer = MarkdownIt("commonmark").enable("table")
    texts = []
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        data = getattr(event, "event_specific_data", None) if event else None
        # Step outputs and engine events carry metadata; materializations and observations
        # carry it on the asset event they hold.
        holders = [data, getattr(data, "materialization", None)]
        holders.append(getattr(data, "asset_observation", None))
        values = [v for h in holders for v in (getattr(h, "metadata", None) or {}).values()]
        for value in values:
            if isinstance(value, MarkdownMetadataValue):
                reader = _Text()
                reader.feed(renderer.render(value.md_str or ""))
                texts.append("".join(reader.parts))
    return texts


@pytest.mark.timeout(2 * NIGHT_BUDGET_S)  # the suite's 300 s is for one bounded wait
def test_chaos_night(media: Media, shipped_home: Path, tmp_path: Path) -> None:
    require_tcp_service("Redis", 6379)
    started = time.monotonic()
    redis = CeleryBroker.redis()
    home = shipped_home
    root, reports, jobs, full = (tmp_path / n for n in ("incoming", "reports", "jobs", "small"))
    for folder in (root, reports, jobs, full, tmp_path / "inbox", tmp_path / "celery"):
        folder.mkdir()
    # The launched jobs' engine: the real FFmpeg, each call logged; the long step's encode
    # waits LONG_STEP_S first (a slow encode that costs no CPU).
    wrapper = write_engine_wrapper(
        tmp_path,
        f'case "$*" in *-c:v*NIGHT-LONG.mov*) /bin/sleep {LONG_STEP_S};; esac\nexec "$REAL" "$@"',
    )
    zone = far_from_noon()
    env = {
        "PROXX_WATCH_ROOTS": str(root),
        "PROXX_WATCH_SETTLE_S": str(SETTLE_S),
        "PROXX_WATCH_INTERVAL_S": str(WATCH_INTERVAL_S),
        "PROXX_ORPHAN_INTERVAL_S": str(WATCH_INTERVAL_S),
        "PROXX_INBOX_FOLDER": str(tmp_path / "inbox"),
        "PROXX_INBOX_INTERVAL_S": str(WATCH_INTERVAL_S),
        "PROXX_PROFILE": "h264_quarter",
        "PROXX_REPORT_FOLDER": str(reports),
        "PROXX_TIMEZONE": zone,
        **redis.env,
    }

    # The clips: short ones for the cards, encodes of several seconds for the faults.
    short = [
        media.clip(f"NIGHT{i}.mov", SampleClip(duration_s=1, reel_name=f"N{i}")) for i in range(4)
    ]
    long_step = media.h264_clip("NIGHT-LONG.mov", seconds=2)
    worker_victim, celery_victim = map(media.h264_clip, ("NIGHT-WORKER.mov", "NIGHT-CELERY.mov"))

    def spec(job_id: str, clip: Path, profile: str, output_dir: Path) -> dict[str, Any]:
        return spec_fields(
            media, output_dir, job_id, sources=[str(clip)], profile=profile, engine=str(wrapper)
        )

    # Two steps at a time: the second short step starts when the first ends, so a short step
    # is the last to start, and it ends long before the long one.
    multiprocess = batch_config(
        [
            spec("mp-long", long_step, "prores_lt", jobs),
            spec("mp-short", short[0], "h264_quarter", jobs),
            spec("mp-shorter", short[2], "h264_quarter", jobs),
        ],
        {"config": {"multiprocess": {"max_concurrent": 2}}},
    )
    celery = batch_config(
        [
            spec("celery-victim", celery_victim, "prores_lt", jobs),
            spec("celery-other", short[1], "h264_quarter", jobs),
        ],
        redis.execution(),
    )
    killed = run_config(spec("worker-victim", worker_victim, "prores_lt", jobs))
    disk_full = run_config(spec("disk-full", short[2], "prores_lt", full))

    card_a, card_b, card_h = root / "A001", root / "B002", root / HOSTILE_CARD
    hostile_source = short[3]
    workspace = REPO / "workspace.yaml"
    subprocess.run(  # every sensor on (those shipped stopped too)
        [str(BIN / "dagster"), "sensor", "start", "--start-all", "-w", str(workspace)],
        cwd=REPO,
        env=dagster_env(home, **env),
        check=True,
        capture_output=True,
        timeout=180,
    )
    killed_pids: dict[str, int] = {}
    with contextlib.ExitStack() as night:
        night.enter_context(mounted("-t", "tmpfs", "-o", "size=700k", "tmpfs", str(full)))
        instance = night.enter_context(DagsterInstance.from_config(str(home)))
        night.enter_context(daemon(home, workspace, tmp_path / "daemon.log", **env))
        night.enter_context(celery_workers(redis, home, tmp_path / "celery", ["nighta", "nightb"]))
        night.enter_context(
            copying(
                (short[0], card_a / "CLIP" / "A001C001.mov"),
                (short[1], card_a / "CLIP" / "A001C002.mov"),
                (short[2], card_b / "B002C001.mov"),
            )
        )
        for name in (*HOSTILE, NEWLINE):
            card_h.mkdir(exist_ok=True)
            shutil.copyfile(hostile_source, card_h / name)
        launches = [
            launch(home, env, BATCH_JOB, multiprocess, tmp_path / "multiprocess.yaml"),
            launch(home, env, PROXX_JOB, killed, tmp_path / "killed.yaml"),
            launch(home, env, PROXX_JOB, disk_full, tmp_path / "disk-full.yaml"),
        ]
        batch = night.enter_context(running_batch(home, celery, tmp_path, **redis.env))
        batch_ended: list[tuple[int, str]] = []  # read on: a full pipe would stall it
        reader = threading.Thread(target=lambda: batch_ended.append(finish(batch)), daemon=True)
        reader.start()
        late_copy = threading.Thread(
            target=slow_copy,
            args=(short[3], card_b / "B002C002.mov", CHUNKS, CHUNK_PAUSE_S),
            daemon=True,
        )

        def runs() -> list[DagsterRun]:
            return list(instance.get_runs())

        def director() -> bool:
            """One look: kill each victim once its encode runs; copy more clips onto card B
            the moment its first job is launched; done when every fault was dealt and the
            night's work has ended."""
            for name in ("NIGHT-WORKER.mov", "NIGHT-CELERY.mov"):
                if name not in killed_pids and (encoder := encoder_pid(name)) is not None:
                    killed_pids[name] = parent_of(encoder)
                    os.kill(killed_pids[name], signal.SIGKILL)
            if batch_ended and "NIGHT-CELERY.mov" not in killed_pids:
                raise AssertionError(f"the Celery batch ended before its encode: {batch_ended}")
            current = runs()
            if late_copy.ident is None and any(
                r.tags.get(FOLDER_TAG) == str(card_b) for r in current
            ):
                late_copy.start()
            proxies_made = all(
                len(list((card / "Proxy").glob("*.mov"))) == count
                for card, count in ((card_a, 2), (card_b, 2), (card_h, len(HOSTILE)))
            )
            return (
                len(killed_pids) == 2
                and late_copy.ident is not None
                and not late_copy.is_alive()
                and proxies_made
                and bool(batch_ended)
                and all(p.poll() is not None for p in launches)
                and all(r.is_finished for r in current)
            )

        wait_for(director, NIGHT_BUDGET_S, "the night's work to end", interval=0.1)
        for process in launches:
            launched, _ = process.communicate(timeout=60)
            assert process.returncode == 0, launched
        [(code, output)] = batch_ended
        assert code != 0, output  # the Celery batch lost a JobSpec: dg launch says it failed
        all_runs = runs()
        page_path = Path(
            night_report_path(str(reports), night_of(datetime.now(UTC), zone).isoformat())
        )

        def reported() -> bool:
            if not page_path.is_file():
                return False
            shown = {row["run"] for row in job_rows(read_page(page_path))}
            return shown >= {r.run_id[:8] for r in all_runs}

        wait_for(reported, 120, "the night report to list every run")
        # Two more looks of every interval sensor after the night: late reports count too.
        time.sleep(2 * WATCH_INTERVAL_S + 2)
        assert len(runs()) == len(all_runs), "a run was launched after the night's work"
        final = {r.run_id: r for r in runs()}
        truths = [
            Truth(
                run,
                {job: read_result(out, job) for job, out in jobspecs_of(run)},
                [job for job, out in jobspecs_of(run) if Path(staging_dir(out, job)).is_dir()],
            )
            for run in final.values()
        ]
        # The job that filled its disk: its result, nothing else (no partial proxy).
        assert sorted(os.listdir(full)) == [Path(result_path(str(full), "disk-full")).name]
        failures = {r.run_id: failure_events(instance, r.run_id) for r in final.values()}
        markdown = {r.run_id: markdown_texts(instance, r.run_id) for r in final.values()}
        batch_outcomes = {
            r.run_id: batch_outcome(instance, r.run_id)
            for r in final.values()
            if r.job_name == BATCH_JOB
        }
        skipped_by_hostile_card = {
            (str(row.data["file"]), str(row.data["reason"]))
            for r in final.values()
            if r.tags.get(FOLDER_TAG) == str(card_h)
            for entry in events(instance, r.run_id, DagsterEventType.STEP_OUTPUT)
            for row in skipped_rows(entry)
        }
        staging_of_killed = sorted(
            p.name for p in jobs.iterdir() if p.name.startswith(STAGING_PREFIX)
        )
        page = read_page(page_path)

    # Nothing the night started runs on: daemon, code server, run and step workers, Celery,
    # FFmpeg (the conftest check looks too, after the test; this says what was left).
    def still_running() -> list[Proc]:
        return leftovers(os.getpid(), os.environ[SUITE_MARK], tmp_path)

    with contextlib.suppress(AssertionError):  # a process told to stop may take a moment
        wait_for(lambda: not still_running(), 15, "the night's processes to end")
    assert not still_running(), "left running: " + "; ".join(map(str, still_running()))

    # Every finding is collected (one per run or part), so that a failing night says all that
    # went wrong at once.
    problems: list[str] = []

    @contextlib.contextmanager
    def noted(what: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as error:
            problems.append(f"{what}: {error}")

    # Each run: status, batch tags, event log, night report rows equal what happened.
    rows = job_rows(page)
    for truth in truths:  # the night in the test's output, for whoever reads a failure
        summary = {j: r.status.value if r else None for j, r in truth.results.items()}
        print(f"{truth.run.job_name} {truth.run.run_id[:8]} {truth.run.status.value} {summary}")
        print(f"  failures: {failures[truth.run.run_id]}")
        print(f"  rows: {[r for r in rows if r['run'] == truth.run.run_id[:8]]}")
    for truth in truths:
        run = truth.run
        name = f"{run.job_name} {run.run_id[:8]} {run.tags.get(JOB_ID_TAG, '')}"
        with noted(name):
            expected = DagsterRunStatus.SUCCESS if truth.healthy else DagsterRunStatus.FAILURE
            assert run.status is expected, f"{name}: {run.status} but {truth.results}"
            completed = [j for j, r in truth.results.items() if r and r.status is Status.COMPLETED]
            tags = {
                k: run.tags[k] for k in (BATCH_FAILED_TAG, BATCH_COMPLETED_TAG) if k in run.tags
            }
            if run.job_name == BATCH_JOB and not truth.healthy:
                assert tags == {
                    BATCH_FAILED_TAG: str(len(truth.results) - len(completed)),
                    BATCH_COMPLETED_TAG: str(len(completed)),
                }, name
            else:
                assert tags == {}, f"{name}: a healthy or single-job run got batch outcome {tags}"
            outcomes = [
                f for f in failures[run.run_id] if f.startswith(f"ENGINE_EVENT: {BATCH_JOB}:")
            ]
            assert len(outcomes) == (run.job_name == BATCH_JOB and not truth.healthy), (
                f"{name}: batch outcome written {len(outcomes)} times"
            )
            if truth.healthy:  # never reported failed, not even for a moment
                assert failures[run.run_id] == [], f"{name} is healthy: {failures[run.run_id]}"
            else:
                assert any(f.startswith("RUN_FAILURE") for f in failures[run.run_id]), name
                assert not events(instance, run.run_id, DagsterEventType.RUN_SUCCESS), name
            mine = [row for row in rows if row["run"] == run.run_id[:8]]
            shown = {row["job"]: (row["status"], row["reason"]) for row in mine}
            assert len(mine) == len(shown), f"{name}: a job listed twice: {mine}"
            assert len(mine) == max(1, len(truth.results)), f"{name}: {mine}"
            for job_id, result in truth.results.items():
                if result is not None:
                    reason = (
                        f"{result.failure.failure_class.value} {result.failure.reason.value}"
                        if result.failure
                        else ""
                    )
                    assert shown.get(job_id) == (result.status.value, reason), f"{name}: {mine}"
                    assert mine[[r["job"] for r in mine].index(job_id)]["clips"] == str(
                        len(result.clips)
                    )
            # A job that began and left no result is listed as such, once; a run that began no
            # job is listed as having started none.
            lost = [row for row in mine if row["status"] == NO_RESULT_STATUS]
            assert len(lost) == len(truth.began), f"{name}: began {truth.began}, shown {mine}"
            if not any(truth.results.values()) and not truth.began:
                assert [row["status"] for row in mine] == ["no job started"], f"{name}: {mine}"
            if not truth.healthy:  # no failed run looks healthy on the page
                assert any(status != Status.COMPLETED.value for status, _ in shown.values()), (
                    f"{name} failed, but the night report shows only {mine}"
                )
            if run.tags.get(FOLDER_TAG) == str(card_h):  # the posters name each clip as itself
                for hostile in map(visible, HOSTILE):
                    assert any(hostile in text for text in markdown[run.run_id]), (
                        f"{name}: {hostile!r} not shown as written in {markdown[run.run_id]}"
                    )

    # What happened, run by run, is what the night was built to do.
    with noted("what the night was built to do"):
        by_job = {job: (t.run, r) for t in truths for job, r in t.results.items()}
        assert by_job["mp-long"][0].status is DagsterRunStatus.SUCCESS
        assert by_job["mp-short"][0].status is DagsterRunStatus.SUCCESS
        run, victim = by_job["worker-victim"]
        assert victim is None and run.status is DagsterRunStatus.FAILURE
        # The killed jobs' staging folders stay, named by their next validation; never output.
        assert staging_of_killed == [
            f"{STAGING_PREFIX}celery-victim",
            f"{STAGING_PREFIX}worker-victim",
        ]
        run, full_result = by_job["disk-full"]
        assert full_result is not None and full_result.failure is not None
        assert full_result.failure.reason is Reason.DISK_FULL
        run, other = by_job["celery-other"]
        assert by_job["celery-victim"][1] is None and run.status is DagsterRunStatus.FAILURE
        assert other is not None and other.status is Status.COMPLETED
        [celery_outcome] = [o for o in batch_outcomes.values() if "001_celery_other" in o.completed]
        assert celery_outcome.failed == {"000_celery_victim": NO_RESULT}

    # Every clip: one verified proxy, encoded once; nothing final-named of a failed job;
    # no empty or partial file anywhere.
    with noted("proxies"):
        results = [r for t in truths for r in t.results.values() if r is not None]
        committed: dict[str, int] = {}
        for result in results:
            for clip in result.clips:
                if clip.state is ClipState.COMMITTED:
                    assert clip.output is not None
                    committed[clip.source] = committed.get(clip.source, 0) + 1
                    proxy = Path(clip.output)
                    assert proxy.stat().st_size == clip.output_bytes and clip.output_bytes > 0
                    assert sha256(proxy) == clip.output_sha256
                else:
                    assert clip.output is None or not Path(clip.output).exists(), clip.output
        card_clips = [
            *(str(p) for p in sorted((card_a / "CLIP").iterdir())),
            *(str(card_b / n) for n in ("B002C001.mov", "B002C002.mov")),
            *(str(card_h / n) for n in HOSTILE),
        ]
        hand_clips = [str(long_step), str(short[0]), str(short[2]), str(short[1])]
        assert committed == dict.fromkeys(card_clips + hand_clips, 1)
        assert not (card_h / "Proxy" / NEWLINE).exists()
        assert (NEWLINE, "name contains a control character") in skipped_by_hostile_card
        for folder in (jobs, card_a / "Proxy", card_b / "Proxy", card_h / "Proxy"):
            for path in folder.rglob("*"):
                if STAGING_PREFIX in str(path):
                    continue  # a killed job's debris (checked above), never output
                assert not path.is_file() or path.stat().st_size > 0, f"empty file {path}"
                if path.suffix == ".mov":
                    assert any(c.output == str(path) for r in results for c in r.clips), path
    # The engine calls of the launched jobs (the cards' jobs use the pinned engine; their
    # clips are counted by the results above): one encode per clip, none again.
    with noted("engine calls"):
        encodes = [STAGED.findall(args) for args in job_encodes(tmp_path)]
        assert sorted(name for found in encodes for name in found) == sorted(
            f"{STAGING_PREFIX}{job}/{Path(clip).name}"
            for job, clip in (
                ("mp-long", long_step),
                ("mp-short", short[0]),
                ("mp-shorter", short[2]),
                ("worker-victim", worker_victim),
                ("disk-full", short[2]),
                ("celery-victim", celery_victim),
                ("celery-other", short[1]),
            )
        ), encodes

    # Hostile names: shown as themselves on the page, never as markup.
    with noted("hostile names on the page"):
        assert "script" not in page.tags
        shown_clips = clip_names(page)
        for hostile in map(visible, HOSTILE):
            assert hostile in shown_clips, f"{hostile!r} not on the page as written: {shown_clips}"
    print(f"chaos night: {len(truths)} runs in {time.monotonic() - started:.0f} s")
    assert not problems, f"{len(problems)} finding(s):\n" + "\n".join(problems)
