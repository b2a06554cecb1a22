"""Editorial hand-off: an Avid ALE and an FCPXML beside a COMPLETED job's proxies, each written
whole or not at all (`files.write_new_file`) and never over an existing file.

Everything comes from the ExecutionResult: per committed clip, the proxy's name, the source's
timecode and reel name carried over (`expected.timecode`, `expected.reel_name`), its frame rate
and frame count, its audio streams and channels.

ALE: through OpenTimelineIO's ALE adapter (`otio-ale-adapter`), which serves: one FPS per file,
Start/End/Duration as timecodes. Two limits of the format and the adapter are said, not hidden:
an ALE holds one frame rate (a job mixing rates gets no ALE), and the adapter writes every
29.97 timecode as drop-frame (a 29.97 non-drop-frame clip gets no ALE).

FCPXML: written here with the standard library's ElementTree, not through
`otio-fcpx-xml-adapter` 1.0.0, which cannot serve: its writer looks a format's frameDuration up
by a rounded rate (29.97), while start times need the exact 30000/1001 (so an NTSC clip gets no
format or starts off the frame grid), it runs `ffprobe` found on PATH to name formats, and it
writes no reel, no audio layout and no drop-frame flag; its reader truncates rates to integers
(29.97 becomes 29). OpenTimelineIO's timecode arithmetic (`opentime`) makes the times of both
files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path, PurePosixPath

import opentimelineio as otio
from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.expected import ExpectedOutput
from proxx_exec.failures import clip_label
from proxx_exec.files import write_new_file
from proxx_exec.naming import ale_path, fcpxml_path
from proxx_exec.result import ClipResult, ClipState, ExecutionResult

_FROZEN = ConfigDict(frozen=True, extra="forbid")
ALE_COLUMNS = ["Name", "Tape", "Start", "End", "Duration", "FPS", "Tracks", "Source File"]
FCPXML_VERSION = "1.8"
REEL_KEY = "com.apple.proapps.studio.reel"  # Final Cut Pro's reel metadata
NO_TIMECODE = "00:00:00:00"  # a clip without timecode starts here, as editing systems show it
# How editors write the NTSC rates; other rates are whole numbers.
_NOMINAL = {
    Fraction(24000, 1001): "23.976",
    Fraction(30000, 1001): "29.97",
    Fraction(60000, 1001): "59.94",
}


class Editorial(BaseModel):
    """The editorial files written for one job, and why any was not."""

    model_config = _FROZEN

    ale: str | None = Field(description="The ALE file (None: not written).")
    fcpxml: str | None = Field(description="The FCPXML file (None: not written).")
    problems: tuple[str, ...] = Field(description="Why a file was not written, in plain words.")


class EditorialProblem(ValueError):
    """A job's clips cannot be said in one of the formats; the message says why."""


class Shot:
    """One committed clip as editorial sees it."""

    def __init__(self, clip: ClipResult, expected: ExpectedOutput) -> None:
        self.clip = clip
        self.expected = expected
        if expected.frame_rate is None:
            raise EditorialProblem(
                f"{clip_label(clip.index)} has a variable frame rate: it has no timecode rate"
            )
        self.rate = Fraction(expected.frame_rate)
        exact = otio.opentime.RationalTime.nearest_smpte_timecode_rate(float(self.rate))
        if abs(exact - float(self.rate)) > 1e-6:
            raise EditorialProblem(
                f"{clip_label(clip.index)}: {expected.frame_rate} fps is no SMPTE timecode rate"
            )
        self.exact_rate: float = exact
        self.timecode = expected.timecode or NO_TIMECODE
        self.drop_frame = ";" in self.timecode
        start = otio.opentime.from_timecode(self.timecode, exact)
        self.start_frame = round(start.value)
        self.frames = expected.frame_count

    @property
    def name(self) -> str:
        return PurePosixPath(self.clip.source).stem

    @property
    def proxy(self) -> str:
        assert self.clip.output is not None
        return self.clip.output

    @property
    def nominal_rate(self) -> str:
        return _NOMINAL.get(self.rate, str(self.rate))

    @property
    def channels(self) -> int:
        return sum(audio.channels for audio in self.expected.audio)

    def tracks(self) -> str:
        """Avid's Tracks column: V, then one A per audio channel (VA1A2A3)."""
        return "V" + "".join(f"A{n}" for n in range(1, self.channels + 1))


def shots(result: ExecutionResult) -> list[Shot]:
    """The committed clips of a COMPLETED result, in order."""
    return [
        Shot(clip, clip.expected)
        for clip in result.clips
        if clip.state is ClipState.COMMITTED and clip.expected is not None and clip.output
    ]


def ale_text(job_id: str, clips: list[Shot]) -> str:
    """The ALE of the clips, through OpenTimelineIO's ALE adapter."""
    rates = sorted({shot.nominal_rate for shot in clips})
    if len(rates) != 1:
        raise EditorialProblem(
            f"the clips have {len(rates)} frame rates ({', '.join(rates)}); an ALE holds one"
        )
    if any(shot.rate == Fraction(30000, 1001) and not shot.drop_frame for shot in clips):
        raise EditorialProblem(
            "a 29.97 clip has non-drop-frame timecode, which the ALE adapter would write as "
            "drop-frame"
        )
    # The adapter writes a timecode at the FPS it is given: the times are made at that rate.
    fps = float(Fraction(rates[0]))
    collection = otio.schema.SerializableCollection(name=job_id)
    for shot in clips:
        start = otio.opentime.RationalTime(shot.start_frame, fps)
        clip = otio.schema.Clip(
            name=shot.name,
            source_range=otio.opentime.TimeRange(
                start, otio.opentime.RationalTime(shot.frames, fps)
            ),
        )
        clip.media_reference = otio.schema.ExternalReference(
            target_url=PurePosixPath(shot.proxy).name
        )
        clip.metadata["ALE"] = {
            "Tape": shot.expected.reel_name or "",
            "FPS": shot.nominal_rate,
            "Tracks": shot.tracks(),
        }
        collection.append(clip)
    text: str = otio.adapters.write_to_string(collection, "ale", columns=list(ALE_COLUMNS), fps=fps)
    return text


def _seconds(frames: int, rate: Fraction) -> str:
    """A time as FCPXML writes it: rational seconds, '<n>/<d>s' or '<n>s'."""
    value = Fraction(frames) / rate
    return f"{value.numerator}s" if value.denominator == 1 else f"{value}s"


def fcpxml_text(job_id: str, clips: list[Shot]) -> str:
    """The FCPXML of the clips: one event, one asset and asset-clip per clip, with its start
    timecode (and DF or NDF), its reel and its audio layout."""
    root = ET.Element("fcpxml", version=FCPXML_VERSION)
    resources = ET.SubElement(root, "resources")
    event = ET.SubElement(root, "event", name=f"proxx job {job_id}")
    formats: dict[tuple[Fraction, int, int], str] = {}
    next_id = iter(range(1, 2 * len(clips) + 1))
    for shot in clips:
        expected = shot.expected
        key = (shot.rate, expected.width, expected.height)
        if key not in formats:
            formats[key] = f"r{next(next_id)}"
            ET.SubElement(
                resources,
                "format",
                id=formats[key],
                frameDuration=_seconds(1, shot.rate),
                width=str(expected.width),
                height=str(expected.height),
            )
        asset_id = f"r{next(next_id)}"
        start, duration = _seconds(shot.start_frame, shot.rate), _seconds(shot.frames, shot.rate)
        audio = {
            "hasAudio": "1" if expected.audio else "0",
            **(
                {
                    "audioSources": str(len(expected.audio)),
                    "audioChannels": str(shot.channels),
                    "audioRate": str(expected.audio[0].sample_rate),
                }
                if expected.audio
                else {}
            ),
        }
        attributes = {
            "id": asset_id,
            "name": shot.name,
            "src": PurePosixPath(shot.proxy).as_uri(),
            "start": start,
            "duration": duration,
            "hasVideo": "1",
            "format": formats[key],
            **audio,
        }
        ET.SubElement(resources, "asset", attributes)
        asset_clip = ET.SubElement(
            event,
            "asset-clip",
            name=shot.name,
            ref=asset_id,
            format=formats[key],
            start=start,
            duration=duration,
            tcFormat="DF" if shot.drop_frame else "NDF",
        )
        metadata = ET.SubElement(asset_clip, "metadata")
        if expected.reel_name:
            ET.SubElement(metadata, "md", key=REEL_KEY, value=expected.reel_name)
        layout = " + ".join(
            f"{audio.channels}ch {audio.layout or 'unstated'}" for audio in expected.audio
        )
        ET.SubElement(metadata, "md", key="proxx.audio_layout", value=layout or "none")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'


def _write(path: str, make: Callable[[], str]) -> str | None:
    """Write one file whole, never over another; the problem in words, or None."""
    try:
        write_new_file(Path(path), make())
    except EditorialProblem as problem:
        return f"{Path(path).name} not written: {problem}"
    except FileExistsError:
        return f"{path} already exists; it is never overwritten"
    except (OSError, ValueError) as error:
        return f"{path} not written: {error}"
    return None


def write_editorial(result: ExecutionResult) -> Editorial:
    """The ALE and FCPXML of a COMPLETED job, beside its result. Never raises for their own
    trouble: Editorial.problems says what was not written and why."""
    spec = result.spec
    assert spec is not None and result.completed
    try:
        clips = shots(result)
    except EditorialProblem as problem:
        return Editorial(ale=None, fcpxml=None, problems=(f"no ALE, no FCPXML: {problem}",))
    paths = (ale_path(spec.output_dir, spec.job_id), fcpxml_path(spec.output_dir, spec.job_id))
    problems = [
        _write(paths[0], lambda: ale_text(spec.job_id, clips)),
        _write(paths[1], lambda: fcpxml_text(spec.job_id, clips)),
    ]
    written = [
        path if problem is None else None for path, problem in zip(paths, problems, strict=True)
    ]
    return Editorial(
        ale=written[0],
        fcpxml=written[1],
        problems=tuple(problem for problem in problems if problem is not None),
    )
