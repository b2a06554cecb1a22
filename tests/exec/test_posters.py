"""Poster frames and contact sheets: the middle frame of each committed proxy, made by the job's
engine after the verdict, never changing it; HTML that shows any file name as text."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import av
import pytest

from proxx_exec import ExecutionResult, JobSpec, Status, execute
from proxx_exec.naming import contact_sheet_path, posters_dir
from proxx_exec.process import ENGINE_ENVIRONMENT
from proxx_exec.tools.posters import make_posters, plan_poster, poster_frame, poster_size
from proxx_exec.tools.sheets import posters_with_contact_sheet
from tests.conftest import SpecFactory
from tests.corpus import Corpus
from tests.helpers import REAL_ENGINE, Media, proxx, sha256


def frame_by_index(argv: tuple[str, ...], index: int, output: Path) -> Path:
    """The poster's own command, but decoding from the start and keeping frame `index` (select
    by frame number): what the poster must show, made independently of the seek."""
    command = list(argv)
    if "-ss" in command:
        at = command.index("-seek_timestamp")
        del command[at : at + 4]
    graph = command.index("-filter:v") + 1
    command[graph] = f"select=eq(n\\,{index})," + command[graph]
    command[-1] = f"file:{output}"
    completed = subprocess.run(
        command, executable=REAL_ENGINE, env=ENGINE_ENVIRONMENT, capture_output=True, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    return output


def completed_job(make_spec: SpecFactory, sources: list[Path], **fields: object) -> ExecutionResult:
    result = execute(make_spec(sources, **fields))
    assert result.status is Status.COMPLETED, result.failure
    return result


@pytest.mark.parametrize(
    "source",
    [
        "prores_2997_drop_frame.mov",  # 30000/1001, drop-frame timecode
        "mpegts_large_offset.ts",  # timestamps far from zero
        "audio_starts_late.mov",  # the file starts before the first video frame
        "hdv_anamorphic_1440.mov",  # non-square pixels
    ],
)
def test_the_poster_is_the_middle_frame_by_index(
    source: str, corpus: Corpus, make_spec: SpecFactory, tmp_path: Path
) -> None:
    result = completed_job(make_spec, [corpus[source]], profile="h264_half")
    posters = make_posters(result)
    [poster] = posters.posters
    assert poster.problem is None and poster.path is not None
    clip = result.clips[0]
    assert clip.expected is not None
    middle = clip.expected.frame_count // 2
    assert poster.frame == middle
    reference = frame_by_index(plan_poster(result, clip).argv, middle, tmp_path / "ref.png")
    neighbour = frame_by_index(plan_poster(result, clip).argv, middle + 1, tmp_path / "next.png")
    assert sha256(Path(poster.path)) == sha256(reference) == poster.sha256
    assert sha256(reference) != sha256(neighbour)  # the comparison can tell frames apart


def test_posters_keep_the_display_shape_and_stay_small(
    corpus: Corpus, make_spec: SpecFactory
) -> None:
    result = completed_job(
        make_spec,
        [corpus["hdv_anamorphic_1440.mov"], corpus["phone_h264_rotated_vfr.mov"]],
        profile="h264_half",
    )
    sizes = []
    for clip, poster in zip(result.clips, make_posters(result).posters, strict=True):
        assert clip.expected is not None and poster.path is not None
        with av.open(poster.path) as container:
            stream = container.streams.video[0]
            sizes.append((stream.codec_context.width, stream.codec_context.height))
        assert sizes[-1] == poster_size(clip.expected)
    # 1440x1080 with 4:3 pixels is 16:9 on screen; the phone clip is upright (portrait)
    assert sizes[0] == (320, 180)
    assert sizes[1][0] < sizes[1][1] and sizes[1][0] <= 320
    # variable frame rate: no frame index, the first frame at or after the middle of the span
    assert poster_frame(result.clips[1].expected)[0] is None  # type: ignore[arg-type]


def test_posters_change_nothing_in_the_result_and_never_overwrite(
    media: Media, make_spec: SpecFactory, out_dir: Path
) -> None:
    result = completed_job(make_spec, [media.standard])
    record = out_dir / "test-job.proxx-result.json"
    before = record.read_bytes()
    first = posters_with_contact_sheet(result)
    assert first.problems == [] and first.contact_sheet == contact_sheet_path(
        str(out_dir), "test-job"
    )
    assert record.read_bytes() == before
    assert ExecutionResult.from_json(before) == result
    # made again: nothing is replaced, and the reason is said
    again = make_posters(result)
    assert again.posters[0].path is None
    assert "already exists; posters are never overwritten" in (again.posters[0].problem or "")
    assert sorted(p.name for p in Path(posters_dir(str(out_dir), "test-job")).iterdir()) == [
        "0001_A001C001.mov.png"
    ]


def test_a_changed_proxy_gets_no_poster_and_the_result_stays(
    media: Media, make_spec: SpecFactory, out_dir: Path
) -> None:
    result = completed_job(make_spec, [media.standard, media.clip("B002.mov")])
    Path(result.clips[1].output or "").write_bytes(b"not the verified proxy")
    posters = make_posters(result)
    assert posters.posters[0].problem is None
    assert posters.posters[1].path is None
    assert posters.problems == [
        "clip 2: the proxy is no longer the verified file (its SHA-256 changed)"
    ]
    assert ExecutionResult.from_json((out_dir / "test-job.proxx-result.json").read_bytes()) == (
        result
    )


def test_a_failed_job_gets_no_poster(media: Media, make_spec: SpecFactory) -> None:
    result = execute(make_spec([media.standard], clip_timeout_s=1, engine="/nonexistent/ffmpeg"))
    assert result.status is Status.FAILED
    posters = posters_with_contact_sheet(result)
    assert posters.posters == () and posters.contact_sheet is None
    assert posters.problem == "posters are made only of a COMPLETED job's proxies"


def test_another_engine_makes_no_posters(
    media: Media, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """Posters come from the engine that made the proxies, identified by its SHA-256."""
    engine = tmp_path / "ffmpeg-copy"
    shutil.copy2(REAL_ENGINE, engine)
    result = completed_job(make_spec, [media.standard], engine=str(engine))
    with engine.open("ab") as tail:
        tail.write(b"\0")  # the same path, another binary
    posters = make_posters(result)
    assert posters.posters == ()
    assert "is not the one that made the proxies" in (posters.problem or "")


def test_the_contact_sheet_shows_hostile_file_names_as_text(
    media: Media, make_spec: SpecFactory, tmp_path: Path, out_dir: Path
) -> None:
    name = "<img src=x onerror=alert(1)> & \"q\" 'a' #1?.mov"
    source = tmp_path / name
    shutil.copyfile(media.standard, source)
    result = completed_job(make_spec, [source])
    posters = posters_with_contact_sheet(result)
    assert posters.contact_sheet is not None
    page = Path(posters.contact_sheet).read_text()
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page.replace("&gt;", "")
    assert html.escape(name, quote=True) in page
    # the poster link is relative, percent-encoded, and points at the poster
    [src] = [part.split('"')[0] for part in page.split('<img src="')[1:]]
    assert "%3Cimg%20src%3Dx" in src and "%23" in src and "%3F" in src
    target = out_dir / unquote(html.unescape(src))
    assert target.is_file() and target.read_bytes().startswith(b"\x89PNG")


def test_proxx_run_posters_flag(media: Media, tmp_path: Path, out_dir: Path) -> None:
    spec = tmp_path / "job.json"
    spec.write_text(
        json.dumps(
            JobSpec.model_validate(
                {
                    "spec_version": "1",
                    "job_id": "cli-posters",
                    "sources": [str(media.standard)],
                    "output_dir": str(out_dir),
                    "profile": "h264_quarter",
                }
            ).canonical()
        )
    )
    completed = proxx("run", spec, "--posters")
    assert completed.returncode == 0, completed.stderr
    assert f"posters: 1 of 1 in {out_dir / 'cli-posters.proxx-posters'}" in completed.stderr
    assert f"contact sheet: {out_dir / 'cli-posters.proxx-contact-sheet.html'}" in (
        completed.stderr
    )
    assert ExecutionResult.from_json(completed.stdout).completed
