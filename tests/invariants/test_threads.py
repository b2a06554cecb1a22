"""The engine's thread count is part of the plan: the profile's pinned value, never the machine's.

x264's bytes depend on its thread count, so a plan that read the core count would give other
proxies on another machine. Each built-in profile's commands are planned on a "machine" of 64
cores and on one of 1 core (os.cpu_count and the affinity mask faked): they must be identical
and carry the profile's own `-threads`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxx_exec import BUILTIN_PROFILES, JobSpec, validate_job
from proxx_exec.tools.samples import SampleClip
from tests.helpers import Media

# The chosen counts (docs/determinism.md, "Why the thread count is in the plan"). A change here
# changes the H.264 profiles' bytes: it must be a decision, not a side effect.
CHOSEN = {"prores_proxy": 4, "prores_lt": 4, "dnxhr_lb": 2, "h264_half": 4, "h264_quarter": 4}


def _commands(source: Path, output: Path, profile: str) -> list[tuple[str, ...]]:
    spec = JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": "threads",
            "sources": [str(source)],
            "output_dir": str(output),
            "profile": profile,
        }
    )
    return [clip.argv for clip in validate_job(spec).plan.clips]


def _pretend_cores(monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))


def test_the_chosen_counts_are_the_profiles() -> None:
    assert {name: p.threads for name, p in BUILTIN_PROFILES.items()} == CHOSEN


@pytest.mark.parametrize("profile", sorted(BUILTIN_PROFILES))
def test_the_plan_carries_the_pinned_count_on_any_machine(
    profile: str, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = media.clip("threads.mov", SampleClip(width=640, height=360, duration_s=0.2))
    output = tmp_path / "out"
    output.mkdir()
    planned = {}
    for cores in (64, 1):
        with monkeypatch.context() as patch:
            _pretend_cores(patch, cores)
            assert os.cpu_count() == cores and len(os.sched_getaffinity(0)) == cores
            planned[cores] = _commands(source, output, profile)
    assert planned[64] == planned[1]
    (argv,) = planned[64]
    assert argv.count("-threads") == 1
    assert argv[argv.index("-threads") + 1] == str(BUILTIN_PROFILES[profile].threads)
