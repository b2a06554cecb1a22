"""The scale rehearsal's simulated machine and engine stand-in (benchmarks/standin.py): an
oversubscribed machine slows every hold, idle cores stay idle, and a JobSpec whose engine is the
stand-in still ends with real, verified proxies."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from benchmarks.standin import SimulatedMachine, short_socket_path, write_standin
from proxx_exec import JobSpec, execute
from proxx_exec.engines import default_engine_binary
from proxx_exec.profiles import BUILTIN_PROFILES
from tests.helpers import Media


def _holds(machine: SimulatedMachine, holds: list[tuple[int, float]]) -> float:
    """Wall seconds until every hold (threads, core-seconds) is done, all started at once."""
    began = time.monotonic()
    workers = [threading.Thread(target=machine.hold, args=hold) for hold in holds]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.monotonic() - began


@pytest.mark.alone  # it measures wall time: see tests/conftest.py
def test_holds_share_an_oversubscribed_machine_and_leave_idle_cores_idle(tmp_path: Path) -> None:
    with SimulatedMachine(4, short_socket_path(tmp_path)) as machine:
        alone = _holds(machine, [(2, 0.8)])  # 2 of 4 cores: 0.4 s
        crowded = _holds(machine, [(4, 1.6), (4, 1.6)])  # 8 threads on 4 cores: 0.8 s
        began = machine.timeline[0][0]
        end = machine.timeline[-1][0]
        busy = machine.busy_cores(began, end, 10)
    assert 0.35 <= alone <= 0.6
    assert 0.75 <= crowded <= 1.1
    assert max(busy) <= 4.0 + 1e-9  # never more cores busy than the machine has
    assert min(busy[:3]) == pytest.approx(2.0, abs=0.3)  # the lone hold: 2 busy, 2 idle


def test_a_job_run_by_the_standin_makes_verified_proxies_and_holds_its_threads(
    media: Media, tmp_path: Path
) -> None:
    source = tmp_path / "A001" / "A001C001.mov"
    source.parent.mkdir()
    source.write_bytes(media.standard.read_bytes())
    with SimulatedMachine(16, short_socket_path(tmp_path)) as machine:
        standin = write_standin(
            tmp_path / "ffmpeg-standin",
            default_engine_binary(),
            machine.socket_path,
            {"A001/A001C001.mov": 1.2},
        )
        spec = JobSpec.model_validate(
            {
                "spec_version": "1",
                "job_id": "standin",
                "sources": [str(source)],
                "output_dir": str(tmp_path / "out"),
                "profile": "h264_quarter",
                "engine": str(standin),
            }
        )
        result = execute(spec)
    assert result.completed, result.failure
    [clip] = result.clips
    assert clip.state == "COMMITTED"
    assert clip.checks and all(check.passed for check in clip.checks)
    assert Path(clip.output or "").is_file()
    threads = BUILTIN_PROFILES["h264_quarter"].threads
    assert max(demand for _, demand in machine.timeline) == threads
    assert result.timing.clips[0].encode_s >= 1.2 / threads * 0.9  # the hold's wall time
