"""Execution and verification failures: one FAILED result with the right class and reason,
no final-named output, no staging debris, and the engine run exactly once per attempted clip.

Faults are injected through an explicitly named engine (a wrapper script around the real
FFmpeg), exactly as a JobSpec may name another binary, or by damaging the media."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

from proxx_exec import ClipProgress, ClipState, FailureClass, Reason, Status, execute
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import REAL_ENGINE, Media, engine_calls, listing, write_engine_wrapper

RESULT = "test-job.proxx-result.json"
IS_ENCODE = 'case "$*" in *-c:v*) ENCODE=1;; *) ENCODE=0;; esac'


def process_alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (dead, waiting to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def encodes(folder: Path) -> list[str]:
    return [args for _, args in engine_calls(folder) if "-c:v" in args]


def three_sources(media: Media) -> list[Path]:
    return [
        media.clip(f"R00{i}.mov", SampleClip(duration_s=1, reel_name=f"R00{i}")) for i in (1, 2, 3)
    ]


def test_timeout_kills_the_process_group(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    wrapper = write_engine_wrapper(
        tmp_path,
        f'{IS_ENCODE}\nif [ $ENCODE = 1 ]; then /bin/sleep 60 & echo $! > "{pid_file}"; wait; fi\n'
        'exec "$REAL" "$@"',
    )
    began = time.monotonic()
    result = execute(make_spec([media.standard], engine=str(wrapper), clip_timeout_s=1))
    assert time.monotonic() - began < 30
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.TIMEOUT,
    )
    assert result.clips[0].state is ClipState.FAILED
    assert not process_alive(int(pid_file.read_text()))  # the grandchild died with the group
    assert len(encodes(tmp_path)) == 1
    assert listing(out_dir) == [RESULT]


def test_engine_killed_by_a_signal(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    wrapper = write_engine_wrapper(
        tmp_path, f'{IS_ENCODE}\n[ $ENCODE = 1 ] && kill -KILL $$\nexec "$REAL" "$@"'
    )
    result = execute(make_spec([media.standard], engine=str(wrapper)))
    assert result.failure is not None
    assert result.failure.reason is Reason.SIGNALED
    assert "SIGKILL" in result.failure.message
    assert len(encodes(tmp_path)) == 1
    assert listing(out_dir) == [RESULT]


def test_real_ffmpeg_killed_mid_clip(make_spec: SpecFactory, media: Media, out_dir: Path) -> None:
    """SIGKILL to the real FFmpeg while it encodes, found through /proc by its output path."""
    long_clip = media.clip("LONG.mov", SampleClip(width=1280, height=720, duration_s=8))
    staged = str(out_dir / ".proxx-staging-test-job" / "LONG.mov")
    killed: list[int] = []

    def kill_encoder(event: ClipProgress) -> None:
        if killed or event.phase != "encode" or event.frames_done == 0:
            return
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"file:" + staged.encode() in cmdline:
                    os.kill(int(pid), 9)
                    killed.append(int(pid))

    result = execute(make_spec([long_clip], profile="prores_lt"), on_progress=kill_encoder)
    assert killed, "the encoder was never seen running"
    assert result.failure is not None and result.failure.reason is Reason.SIGNALED
    assert listing(out_dir) == [RESULT]


def test_nonzero_exit_on_corrupt_source(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    source = tmp_path / "corrupt.mov"
    data = bytearray(media.standard.read_bytes())
    middle = len(data) // 3
    # Picture data replaced by fixed noise (the same bytes every run), header intact.
    data[middle : middle + 200_000] = hashlib.shake_256(b"proxx corrupt source").digest(200_000)
    source.write_bytes(bytes(data))
    result = execute(make_spec([source]))
    assert result.failure is not None
    assert result.failure.failure_class is FailureClass.EXECUTION
    assert result.failure.reason is Reason.NONZERO_EXIT
    assert result.clips[0].exit_code not in (0, None)
    assert result.failure.stderr_tail
    assert listing(out_dir) == [RESULT]


def test_truncated_source_with_index_first(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    whole = media.clip("FAST.mov", SampleClip(duration_s=1))
    fast = tmp_path / "faststart.mov"
    subprocess.run(
        [
            str(REAL_ENGINE),
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(whole),
            "-map",
            "0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(fast),
        ],
        check=True,
    )
    cut = tmp_path / "cut.mov"
    data = fast.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    result = execute(make_spec([cut]))
    # The index (written first) lists frames the file no longer holds: refused before encoding.
    assert result.status is Status.FAILED and result.failure is not None
    assert result.failure.failure_class is FailureClass.VALIDATION
    assert result.failure.reason is Reason.SOURCE_TRUNCATED
    assert "cut short" in result.failure.message
    assert [name.split("-refused-")[0] for name in listing(out_dir)] == ["test-job.proxx"]


def test_frames_dropped_by_the_engine_fail_verification(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    # An engine that exits 0 but writes only 5 frames: exit code 0 proves nothing.
    wrapper = write_engine_wrapper(
        tmp_path,
        f"{IS_ENCODE}\nif [ $ENCODE = 1 ]; then\n"
        "  for last; do :; done\n"
        '  n=$#; i=0; for a; do i=$((i+1)); [ $i -lt $n ] && set -- "$@" "$a"; done\n'
        '  shift $n; exec "$REAL" "$@" -frames:v 5 "$last"\nfi\n'
        'exec "$REAL" "$@"',
    )
    result = execute(make_spec([media.standard], engine=str(wrapper)))
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.VERIFICATION,
        Reason.FRAME_COUNT_MISMATCH,
    )
    frame_check = next(c for c in result.clips[0].checks if c.name == "frame_count")
    assert (frame_check.expected, frame_check.actual, frame_check.passed) == (25, 5, False)
    assert result.clips[0].exit_code == 0
    assert listing(out_dir) == [RESULT]


def test_empty_output_fails_verification(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    wrapper = write_engine_wrapper(
        tmp_path,
        f"{IS_ENCODE}\nif [ $ENCODE = 1 ]; then for last; do :; done; "
        ': > "${last#file:}"; exit 0; fi\nexec "$REAL" "$@"',
    )
    result = execute(make_spec([media.standard], engine=str(wrapper)))
    assert result.failure is not None and result.failure.reason is Reason.OUTPUT_EMPTY
    assert listing(out_dir) == [RESULT]


def test_failure_in_clip_two_of_three_commits_nothing(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    sources = three_sources(media)
    wrapper = write_engine_wrapper(
        tmp_path, 'case "$*" in *R002.mov*-c:v*) exit 3;; esac\nexec "$REAL" "$@"'
    )
    result = execute(make_spec(sources, engine=str(wrapper)))
    assert result.failure is not None
    assert (result.failure.reason, result.failure.clip_index) == (Reason.NONZERO_EXIT, 1)
    assert [c.state for c in result.clips] == [
        ClipState.DISCARDED,
        ClipState.FAILED,
        ClipState.NOT_RUN,
    ]
    assert result.clips[1].exit_code == 3
    assert len(encodes(tmp_path)) == 2  # clip 3 never started
    assert listing(out_dir) == [RESULT]


def test_source_deleted_before_its_turn(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    doomed = tmp_path / "doomed.mov"
    doomed.write_bytes(media.standard.read_bytes())

    def delete_second(event: ClipProgress) -> None:
        if event.index == 0 and event.phase == "done":
            doomed.unlink()

    result = execute(make_spec([three_sources(media)[0], doomed]), on_progress=delete_second)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.SOURCE_VANISHED,
    )
    assert listing(out_dir) == [RESULT]


def test_commit_race_never_clobbers(make_spec: SpecFactory, media: Media, out_dir: Path) -> None:
    sources = three_sources(media)

    def squat(event: ClipProgress) -> None:
        if event.index == 2 and event.phase == "done":
            (out_dir / "R002.mov").write_bytes(b"another job got here first")

    result = execute(make_spec(sources), on_progress=squat)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.OUTPUT_EXISTS,
    )
    assert (out_dir / "R002.mov").read_bytes() == b"another job got here first"
    assert listing(out_dir) == ["R002.mov", RESULT]  # R001.mov was linked, then taken back


def test_a_failing_progress_observer_changes_nothing(
    make_spec: SpecFactory, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    def broken(event: ClipProgress) -> None:
        raise RuntimeError("observer bug")

    quiet = execute(make_spec([media.standard], output_dir=str(out_dir)))
    other = tmp_path / "second"
    other.mkdir()
    loud = execute(make_spec([media.standard], output_dir=str(other)), on_progress=broken)
    assert quiet.status is loud.status is Status.COMPLETED
    assert quiet.clips[0].output_sha256 == loud.clips[0].output_sha256
