"""The heaviest work first: a run's place in Dagster's run queue from an estimate of its work.

A night ends when its last job does. Taken in the order they arrive, the heaviest cards may
start last and end the night running alone on an otherwise idle machine (docs/benchmarks.md,
scale rehearsal). Dagster's run queue launches runs of higher `dagster/priority` first, and its
pools give a free place to the waiting step of the higher-priority run first, so each run the
watch sensor, the inbox sensor and the nightly schedule request is given a priority that grows
with its estimated work: the longest jobs start first (the classic longest-processing-time-first
order), the short ones fill the gaps at the end.

The estimate is the clips' picture (frames x width x height, read from their headers, nothing
decoded; at most SAMPLED_CLIPS headers per run, the other clips counted by their bytes) times
what the profile measurably costs per gigapixel of source. It only orders runs:
it never reaches a JobSpec, a command or a result. A clip whose header says nothing counts as
nothing (its job is refused when it is planned).

Priorities run from -1 (the most work) down to -201 (the least), so a run a person launches from
the UI or `dg launch` (priority 0 unless they set one) goes ahead of a night's queued cards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from proxx_exec.media import header_pixels

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
# A profile the table does not know (none: test_priority holds the table to the built-in
# profiles) is costed as the most expensive one, so it is never the one left for last.
_UNKNOWN_COST = max(COST_PER_GIGAPIXEL.values())

# The priority scale: 20 steps per tenfold work (each step ~12 % more), from 1 ms of CPU to
# 10^7 CPU seconds (four months); works outside it share the end step.
_STEPS_PER_DECADE = 20
_LEAST_S, _MOST_S = 1e-3, 1e7


# Headers read per run at most, spread over its clips; the others are counted by their bytes at
# the picture per byte of those read (one camera's clips share a bit rate). A sensor's tick
# then reads a few headers whatever the card, even a day of a thousand clips on a slow share.
SAMPLED_CLIPS = 16


def estimated_work_s(sources: Sequence[str | Path], profile: str) -> float:
    """CPU seconds the profile's encodes of `sources` are expected to take."""
    paths = [Path(source) for source in sources]
    if len(paths) <= SAMPLED_CLIPS:
        pixels = sum(header_pixels(path) or 0 for path in paths)
    else:
        step = (len(paths) - 1) / (SAMPLED_CLIPS - 1)
        sample = [paths[round(i * step)] for i in range(SAMPLED_CLIPS)]
        sampled_bytes = sum(_size(path) for path in sample)
        sampled_pixels = sum(header_pixels(path) or 0 for path in sample)
        every_byte = sum(_size(path) for path in paths)
        pixels = sampled_pixels * every_byte // sampled_bytes if sampled_bytes else 0
    return pixels / 1e9 * COST_PER_GIGAPIXEL.get(profile, _UNKNOWN_COST)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone or unreadable: its job says so when it is planned


def work_priority(work_s: float) -> int:
    """Dagster's `dagster/priority` for a run of `work_s` CPU seconds: -1 for the most work,
    -201 for the least; more work, never a lower priority."""
    clamped = min(max(work_s, _LEAST_S), _MOST_S)
    return round(_STEPS_PER_DECADE * math.log10(clamped / _MOST_S)) - 1
