"""The fault matrix (docs/reliability.md): each fault ends in one FAILED result whose reason
names the cause, no final-named output, no staging debris (or debris the next validation names),
no retry."""

from __future__ import annotations

import contextlib
import json
import resource
import shutil
import subprocess
from pathlib import Path

from benchmarks.processes import encoder_pid, ends_within, parent_of, wait_for
from proxx_exec import ClipProgress, ExecutionResult, FailureClass, Reason, Status, execute
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import PROXX, Media, engine_calls, listing, mounted, write_engine_wrapper

RESULT = "test-job.proxx-result.json"


def run_cli(spec_file: Path, limit_bytes: int | None = None) -> ExecutionResult:
    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    completed = subprocess.run(
        [PROXX, "run", str(spec_file)],
        capture_output=True,
        check=False,
        timeout=300,
        preexec_fn=limit,
    )
    return ExecutionResult.from_json(completed.stdout)


def test_file_size_limit_on_the_engine(
    make_spec: SpecFactory, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.json"
    spec_file.write_text(json.dumps(make_spec([media.standard], profile="prores_lt").canonical()))
    result = run_cli(spec_file, limit_bytes=200_000)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.SIGNALED,
    )
    assert "SIGXFSZ" in result.failure.message and "file-size limit" in result.failure.message
    assert listing(out_dir) == [RESULT]


def test_disk_full_on_a_small_volume(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    volume = tmp_path / "small"
    volume.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=700k", "tmpfs", str(volume)):
        result = execute(make_spec([media.standard], profile="prores_lt", output_dir=str(volume)))
        assert result.failure is not None
        assert (result.failure.failure_class, result.failure.reason) == (
            FailureClass.EXECUTION,
            Reason.DISK_FULL,
        )
        assert "full" in result.failure.message
        assert listing(volume) == [RESULT]


def test_output_folder_removed_mid_job(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    out = tmp_path / "vanishing"
    out.mkdir()
    sources = [
        media.clip(f"G{i}.mov", SampleClip(duration_s=0.4, reel_name=f"G{i}")) for i in range(2)
    ]

    def remove_folder(event: ClipProgress) -> None:
        if event.index == 0 and event.phase == "done":
            shutil.rmtree(out)

    result = execute(make_spec(sources, output_dir=str(out)), on_progress=remove_folder)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.OUTPUT_DIR_CHANGED,
    )
    # Nothing recreated, nothing written elsewhere (`proxies` is the fixture's unused folder).
    assert listing(tmp_path) == ["proxies"] and listing(tmp_path / "proxies") == []


def test_output_folder_made_read_only_mid_job(
    make_spec: SpecFactory, media: Media, out_dir: Path
) -> None:
    sources = [
        media.clip(f"K{i}.mov", SampleClip(duration_s=0.4, reel_name=f"K{i}")) for i in range(2)
    ]
    with contextlib.ExitStack() as stack:

        def freeze(event: ClipProgress) -> None:
            if event.index == 0 and event.phase == "done":
                stack.enter_context(mounted("--bind", str(out_dir), str(out_dir)))
                subprocess.run(["mount", "-o", "remount,bind,ro", str(out_dir)], check=True)

        result = execute(make_spec(sources), on_progress=freeze)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.OUTPUT_NOT_WRITABLE,
    )
    # The staging folder could not be removed on a read-only volume: the result says so, and
    # the next validation of the job names it; it never counts as output.
    assert "could not be removed" in result.failure.message
    assert listing(out_dir) == [".proxx-staging-test-job"]
    again = execute(make_spec(sources))
    assert again.failure is not None and again.failure.reason is Reason.STAGING_EXISTS
    assert ".proxx-staging-test-job" in again.failure.message


def test_two_jobs_racing_for_one_output(media: Media, out_dir: Path, tmp_path: Path) -> None:
    """Different jobs, same proxy names: exactly one wins, the other fails OUTPUT_EXISTS."""
    sources = [
        media.clip(f"W{i}.mov", SampleClip(duration_s=0.4, reel_name=f"W{i}")) for i in range(3)
    ]
    processes = []
    for job_id in ("racer-a", "racer-b"):
        spec_file = tmp_path / f"{job_id}.json"
        spec_file.write_text(
            json.dumps(
                {
                    "spec_version": "1",
                    "job_id": job_id,
                    "sources": [str(s) for s in sources],
                    "output_dir": str(out_dir),
                    "profile": "h264_quarter",
                }
            )
        )
        processes.append(
            subprocess.Popen(
                [PROXX, "run", str(spec_file)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        )
    results = [ExecutionResult.from_json(p.communicate(timeout=300)[0]) for p in processes]
    statuses = sorted(r.status.value for r in results)
    assert statuses == ["COMPLETED", "FAILED"]
    loser = next(r for r in results if r.status is Status.FAILED)
    assert loser.failure is not None and loser.failure.reason is Reason.OUTPUT_EXISTS
    winner = next(r for r in results if r.status is Status.COMPLETED)
    for clip in winner.clips:
        assert clip.output is not None
        digest = subprocess.run(
            ["sha256sum", clip.output], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        assert digest == clip.output_sha256  # the winner's bytes, never clobbered
    assert not [n for n in listing(out_dir) if n.startswith(".proxx-staging")]


def test_wrong_program_and_missing_engine_never_run(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    not_ffmpeg = write_engine_wrapper(tmp_path, 'echo "I am not FFmpeg"; exit 0')
    result = execute(make_spec([media.standard], engine=str(not_ffmpeg)))
    assert result.failure is not None and result.failure.reason is Reason.ENGINE_NOT_FFMPEG
    assert [args for _, args in engine_calls(tmp_path)] == ["-hide_banner -version"]


def test_no_engine_process_outlives_a_failed_job(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    wrapper = write_engine_wrapper(
        tmp_path,
        f'case "$*" in *-c:v*) /bin/sleep 120 & echo $! > "{pid_file}"; wait;; esac\n'
        'exec "$REAL" "$@"',
    )
    result = execute(make_spec([media.standard], engine=str(wrapper), clip_timeout_s=1))
    assert result.failure is not None and result.failure.reason is Reason.TIMEOUT
    status = Path(f"/proc/{int(pid_file.read_text())}/status")
    assert not status.exists() or "\nState:\tZ" in status.read_text()


def test_the_engine_dies_within_a_second_of_the_process_that_started_it(
    make_spec: SpecFactory, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """`proxx run` SIGKILLed mid-encode (as the OOM killer would): its FFmpeg goes with it,
    rather than encoding on into the staging folder of a job nobody waits for."""
    spec_file = tmp_path / "job.json"
    clip = media.h264_clip("ORPHANED.mov")  # an encode of several seconds
    spec_file.write_text(json.dumps(make_spec([clip], profile="prores_lt").canonical()))
    runner = subprocess.Popen(
        [PROXX, "run", str(spec_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    staged = str(out_dir / ".proxx-staging-test-job" / "ORPHANED.mov")
    try:
        wait_for(lambda: encoder_pid(staged) is not None, 120, "the encode", 0.05)
        encoder = encoder_pid(staged)
        assert encoder is not None and parent_of(encoder) == runner.pid
    finally:
        runner.kill()
        runner.wait()
    assert ends_within(encoder, 1.0), "the engine outlived the process that started it"
    assert listing(out_dir) == [".proxx-staging-test-job"]  # named by the next validation
