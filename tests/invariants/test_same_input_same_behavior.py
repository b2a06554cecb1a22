"""Execution Invariants: Same Input -> Same Behavior, No Time-Based Behavior, No Hidden Defaults
(environment), Parallelism / worker count. One JobSpec, many perturbations, one outcome."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxx_exec import JobSpec, Status, execute, validate_job
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import PROXX, Media, clear
from tests.invariants.harness import (
    Perturbation,
    busy_cpus,
    faked_clock_env,
    fingerprint_of_run,
    run_perturbed,
)


@pytest.fixture(scope="module")
def fake_ffmpeg_on_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with an `ffmpeg` that records being called: PATH must never lead to it."""
    folder = tmp_path_factory.mktemp("path-bin")
    fake = folder / "ffmpeg"
    fake.write_text(f"#!/bin/sh\necho called >> {folder}/called\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return folder


@contextlib.contextmanager
def another_job_beside(media: Media, folder: Path) -> Iterator[object]:
    """A different job running at the same time, in its own process."""
    out = folder / "beside-out"
    out.mkdir(exist_ok=True)
    clear(out)
    other = JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": "beside",
            "profile": "prores_lt",
            "output_dir": str(out),
            "sources": [
                str(media.clip("BESIDE.mov", SampleClip(width=1280, height=720, duration_s=3)))
            ],
        }
    )
    spec_file = folder / "beside.json"
    spec_file.write_text(other.model_dump_json())
    process = subprocess.Popen(
        [PROXX, "run", str(spec_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.wait(timeout=300)


def perturbations(
    media: Media, tmp: Path, fake_path: Path, locale: dict[str, str]
) -> list[Perturbation]:
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return [
        Perturbation("plain"),
        Perturbation(
            "environment",
            env={
                "TZ": "Pacific/Kiritimati",
                **locale,
                "OMP_NUM_THREADS": "13",
                "FFREPORT": f"file={tmp}/ffreport.log",
                "AV_LOG_FORCE_NOCOLOR": "1",
                "IMAGEIO_FFMPEG_EXE": str(fake_path / "ffmpeg"),
                "PATH": str(fake_path),
            },
        ),
        Perturbation("working directory", cwd=elsewhere),
        Perturbation("clock ten years ahead", env=faked_clock_env("+3650d")),
        Perturbation("clock in 2001", env=faked_clock_env("@2001-01-01 03:00:00")),
        Perturbation("one CPU", cpus=frozenset({0})),
        Perturbation("loaded machine", beside=busy_cpus),
        Perturbation("another job beside", beside=lambda: another_job_beside(media, tmp)),
    ]


def test_one_jobspec_one_outcome_under_every_perturbation(
    make_spec: SpecFactory,
    media: Media,
    out_dir: Path,
    tmp_path: Path,
    fake_ffmpeg_on_path: Path,
    turkish_locale: dict[str, str],
) -> None:
    sources = [
        media.standard,
        media.clip("PERT.mov", SampleClip(duration_s=1, reel_name="P", audio_channels=(1, 1, 2))),
    ]
    spec = make_spec(sources, profile="h264_half")
    baseline = execute(spec)
    assert baseline.status is Status.COMPLETED
    expected = fingerprint_of_run(baseline)
    for perturbation in perturbations(media, tmp_path, fake_ffmpeg_on_path, turkish_locale):
        clear(out_dir)
        result = run_perturbed(spec, tmp_path / "job.json", perturbation)
        assert fingerprint_of_run(result) == expected, perturbation.name
    assert not (fake_ffmpeg_on_path / "called").exists()  # PATH was never consulted
    assert not (tmp_path / "ffreport.log").exists()  # the engine never saw FFREPORT


def test_history_does_not_change_a_job(
    make_spec: SpecFactory, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """A job run after failures, timeouts and other successes gives what it gave first."""
    spec = make_spec([media.standard])
    first = execute(spec)
    clear(out_dir)
    history = tmp_path / "history"
    history.mkdir()
    execute(make_spec([tmp_path / "missing.mov"], job_id="h-fail", output_dir=str(history)))
    execute(
        make_spec([media.standard], job_id="h-ok", output_dir=str(history), profile="prores_proxy")
    )
    slow = media.h264_clip("SLOW.mov", width=1920, height=1080, seconds=6)
    timed_out = execute(
        make_spec(
            [slow],
            job_id="h-timeout",
            output_dir=str(history),
            clip_timeout_s=1,
            profile="prores_lt",
        )
    )
    assert timed_out.failure is not None and timed_out.failure.reason.value == "TIMEOUT"
    assert fingerprint_of_run(execute(spec)) == fingerprint_of_run(first)


def test_plan_reads_no_environment(
    make_spec: SpecFactory, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec([media.standard])
    before = validate_job(spec).plan
    for name in list(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    monkeypatch.chdir("/")
    assert validate_job(spec).plan == before
