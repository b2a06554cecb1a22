"""Card folders into JobSpecs (`folder_spec`) and `proxx_folder_job`, the launchpad that needs no
JobSpec: a real Dagster instance (SQLite) and real FFmpeg clips."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    JsonMetadataValue,
    TableMetadataValue,
)
from dagster._config import Enum as EnumConfigType

from proxx_dagster.definitions import defs
from proxx_dagster.names import FOLDER_JOB, FOLDER_OP, FOLDER_TAG, PART_OP
from proxx_dagster.no_retry import runs_proxx
from proxx_dagster.watch.cards import scan_folder
from proxx_dagster.watch.folder_spec import FolderProblem, build_folder_job, jobspec_file
from proxx_exec import BUILTIN_PROFILES, ExecutionResult, JobSpec, Status, execute, load_jobspec
from proxx_exec.jobspec import DEFAULT_ENGINE, JOB_ID_PATTERN
from tests.dagster.helpers import output_metadata, step_failure
from tests.helpers import Media, write_engine_wrapper

folder_job = defs.resolve_job_def(FOLDER_JOB)


def card(root: Path, media: Media, name: str, clips: list[str]) -> Path:
    """A card folder holding copies of the standard clip under the given paths."""
    folder = root / name
    for clip in clips:
        target = folder / clip
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media.standard, target)
    return folder


def folder_config(card_folder: Path, /, **change: Any) -> dict[str, Any]:
    config = {"folder": str(card_folder), "profile": "h264_quarter", "proxy_root": "", **change}
    return {"ops": {FOLDER_OP: {"config": config}}}


def launch(
    instance: DagsterInstance,
    card_folder: Path,
    /,
    run_tags: dict[str, str] | None = None,
    **change: Any,
) -> Any:
    return folder_job.execute_in_process(
        run_config=folder_config(card_folder, **change),
        instance=instance,
        tags=run_tags,
        raise_on_error=False,
    )


def only_result(outcome: Any) -> ExecutionResult:
    """The one ExecutionResult of a card run of one job."""
    [result] = outcome.output_for_node(PART_OP).values()
    assert isinstance(result, ExecutionResult)
    return result


def test_scan_takes_every_clip_below_the_card_in_name_order(media: Media, tmp_path: Path) -> None:
    folder = card(
        tmp_path,
        media,
        "A001 día",
        [
            "PRIVATE/M4ROOT/CLIP/C0002.mov",
            "PRIVATE/M4ROOT/CLIP/C0001 take 2.MOV",
            "CLIP/Ünïcode clip.mov",
            "Proxy/C0001.mov",  # the camera's (or our) proxies: never clips
            "proxy/old.mov",
            ".hidden/C0009.mov",
        ],
    )
    (folder / "PRIVATE/M4ROOT/CLIP/C0001M01.XML").write_text("<NonRealTimeMeta/>")
    (folder / "._C0002.mov").write_bytes(b"\0\x05\x16\x07AppleDouble")
    (folder / "notes.mov").write_text("a text file with a video name")
    (folder / "empty.mxf").touch()
    (folder / "link.mov").symlink_to(folder / "CLIP/Ünïcode clip.mov")
    (folder / "linked-dir").symlink_to(folder / "CLIP")
    contents = scan_folder(folder)
    assert [str(m.path.relative_to(folder)) for m in contents.media] == [
        "CLIP/Ünïcode clip.mov",
        "PRIVATE/M4ROOT/CLIP/C0001 take 2.MOV",
        "PRIVATE/M4ROOT/CLIP/C0002.mov",
    ]
    assert {s.path: s.reason for s in contents.skipped} == {
        "._C0002.mov": "hidden",
        ".hidden": "hidden",
        "PRIVATE/M4ROOT/CLIP/C0001M01.XML": "not a video file",
        "empty.mxf": "empty file",
        "link.mov": "symbolic link (never followed)",
        "linked-dir": "symbolic link (never followed)",
        "notes.mov": "named .mov but does not start like a QuickTime/MP4 file",
    }


def test_the_jobspec_is_deterministic_and_its_id_follows_the_content(
    media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "Día 1 - cam A", ["A001.mov", "A002.mov"])
    first = build_folder_job(folder, profile="h264_quarter")
    again = build_folder_job(folder, profile="h264_quarter")
    assert first.parts == again.parts
    [spec] = first.parts  # a card of few clips is one job, named as the card
    assert spec.job_id == first.card_id and spec.job_id.startswith("Dia-1-cam-A-")
    assert JobSpec.model_validate(spec.canonical()) == spec
    assert spec.sources == (str(folder / "A001.mov"), str(folder / "A002.mov"))
    assert spec.output_dir == str(folder / "Proxy")
    other_profile = build_folder_job(folder, profile="prores_proxy").card_id
    mirrored_card = build_folder_job(folder, profile="h264_quarter", proxy_root=str(tmp_path / "p"))
    mirrored = mirrored_card.card_id
    os.utime(folder / "A002.mov", ns=(1, 1))  # same bytes, touched: another state of the card
    touched = build_folder_job(folder, profile="h264_quarter").card_id
    ids = {spec.job_id} | {i for i in (other_profile, mirrored, touched) if i}
    assert len(ids) == 4
    assert mirrored_card.parts[0].output_dir == str(tmp_path / "p" / folder.name)
    assert all(re.fullmatch(JOB_ID_PATTERN, i) for i in ids)
    # PROXX_ENGINE: another engine is another job; the pinned one leaves today's ids as they are
    pinned = build_folder_job(folder, profile="h264_quarter", engine=DEFAULT_ENGINE).card_id
    [other_engine] = build_folder_job(folder, profile="h264_quarter", engine="/opt/ffmpeg").parts
    assert pinned == touched
    assert other_engine.engine == "/opt/ffmpeg"
    assert other_engine.job_id not in ids


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"folder": ""}, "folder is empty"),
        ({"folder": "media/A001"}, 'folder "media/A001" is a relative path'),
        ({"folder": "D:\\Cards\\A001"}, "is a Windows path"),
        ({"folder": "/nonexistent/A001"}, "does not exist"),
        ({"proxy_root": "proxies"}, 'proxy_root "proxies" is a relative path'),
        ({"proxy_root": "{folder}/out"}, "is inside the folder"),
        ({"retried_from": "never-ran"}, "no job or card of that id"),
    ],
)
def test_bad_launchpad_input_is_refused_in_plain_words_before_anything_is_written(
    instance: DagsterInstance, media: Media, tmp_path: Path, change: dict[str, str], words: str
) -> None:
    folder = card(tmp_path, media, "A001", ["A001.mov"])
    config = {k: v.replace("{folder}", str(folder)) for k, v in change.items()}
    outcome = folder_job.execute_in_process(
        run_config=folder_config(folder, **config), instance=instance, raise_on_error=False
    )
    assert not outcome.success
    message = step_failure(instance, outcome.run_id)
    assert message.startswith("dagster._core.definitions.events.Failure: No job was started: ")
    assert words in message
    assert sorted(p.name for p in folder.iterdir()) == ["A001.mov"]


def test_a_card_from_the_launchpad_becomes_verified_proxies_and_a_kept_jobspec(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "A001", ["CLIP/A001C002.mov", "CLIP/A001C001.mov"])
    (folder / "CLIP/A001C001.xml").write_text("<meta/>")
    outcome = launch(instance, folder)
    assert outcome.success
    result = only_result(outcome)
    assert isinstance(result, ExecutionResult) and result.status is Status.COMPLETED
    assert result.spec is not None
    proxies = folder / "Proxy"
    assert [c.output for c in result.clips] == [
        str(proxies / "A001C001.mov"),
        str(proxies / "A001C002.mov"),
    ]
    assert all(Path(c.output or "").is_file() for c in result.clips)
    # The JobSpec kept beside the results is the one that ran, usable with the proxx CLI.
    kept = jobspec_file(proxies, result.spec.job_id)
    assert load_jobspec(kept) == result.spec
    assert result.spec_fingerprint == result.spec.fingerprint
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None
    assert run.tags["proxx/job_id"] == result.spec.job_id
    assert run.tags[FOLDER_TAG] == str(folder)
    metadata = output_metadata(instance, outcome.run_id, PART_OP)
    shown = metadata["proxx/jobspec"]
    assert isinstance(shown, JsonMetadataValue) and shown.data == result.spec.canonical()
    skipped = metadata["proxx/skipped"]
    assert isinstance(skipped, TableMetadataValue)
    assert [(r.data["file"], r.data["reason"]) for r in skipped.records] == [
        ("CLIP/A001C001.xml", "not a video file")
    ]


def test_later_clips_make_a_new_job_and_finished_proxies_are_never_made_again(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "A001", ["A001.mov"])
    assert launch(instance, folder).success
    first = (folder / "Proxy" / "A001.mov").stat()
    nothing_new = launch(instance, folder)
    assert not nothing_new.success
    assert "no new clip" in step_failure(instance, nothing_new.run_id)
    card(tmp_path, media, "A001", ["A002.mov"])
    second = launch(instance, folder)
    assert second.success
    result = only_result(second)
    assert [c.source for c in result.clips] == [str(folder / "A002.mov")]
    again = (folder / "Proxy" / "A001.mov").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    skipped = output_metadata(instance, second.run_id, PART_OP)["proxx/skipped"]
    assert isinstance(skipped, TableMetadataValue)
    [row] = skipped.records
    assert row.data["file"] == "A001.mov"
    assert str(row.data["reason"]).startswith("proxy made by job ")


def test_clips_of_a_failed_job_come_back_only_when_asked(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "B001", ["B001.mov", "B002.mov"])
    (folder / "Proxy").mkdir()
    failing = write_engine_wrapper(
        tmp_path, 'case "$*" in *-c:v*) exit 3;; esac\nexec "$REAL" "$@"'
    )
    failed = execute(
        JobSpec.model_validate(
            {
                "spec_version": "1",
                "job_id": "b001-first",
                "sources": [str(folder / "B001.mov"), str(folder / "B002.mov")],
                "output_dir": str(folder / "Proxy"),
                "profile": "h264_quarter",
                "engine": str(failing),
            }
        )
    )
    assert failed.failure is not None and failed.failure.failure_class.value == "EXECUTION"
    card(tmp_path, media, "B001", ["B003.mov"])
    only_new = launch(instance, folder)
    assert only_new.success
    assert [c.source for c in only_result(only_new).clips] == [str(folder / "B003.mov")]
    skipped = output_metadata(instance, only_new.run_id, PART_OP)["proxx/skipped"]
    assert isinstance(skipped, TableMetadataValue)
    assert all("retried_from: b001-first" in str(r.data["reason"]) for r in skipped.records)
    retried = launch(instance, folder, retried_from="b001-first")
    assert retried.success
    result = only_result(retried)
    assert result.spec is not None and result.spec.retried_from == "b001-first"
    assert [c.source for c in result.clips] == [str(folder / "B001.mov"), str(folder / "B002.mov")]


def test_a_folder_with_a_job_at_work_is_left_alone(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "C001", ["C001.mov"])
    (folder / "Proxy" / ".proxx-staging-other-job").mkdir(parents=True)
    outcome = launch(instance, folder)
    assert "a job is writing proxies into" in step_failure(instance, outcome.run_id)
    shutil.rmtree(folder / "Proxy")
    other = instance.create_run_for_job(
        folder_job, run_config=folder_config(folder), tags={FOLDER_TAG: str(folder)}
    )
    outcome = launch(instance, folder)
    assert f"run {other.run_id} is making proxies of" in step_failure(instance, outcome.run_id)
    assert not (folder / "Proxy").exists()


def test_a_run_launched_for_another_state_of_the_folder_refuses(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "D001", ["D001.mov"])
    outcome = launch(instance, folder, run_tags={"proxx/job_id": "D001-000000000000"})
    assert "the folder changed after it settled" in step_failure(instance, outcome.run_id)
    assert not (folder / "Proxy").exists()


def test_the_folder_job_refuses_to_run_as_a_retry(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "E001", ["E001.mov"])
    outcome = launch(instance, folder, run_tags={"dagster/retry_number": "1"})
    assert "refuses to run a JobSpec again" in step_failure(instance, outcome.run_id)
    assert not (folder / "Proxy").exists()
    assert runs_proxx(folder_job)
    assert folder_job.tags["dagster/max_retries"] == "0"


def test_scaffolded_launchpad_asks_for_folder_profile_and_proxy_root() -> None:
    config_field = folder_job.graph.node_dict[FOLDER_OP].definition.config_field
    assert config_field is not None
    fields = config_field.config_type.fields  # type: ignore[attr-defined]
    required = {name for name, f in fields.items() if f.is_required}
    assert required == {"folder", "profile", "proxy_root"}  # what "Scaffold" fills in
    assert all(f.description for f in fields.values())
    profile = fields["profile"].config_type
    assert isinstance(profile, EnumConfigType)
    assert {v.config_value for v in profile.enum_values} == set(BUILTIN_PROFILES)
    descriptions = {v.config_value: v.description for v in profile.enum_values}
    assert (
        descriptions["h264_half"]
        == "H.264 High (CRF 23, preset fast), half size, 16-bit PCM audio, .mov"
    )
    assert descriptions["prores_proxy"] == "ProRes Proxy, half size, 16-bit PCM audio, .mov"


def test_builder_problems_name_the_fix(media: Media, tmp_path: Path) -> None:
    folder = card(tmp_path, media, "F001", ["F001.mov"])
    (folder / "Proxy").mkdir()
    (folder / "Proxy" / "broken.proxx-result.json").write_text("{ not a result")
    with pytest.raises(FolderProblem, match="restore the file or move it away"):
        build_folder_job(folder)
    with pytest.raises(FolderProblem, match="The built-in profiles are prores_proxy"):
        build_folder_job(folder, profile="h265")
    with pytest.raises(FolderProblem, match="did you mean h264_half"):
        build_folder_job(folder, profile="H264_HALF")
