"""The longest jobs first: a run's place in Dagster's run queue from an estimate of its jobs.

A night ends when its last job does. Taken in the order they arrive, the longest jobs may start
last and end the night running alone on an otherwise idle machine (docs/benchmarks.md, scale
rehearsal). Dagster's run queue launches runs of higher `dagster/priority` first, and its pools
give a free place to the waiting step of the higher-priority run first, so each run the watch
sensor, the inbox sensor and the nightly schedule request is given a priority that grows with
the expected time of its longest job on that job's pinned threads (the classic
longest-processing-time-first order; a card's parts run side by side, so its longest part is
what it adds to the night's end). The short ones fill the gaps at the end.

A job's work is its clips' picture (frames x width x height, from their headers: `header_pixels`)
times what the profile measurably costs per gigapixel of source. At most SAMPLED_CLIPS headers
are read per run, spread over its clips; the others count by their bytes at the picture per byte
of those read (one camera's clips share a bit rate). The estimate only orders runs: it never
reaches a JobSpec, a command or a result.

No estimate, no priority tag (Dagster's 0, ahead of every estimated run): a clip whose header
says nothing, or a profile that is not known, most often makes a job its planning refuses, and a
refusal is better known early.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from proxx_dagster.names import PRIORITY_TAG
from proxx_exec import BUILTIN_PROFILES
from proxx_exec.media import header_pixels
from proxx_exec.profiles import Profile

# CPU seconds per gigapixel of source for each built-in profile at its pinned thread count, from
# the thread-count benchmark (docs/benchmarks.md: a 1920x1080, 25 fps, 3 s H.264 clip, 0.156
# gigapixels; decoding and scaling included). Only their ratios matter for the order.
COST_PER_GIGAPIXEL: dict[str, float] = {
    "prores_proxy": 22.2,
    "prores_lt": 96.7,
    "dnxhr_lb": 8.9,
    "h264_half": 8.8,
    "h264_quarter": 4.1,
}

# Headers read per run at most: a tick stays short even for a day of a thousand clips on a slow
# share (each read opens the file and looks at its first packets).
SAMPLED_CLIPS = 8

# The priority scale: 20 steps per tenfold time (one step is 12 % more), from 1 ms to 10^7 s
# (four months); times outside it share the end step.
_STEPS_PER_DECADE = 20
_LEAST_S, _MOST_S = 1e-3, 1e7
FIRST = -1  # the priority of the longest runs, and of a queued run holding a folder back


def cost_per_gigapixel(profile: Profile) -> float:
    """The profile's measured cost; a custom profile is costed as the costliest built-in one
    with its encoder."""
    if BUILTIN_PROFILES.get(profile.name) == profile:
        return COST_PER_GIGAPIXEL[profile.name]
    alike = [
        COST_PER_GIGAPIXEL[name]
        for name, builtin in BUILTIN_PROFILES.items()
        if builtin.video_codec == profile.video_codec
    ]
    return max(alike or COST_PER_GIGAPIXEL.values())


def clip_pixels(sources: Sequence[str]) -> list[float] | None:
    """Each clip's picture (frames x width x height): read for up to SAMPLED_CLIPS clips spread
    over them, the others by their bytes at the picture per byte of those read. None when a
    header read says nothing."""
    paths = [Path(source) for source in sources]
    if not paths:
        return []
    if len(paths) <= SAMPLED_CLIPS:
        sample = list(range(len(paths)))
    else:  # spread from the first clip to the last
        step = (len(paths) - 1) / (SAMPLED_CLIPS - 1)
        sample = sorted({round(i * step) for i in range(SAMPLED_CLIPS)})
    read = {index: header_pixels(paths[index]) for index in sample}
    if any(pixels is None for pixels in read.values()):
        return None
    sizes = [_size(path) for path in paths]
    sampled_bytes = sum(sizes[index] for index in sample)
    per_byte = sum(p or 0 for p in read.values()) / sampled_bytes if sampled_bytes else 0.0
    return [
        float(read[index] or 0) if index in read else size * per_byte
        for index, size in enumerate(sizes)
    ]


def longest_job_s(jobs: Sequence[Sequence[str]], profile: str | Profile) -> float | None:
    """Expected seconds of the longest of `jobs` (each a job's sources), on the profile's pinned
    threads. None when it cannot be estimated."""
    known = profile if isinstance(profile, Profile) else BUILTIN_PROFILES.get(profile)
    pixels = clip_pixels([source for job in jobs for source in job])
    if known is None or pixels is None:
        return None
    longest, start = 0.0, 0
    for job in jobs:
        longest = max(longest, sum(pixels[start : start + len(job)]))
        start += len(job)
    return longest / 1e9 * cost_per_gigapixel(known) / known.threads


def work_priority(seconds: float) -> int:
    """Dagster's `dagster/priority` for a run whose longest job takes `seconds`: -1 for the
    longest, -201 for the shortest; longer, never a lower priority."""
    clamped = min(max(seconds, _LEAST_S), _MOST_S)
    return round(_STEPS_PER_DECADE * math.log10(clamped / _MOST_S)) + FIRST


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone or unreadable: its job says so when it is planned


def priority_tags(jobs: Sequence[Sequence[str]], profile: str | Profile) -> dict[str, str]:
    """The run tag placing a run of `jobs` in the queue; none when it cannot be estimated."""
    seconds = longest_job_s(jobs, profile)
    return {} if seconds is None else {PRIORITY_TAG: str(work_priority(seconds))}
