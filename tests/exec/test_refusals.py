"""Refusals a person can act on: the field and the fix in plain words, every missing source at
once, a refusal that does not spend its job_id, and the first steps of the README that work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from proxx_exec import FailureClass, Reason, Status, execute, execute_document
from proxx_exec.naming import REFUSAL_INFIX
from tests.conftest import SpecFactory
from tests.helpers import Media, listing, proxx, write_engine_wrapper


def document(**fields: object) -> bytes:
    base: dict[str, object] = {
        "spec_version": "1",
        "job_id": "day1",
        "sources": ["/media/A001.mov"],
        "output_dir": "/proxies",
        "profile": "h264_half",
    }
    base.update(fields)
    return yaml.safe_dump(base).encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (document(nameing="{index}"), "`nameing` is not a field here; did you mean `naming`?"),
        (document(spec_version=1), '`spec_version` must be the text "1": write it in quotes'),
        (
            document(sources="/media/A001.mov"),
            "`sources` must be a list, even of one: in YAML put each on its own line starting "
            'with "- ", in JSON write ["/media/A001.mov"]',
        ),
        (document(sources=[]), "`sources` is empty: give at least one"),
        (
            document(clip_timeout_s="600"),
            "`clip_timeout_s` must be a whole number, written without quotes (you wrote '600')",
        ),
        (document(job_id="day 1"), "`job_id` 'day 1' may hold only letters, digits"),
        (
            document(profile={"name": "mine", "cfr": 23}),
            "`profile.cfr` is not a field here; did you mean `crf`?",
        ),
        (b"- /media/A001.mov\n", "but this document is a list"),
    ],
)
def test_schema_refusals_name_the_field_and_the_fix(raw: bytes, expected: str) -> None:
    result = execute_document(raw)
    assert result.failure is not None
    assert result.failure.failure_class is FailureClass.VALIDATION
    assert expected in result.failure.message.splitlines()[0] or expected in result.failure.message
    assert (
        "valid tuple" not in result.failure.message and "Input should" not in result.failure.message
    )


def test_a_misspelt_profile_gets_the_closest_name(make_spec: SpecFactory, media: Media) -> None:
    result = execute(make_spec([media.standard], profile="h264_hlaf"))
    assert result.failure is not None and result.failure.reason is Reason.PROFILE_UNKNOWN
    assert "did you mean h264_half?" in result.failure.message


def test_every_missing_source_is_listed_at_once(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    sources = [tmp_path / "A001.mov", media.standard, tmp_path / "A003.mov", tmp_path / "A004.mov"]
    result = execute(make_spec(sources))
    assert result.failure is not None and result.failure.reason is Reason.SOURCE_MISSING
    message = result.failure.message
    assert message.startswith(f"3 of 4 sources do not exist, the first clip 1: {sources[0]}")
    for number, path in ((1, sources[0]), (3, sources[2]), (4, sources[3])):
        assert f"clip {number}: {path}" in message
    assert f"clip 2: {media.standard}" not in message


def test_a_refusal_does_not_spend_the_job_id_a_run_does(
    make_spec: SpecFactory, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    refused = execute(make_spec([media.standard, tmp_path / "missing.mov"]))
    assert refused.failure is not None and refused.failure.reason is Reason.SOURCE_MISSING
    [record] = listing(out_dir)
    assert record.startswith(f"test-job{REFUSAL_INFIX}")  # on record, under a free name
    fixed = execute(make_spec([media.standard]))  # same job_id, corrected
    assert fixed.status is Status.COMPLETED, fixed.failure
    again = execute(make_spec([media.standard]))
    assert again.failure is not None and again.failure.reason is Reason.OUTPUT_EXISTS
    assert "already ran" in again.failure.message
    assert sorted(listing(out_dir)) == sorted(
        [record, "A001C001.mov", "test-job.proxx-result.json", *_refusals(out_dir, record)]
    )


def _refusals(folder: Path, known: str) -> list[str]:
    return [n for n in listing(folder) if REFUSAL_INFIX in n and n != known]


def test_a_job_that_failed_while_running_spends_its_job_id(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed.mov"
    doomed.write_bytes(media.standard.read_bytes())
    spec = make_spec([doomed], clip_timeout_s=1, engine=str(_slow_engine(tmp_path)))
    failed = execute(spec)
    assert failed.failure is not None
    assert failed.failure.failure_class is FailureClass.EXECUTION
    again = execute(make_spec([doomed]))
    assert again.failure is not None and again.failure.reason is Reason.OUTPUT_EXISTS


def _slow_engine(folder: Path) -> Path:
    return write_engine_wrapper(folder, 'case "$*" in *-c:v*) sleep 30;; esac\nexec "$REAL" "$@"')


def test_rerunning_a_job_from_the_shell_says_so_plainly(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.json"
    spec_file.write_text(json.dumps(make_spec([media.standard]).canonical()))
    first = proxx("run", spec_file)
    assert first.returncode == 0, first.stderr
    second = proxx("run", spec_file)
    assert second.returncode == 1
    assert "OUTPUT_EXISTS" in second.stderr and "already ran" in second.stderr
    assert "Errno" not in second.stderr and "Traceback" not in second.stderr


def test_samples_make_their_folder_and_a_jobspec_that_runs(tmp_path: Path) -> None:
    folder = tmp_path / "shoot" / "day1"
    made = proxx("samples", folder, "--count", "2", "--seconds", "0.4")
    assert made.returncode == 0, made.stderr
    clips = made.stdout.split()
    assert clips == [str(folder / "A001C001.mov"), str(folder / "A002C001.mov")]
    spec_file = folder / "proxx-job.json"
    assert f"run {spec_file}" in made.stderr
    ran = proxx("run", spec_file)
    assert ran.returncode == 0, ran.stderr
    assert {"A001C001.mov", "A002C001.mov"} <= set(listing(folder / "proxies"))


def test_profiles_fit_80_columns_without_breaking_a_name() -> None:
    profiles = proxx("profiles", COLUMNS="80")
    assert profiles.returncode == 0, profiles.stderr
    shown = profiles.stdout
    assert max(len(line) for line in shown.splitlines()) <= 80
    for name in ("prores_proxy", "prores_lt", "dnxhr_lb", "h264_half", "h264_quarter"):
        assert name in shown
    assert "yuv422p10le" in shown and "pcm_s16le" in shown


def _refused(tmp_path: Path, reason: Reason, **fields: object) -> str:
    """A JobSpec a person wrote, refused both ways they meet it: `proxx validate` (what they
    read) and the ExecutionResult a run records (a Dagster step's, a result file's): class
    VALIDATION, `reason`, the same words. Returns the words as `proxx validate` shows them."""
    raw = document(**fields)
    spec_file = tmp_path / "job.yaml"
    spec_file.write_bytes(raw)
    refused = proxx("validate", spec_file)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr and "Errno" not in refused.stderr
    assert refused.stderr.startswith(f"invalid VALIDATION {reason.value}\n"), refused.stderr
    result = execute_document(raw)
    failure = result.failure
    assert failure is not None
    assert (failure.failure_class, failure.reason) == (FailureClass.VALIDATION, reason)
    assert failure.message in refused.stderr
    return refused.stderr


def test_a_windows_path_is_called_one_and_shown_as_written(tmp_path: Path) -> None:
    shown = _refused(tmp_path, Reason.SPEC_INVALID, sources=["D:\\Media\\Day1\\A001C001.mov"])
    assert (
        '`sources` item 1: "D:\\Media\\Day1\\A001C001.mov" is a Windows path, but proxx reads '
        "files by this machine's paths: give the path where this machine mounts that drive, "
        "starting with / (e.g. /mnt/<drive>/Media/Day1/A001C001.mov)"
    ) in shown
    assert "\\\\" not in shown and "not an absolute path" not in shown
    share = _refused(tmp_path, Reason.SPEC_INVALID, output_dir="\\\\nas\\proxies\\Day1")
    assert "mounts that share" in share and "/mnt/<share>/Day1" in share
    relative = _refused(tmp_path, Reason.SPEC_INVALID, sources=["media/A001.mov"])
    assert '"media/A001.mov" is a relative path: give the whole path, starting with /' in relative


def test_a_folder_given_as_a_source_is_called_a_folder(tmp_path: Path) -> None:
    card = tmp_path / "A001"
    card.mkdir()
    shown = _refused(
        tmp_path, Reason.SOURCE_UNREADABLE, sources=[str(card)], output_dir=str(tmp_path / "out")
    )
    assert f"clip 1: source {card} is a folder, not a clip: list each clip file in it" in shown
    assert "proxx_folder_job in Dagster takes a whole folder" in shown
    assert "permission" not in shown


def test_a_half_copied_clip_says_the_copy_may_be_unfinished(media: Media, tmp_path: Path) -> None:
    half = tmp_path / "A001C001.mov"
    whole = media.standard.read_bytes()
    half.write_bytes(whole[: len(whole) // 2])  # the index (moov) comes last: not yet copied
    shown = _refused(
        tmp_path, Reason.SOURCE_NOT_MEDIA, sources=[str(half)], output_dir=str(tmp_path / "out")
    )
    assert (
        f"clip 1: source {half} does not open as media (FFmpeg: Invalid data found when "
        "processing input). If it was just copied, the copy may be unfinished: it holds "
        f"{len(whole) // 2:,} bytes, so compare that with the original's size, then wait for "
        "the copy to end or copy it again"
    ) in shown
    assert "1094995529" not in shown


@pytest.mark.parametrize("written", ["H264_HALF", "h264-half", "H264 Half", "h264_hallf"])
def test_a_profile_in_capitals_or_misspelt_gets_its_name(
    media: Media, tmp_path: Path, written: str
) -> None:
    shown = _refused(
        tmp_path,
        Reason.PROFILE_UNKNOWN,
        sources=[str(media.standard)],
        output_dir=str(tmp_path / "out"),
        profile=written,
    )
    assert f"unknown profile {written!r}; did you mean h264_half? The built-in profiles" in shown


def test_a_file_that_is_no_jobspec_is_called_what_it_is(media: Media, tmp_path: Path) -> None:
    """A clip, a folder or a huge file given where the JobSpec goes: `proxx validate` says
    what it is, and `proxx run`'s result says the same (SPEC_UNREADABLE), no OS error text,
    no false size, no `None` for the job_id it could not read."""
    card = tmp_path / "A001"
    card.mkdir()
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (20 << 20))
    for given, words in (
        (media.standard, "A JobSpec is a JSON or YAML text file that names the clips; if this "),
        (card, f"{card} is a folder, not a JobSpec file: give the JSON or YAML file that names"),
        (huge, "JobSpec is larger than 16 MiB, the limit for a JobSpec: it names clips by their"),
    ):
        refused = proxx("validate", given)
        assert refused.returncode == 1 and "invalid VALIDATION SPEC_UNREADABLE\n" in refused.stderr
        assert words in refused.stderr, refused.stderr
        ran = proxx("run", given)
        assert ran.returncode == 1
        assert "FAILED (no job_id read): VALIDATION SPEC_UNREADABLE" in ran.stderr
        failure = json.loads(ran.stdout)["failure"]
        assert failure["reason"] == "SPEC_UNREADABLE" and words in failure["message"]
        for wrong in ("Is a directory", "bytes; the limit", "None", "Errno", "Traceback"):
            assert wrong not in ran.stderr, ran.stderr


def test_a_jobspec_given_for_a_result_is_called_a_jobspec(tmp_path: Path) -> None:
    """`proxx reproduce` on the JobSpec instead of its result: not 'the record was changed'."""
    spec_file = tmp_path / "job.json"
    spec_file.write_text(json.dumps(yaml.safe_load(document())))
    refused = proxx("reproduce", spec_file)
    assert refused.returncode == 3, refused.stderr
    assert (
        f"refused, nothing was run: {spec_file}: is a JobSpec, not a result: give the result a "
        "run of it wrote (<output_dir>/<job_id>.proxx-result.json); `proxx run` runs a JobSpec"
    ) in " ".join(refused.stderr.split())
    assert "changed" not in refused.stderr


def test_a_windows_engine_is_not_sent_to_a_mount(media: Media, tmp_path: Path) -> None:
    """A Windows FFmpeg cannot run here wherever its drive is mounted: the refusal says to name
    this machine's binary or to leave the pinned engine."""
    shown = _refused(
        tmp_path,
        Reason.SPEC_INVALID,
        sources=[str(media.standard)],
        engine="C:\\ffmpeg\\bin\\ffmpeg.exe",
    )
    assert (
        '`engine`: "C:\\ffmpeg\\bin\\ffmpeg.exe" is a Windows path, and a Windows program cannot '
        "run here: give the absolute path of an FFmpeg binary built for this machine, or leave "
        "`engine` out for the pinned one (imageio-ffmpeg)"
    ) in shown
    assert "mounts" not in shown
