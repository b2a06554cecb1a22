"""Every validation reason: FAILED, class VALIDATION, its own reason code, a message a person
understands, the engine never started to encode, and nothing written but the result file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from proxx_exec import FailureClass, JobSpec, Reason, Status, engines, execute, execute_document
from proxx_exec.naming import REFUSAL_INFIX
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import (
    REAL_ENGINE,
    Media,
    engine_calls,
    listing,
    unavailable,
    write_engine_wrapper,
)


def assert_invalid(result_status: Status, failure: object, reason: Reason, *words: str) -> None:
    assert result_status is Status.FAILED
    assert failure is not None
    assert failure.failure_class is FailureClass.VALIDATION  # type: ignore[attr-defined]
    assert failure.reason is reason, failure  # type: ignore[attr-defined]
    for word in words:
        assert word in failure.message, failure.message  # type: ignore[attr-defined]


def run_invalid(spec: JobSpec, reason: Reason, *words: str) -> None:
    before = listing(Path(spec.output_dir)) if Path(spec.output_dir).is_dir() else None
    result = execute(spec)
    assert_invalid(result.status, result.failure, reason, *words)
    assert all(clip.state == "NOT_RUN" for clip in result.clips)
    if before is not None:
        # Only the refusal's own record, under a name that does not spend the job_id.
        written = set(listing(Path(spec.output_dir))) - set(before)
        assert all(name.startswith(f"{spec.job_id}{REFUSAL_INFIX}") for name in written)
        assert len(written) <= 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"colour": "red"}, ["`colour` is not a field here"]),
        ({"sources": ["relative/clip.mov"]}, ["`sources` item 1", "is a relative path"]),
        ({"sources": []}, ["sources"]),
        ({"job_id": "../escape"}, ["job_id"]),
        ({"clip_timeout_s": 0}, ["clip_timeout_s"]),
        ({"clip_timeout_s": "600"}, ["clip_timeout_s"]),
        ({"spec_version": "2"}, ["spec_version"]),
        ({"engine": "ffmpeg"}, ["engine", "is a relative path"]),
        ({"output_dir": "/tmp/a\nb"}, ["output_dir", "line breaks"]),
    ],
)
def test_schema_errors_name_the_field(change: dict[str, object], words: list[str]) -> None:
    document = {
        "spec_version": "1",
        "job_id": "j",
        "sources": ["/m/a.mov"],
        "output_dir": "/p",
        "profile": "h264_half",
        **change,
    }
    result = execute_document(json.dumps(document).encode())
    assert_invalid(result.status, result.failure, Reason.SPEC_INVALID, *words)
    assert result.spec is None and result.clips == []


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xff\xfe not utf-8", ["UTF-8"]),
        (b"{ broken json", ["JSON"]),
        (b"key: [unclosed", ["YAML"]),
        (b"- just\n- a list\n", []),
        (b"x" * (16 * 1024 * 1024 + 1), ["limit"]),
        (b"[" * 100_000 + b"]" * 100_000, ["JSON"]),
    ],
)
def test_unreadable_documents(raw: bytes, words: list[str]) -> None:
    result = execute_document(raw)
    assert result.status is Status.FAILED and result.failure is not None
    assert result.failure.reason in {Reason.SPEC_UNREADABLE, Reason.SPEC_INVALID}
    for word in words:
        assert word in result.failure.message


def test_unknown_profile(media: Media, make_spec: SpecFactory) -> None:
    run_invalid(
        make_spec([media.standard], profile="prores_mega"),
        Reason.PROFILE_UNKNOWN,
        "prores_mega",
        "h264_half",
    )


def test_incompatible_custom_profile_is_rejected_with_reasons() -> None:
    custom = {
        "name": "bad",
        "container": "mp4",
        "video_codec": "prores_ks",
        "codec_profile": "proxy",
        "pix_fmt": "yuv420p",
        "scale_divisor": 2,
        "scaler": "bicubic",
        "threads": 1,
        "audio_codec": "pcm_s16le",
    }
    document = {
        "spec_version": "1",
        "job_id": "j",
        "sources": ["/m/a.mov"],
        "output_dir": "/p",
        "profile": custom,
    }
    result = execute_document(json.dumps(document).encode())
    assert_invalid(
        result.status,
        result.failure,
        Reason.PROFILE_INVALID,
        "pix_fmt",
        "cannot hold prores_ks",
        "cannot hold pcm_s16le",
        "reel name",
    )


def test_source_missing(make_spec: SpecFactory, tmp_path: Path) -> None:
    run_invalid(make_spec([tmp_path / "nope.mov"]), Reason.SOURCE_MISSING, "nope.mov")


def test_source_is_a_folder(make_spec: SpecFactory, tmp_path: Path) -> None:
    run_invalid(make_spec([tmp_path]), Reason.SOURCE_UNREADABLE)


@pytest.mark.parametrize(("content", "word"), [(b"", "empty"), (b"hello, not media\n" * 50, "")])
def test_source_not_media(
    make_spec: SpecFactory, tmp_path: Path, content: bytes, word: str
) -> None:
    source = tmp_path / "fake.mov"
    source.write_bytes(content)
    run_invalid(make_spec([source]), Reason.SOURCE_NOT_MEDIA, "fake.mov", word)


def test_source_audio_only(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    subprocess.run(
        [
            str(REAL_ENGINE),
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            str(wav),
        ],
        check=True,
    )
    run_invalid(make_spec([wav]), Reason.SOURCE_NO_VIDEO, "no video")


def test_truncated_source_without_index_is_not_media(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    source = tmp_path / "cut.mov"
    data = media.standard.read_bytes()
    source.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    run_invalid(make_spec([source]), Reason.SOURCE_NOT_MEDIA)


def test_output_dir_is_made_by_a_job_that_runs_never_by_a_refusal(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    refused = tmp_path / "refused" / "day1"
    run_invalid(
        make_spec([media.standard, tmp_path / "gone.mov"], output_dir=str(refused)),
        Reason.SOURCE_MISSING,
    )
    assert not (tmp_path / "refused").exists()
    made = tmp_path / "proxies" / "day1"
    result = execute(make_spec([media.standard], output_dir=str(made)))
    assert result.status is Status.COMPLETED, result.failure
    assert listing(made) == ["A001C001.mov", "test-job.proxx-result.json"]


def test_output_dir_under_a_file(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    run_invalid(
        make_spec([media.standard], output_dir=str(tmp_path / "notes.txt" / "day1")),
        Reason.OUTPUT_DIR_MISSING,
        "notes.txt is a file",
    )


def test_output_dir_not_writable(make_spec: SpecFactory, media: Media) -> None:
    # /proc/sys is read-only even for root, so this holds whoever runs the suite.
    if os.access("/proc/sys", os.W_OK):
        unavailable("/proc/sys is writable on this machine; no read-only folder to use")
    run_invalid(make_spec([media.standard], output_dir="/proc/sys"), Reason.OUTPUT_DIR_NOT_WRITABLE)


@pytest.mark.parametrize(
    "template",
    [
        "{source_stem}_{reel}",
        "{source_stem!r}",
        "{index:>9}",
        "{",
        "{0}",
        "{source_stem}\x07",
        "{job_id}{job_id}",
    ],
)
def test_naming_invalid(make_spec: SpecFactory, media: Media, template: str) -> None:
    # With a 128-character job_id, "{job_id}{job_id}" makes a name over 255 bytes.
    spec = make_spec([media.standard], naming=template, job_id="j" * 128)
    run_invalid(spec, Reason.NAMING_INVALID)


@pytest.mark.parametrize(
    "template",
    ["../{source_stem}", "sub/{source_stem}", ".{source_stem}", "..", "/abs/{source_stem}"],
)
def test_path_escape(make_spec: SpecFactory, media: Media, template: str, out_dir: Path) -> None:
    run_invalid(make_spec([media.standard], naming=template), Reason.PATH_ESCAPE)
    assert not (out_dir.parent / "A001C001.mov").exists()


def test_two_clips_one_output(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    twin = tmp_path / "other"
    twin.mkdir()
    copy = twin / media.standard.name
    copy.write_bytes(media.standard.read_bytes())
    run_invalid(make_spec([media.standard, copy]), Reason.OUTPUT_COLLISION, "clips 1 and 2")


def test_case_only_collision(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    upper = tmp_path / "A001C001.MOV"
    upper.write_bytes(media.standard.read_bytes())
    lower = tmp_path / "a001c001.mov"
    lower.write_bytes(media.standard.read_bytes())
    run_invalid(make_spec([upper, lower]), Reason.OUTPUT_COLLISION)


def test_existing_output_is_never_overwritten(
    make_spec: SpecFactory, media: Media, out_dir: Path
) -> None:
    existing = out_dir / "A001C001.mov"
    existing.write_bytes(b"an editor's proxy")
    run_invalid(make_spec([media.standard]), Reason.OUTPUT_EXISTS, "never overwrites")
    assert existing.read_bytes() == b"an editor's proxy"


def test_existing_result_means_job_already_ran(
    make_spec: SpecFactory, media: Media, out_dir: Path
) -> None:
    first = execute(make_spec([media.standard]))
    assert first.status is Status.COMPLETED
    (out_dir / "A001C001.mov").unlink()
    before = (out_dir / "test-job.proxx-result.json").read_bytes()
    run_invalid(make_spec([media.standard]), Reason.OUTPUT_EXISTS, "retried_from")
    assert (out_dir / "test-job.proxx-result.json").read_bytes() == before


def test_staging_debris_is_reported_by_name(
    make_spec: SpecFactory, media: Media, out_dir: Path
) -> None:
    debris = out_dir / ".proxx-staging-test-job"
    debris.mkdir()
    (debris / "A001C001.mov").write_bytes(b"half")
    run_invalid(make_spec([media.standard]), Reason.STAGING_EXISTS, str(debris))
    assert (debris / "A001C001.mov").read_bytes() == b"half"


def test_engine_missing(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    run_invalid(
        make_spec([media.standard], engine=str(tmp_path / "no-ffmpeg")),
        Reason.ENGINE_UNAVAILABLE,
        "does not exist",
    )


def test_engine_not_executable(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    binary = tmp_path / "ffmpeg"
    binary.write_bytes(b"not a program")
    run_invalid(
        make_spec([media.standard], engine=str(binary)), Reason.ENGINE_UNAVAILABLE, "not executable"
    )


def test_engine_is_the_wrong_program(make_spec: SpecFactory, media: Media) -> None:
    run_invalid(
        make_spec([media.standard], engine="/bin/echo"), Reason.ENGINE_NOT_FFMPEG, "/bin/echo"
    )


def test_engine_that_never_answers_version_is_unavailable(
    make_spec: SpecFactory, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engines, "VERSION_TIMEOUT_S", 1)
    hanging = write_engine_wrapper(tmp_path, "exec sleep 30")
    run_invalid(
        make_spec([media.standard], engine=str(hanging)),
        Reason.ENGINE_UNAVAILABLE,
        "cannot run",
        "timed out after 1 second",
    )


def test_validation_failure_never_starts_an_encode(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    (out_dir / "A001C001.mov").write_bytes(b"x")
    run_invalid(make_spec([media.standard], engine=str(wrapper)), Reason.OUTPUT_EXISTS)
    assert [args for _, args in engine_calls(tmp_path)] == ["-hide_banner -version"]


def test_source_too_small_for_dnxhr(make_spec: SpecFactory, media: Media) -> None:
    small = media.clip("QVGA.mov", SampleClip(width=320, height=240, duration_s=0.2))
    run_invalid(
        make_spec([small], profile="dnxhr_lb"), Reason.SOURCE_UNSUPPORTED, "160x120", "256x120"
    )


def test_too_small_source(make_spec: SpecFactory, media: Media) -> None:
    tiny = media.clip("TINY.mov", SampleClip(width=8, height=8, duration_s=0.2))
    run_invalid(make_spec([tiny], profile="h264_quarter"), Reason.SOURCE_UNSUPPORTED, "small")
