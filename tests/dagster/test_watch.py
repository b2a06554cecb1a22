"""The watch sensor, tick by tick, with Dagster's sensor context, a real instance and a clock the
test turns: a folder is taken only once it has settled, once, and later clips make a new job."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SensorResult,
    build_sensor_context,
)
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from proxx_dagster.builders import build_definitions
from proxx_dagster.names import (
    FOLDER_JOB,
    FOLDER_OP,
    FOLDER_TAG,
    PART_OP,
    PRIORITY_TAG,
    WATCH_SENSOR,
)
from proxx_dagster.settings import ProxxAutomation, SettingsProblem
from proxx_dagster.sizing import pool_limit
from proxx_dagster.watch import watch_sensor as watch
from proxx_dagster.watch.priority import FIRST
from proxx_exec import ExecutionResult
from tests.dagster.conftest import SIZED_CORES, pool_places
from tests.dagster.helpers import step_failure
from tests.helpers import Media

SETTLE_S = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(watch, "time", fake)
    return fake


class Watch:
    """The proxx_watch sensor of a code location with these settings, cursor kept between looks."""

    def __init__(self, instance: DagsterInstance, clock: Clock, **settings: Any) -> None:
        self.settings = ProxxAutomation(watch_settle_s=SETTLE_S, profile="h264_quarter", **settings)
        self.defs = build_definitions(automation=self.settings)
        self.sensor = self.defs.resolve_sensor_def(WATCH_SENSOR)
        self.instance = instance
        self.clock = clock
        self.cursor: str | None = None

    def look(self, after_s: float = 0) -> list[RunRequest]:
        self.clock.now += after_s
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"proxx_automation": self.settings},
        )
        outcome = self.sensor(context)
        assert isinstance(outcome, SensorResult)
        self.cursor = outcome.cursor
        return list(outcome.run_requests or [])

    def run(self, request: RunRequest) -> ExecutionResult:
        """Run a request as the daemon would: the job, its config and its tags."""
        outcome = self.defs.resolve_job_def(FOLDER_JOB).execute_in_process(
            run_config=request.run_config, instance=self.instance, tags=request.tags
        )
        [result] = outcome.output_for_node(PART_OP).values()
        assert isinstance(result, ExecutionResult)
        return result


def copy_clip(media: Media, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(media.standard, target)
    return target


def test_a_card_is_taken_once_after_it_settled_and_never_while_it_is_copied(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    root = tmp_path / "incoming"
    card = root / "A001"
    copy_clip(media, card / "CLIP" / "A001C001.mov")
    sensor = Watch(instance, clock, watch_roots=[str(root)])
    assert sensor.look() == []  # first sight
    assert sensor.look(SETTLE_S - 1) == []  # not settled yet
    # A copy in progress: a hidden temporary file (as rsync writes) grows between looks.
    partial = card / "CLIP" / ".A001C002.mov.tmp"
    data = media.standard.read_bytes()
    for written in (len(data) // 3, 2 * len(data) // 3, len(data)):
        partial.write_bytes(data[:written])
        assert sensor.look(SETTLE_S + 1) == []
    partial.rename(card / "CLIP" / "A001C002.mov")
    assert sensor.look(SETTLE_S + 1) == []  # the rename is a change too
    (card / "CLIP" / "A001C001.mov").touch()  # touched: starts over
    assert sensor.look(SETTLE_S) == []
    [request] = sensor.look(SETTLE_S)
    assert request.run_config == {
        "ops": {
            FOLDER_OP: {
                "config": {
                    "folder": str(card),
                    "profile": "h264_quarter",
                    "proxy_root": "",
                    "clip_timeout_s": 3600,
                }
            }
        }
    }
    assert request.tags[FOLDER_TAG] == str(card)
    assert request.tags["dagster/max_retries"] == "0"
    # a card of few clips is one job, named as the card
    assert request.tags["proxx/card"] == request.tags["proxx/job_id"]
    assert request.tags["proxx/parts"] == "1"
    assert request.run_key == f"watch:{request.tags['proxx/card']}"
    assert sensor.look(SETTLE_S) == []  # taken once
    result = sensor.run(request)
    assert result.completed and result.job_id == request.tags["proxx/job_id"]
    assert [Path(c.source).name for c in result.clips] == ["A001C001.mov", "A001C002.mov"]
    assert sensor.look(SETTLE_S) == []  # the proxies beside the clips change nothing


def test_a_big_card_is_one_request_for_all_its_parts(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    root = tmp_path / "incoming"
    for name in ("C001.mov", "C002.mov", "C003.mov"):
        copy_clip(media, root / "C001" / name)
    sensor = Watch(instance, clock, watch_roots=[str(root)], clips_per_job=2)
    assert sensor.look() == []
    [request] = sensor.look(SETTLE_S)
    card_id = request.tags["proxx/card"]
    assert request.tags["proxx/parts"] == "2" and "proxx/job_id" not in request.tags
    assert request.run_key == f"watch:{card_id}"
    assert sensor.look(SETTLE_S) == []  # taken once


def test_the_encode_pool_is_known_before_a_card_is_asked_for(
    sized_instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    """As the inbox and the nightly schedule (test_automation.py): the run queue holds the
    night's cards back at the pool only once the instance knows the pool."""
    root = tmp_path / "incoming"
    copy_clip(media, root / "C001" / "C001.mov")
    sensor = Watch(sized_instance, clock, watch_roots=[str(root)])
    assert sensor.look() == [] and pool_places(sized_instance) is None
    assert len(sensor.look(SETTLE_S)) == 1
    assert pool_places(sized_instance) == pool_limit(SIZED_CORES)


def test_later_clips_make_a_new_job_of_their_own(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    root = tmp_path / "incoming"
    card = root / "B001"
    copy_clip(media, card / "B001C001.mov")
    sensor = Watch(instance, clock, watch_roots=[str(root)])
    sensor.look()
    [first] = sensor.look(SETTLE_S)
    assert sensor.run(first).completed
    proxy = card / "Proxy" / "B001C001.mov"
    before = proxy.stat()
    copy_clip(media, card / "B001C002.mov")
    (card / "B001C002.xml").write_text("<sidecar/>")
    assert sensor.look() == []
    [second] = sensor.look(SETTLE_S)
    assert second.run_key != first.run_key
    result = sensor.run(second)
    assert [c.source for c in result.clips] == [str(card / "B001C002.mov")]
    after = proxy.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in (card / "Proxy").glob("*.proxx-jobspec.json")) == sorted(
        f"{r.tags['proxx/job_id']}.proxx-jobspec.json" for r in (first, second)
    )
    (card / "notes.txt").write_text("no clip")
    assert sensor.look() == []
    assert sensor.look(SETTLE_S) == []  # settled again, nothing new: no job


def test_a_forgotten_cursor_launches_nothing_twice(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    root = tmp_path / "incoming"
    copy_clip(media, root / "C001" / "C001.mov")
    sensor = Watch(instance, clock, watch_roots=[str(root)])
    sensor.look()
    [request] = sensor.look(SETTLE_S)
    run = instance.create_run_for_job(
        sensor.defs.resolve_job_def(FOLDER_JOB),
        run_config=request.run_config,
        tags={**request.tags, "dagster/run_key": request.run_key or ""},
    )
    sensor.cursor = None  # e.g. the sensor was reset
    sensor.look()
    assert sensor.look(SETTLE_S) == []  # the queued run is at work on the folder
    instance.delete_run(run.run_id)
    assert len(sensor.look(SETTLE_S)) == 1


def test_mirrored_tree_of_day_and_card_folders(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    root, proxies = tmp_path / "incoming", tmp_path / "proxies"
    copy_clip(media, root / "2026-11-28" / "A001" / "A001C001.mov")
    copy_clip(media, root / "2026-11-28" / "B001" / "B001C001.mov")
    (root / "2026-11-28" / "loose.mov").write_bytes(b"not in a card folder")
    sensor = Watch(
        instance, clock, watch_roots=[str(root)], watch_card_depth=2, proxy_root=str(proxies)
    )
    sensor.look()
    requests = sensor.look(SETTLE_S)
    assert [r.tags[FOLDER_TAG] for r in requests] == [
        str(root / "2026-11-28" / "A001"),
        str(root / "2026-11-28" / "B001"),
    ]
    result = sensor.run(requests[0])
    assert result.spec is not None
    assert result.spec.output_dir == str(proxies / "2026-11-28" / "A001")
    assert (proxies / "2026-11-28" / "A001" / "A001C001.mov").is_file()
    assert not (root / "2026-11-28" / "A001" / "Proxy").exists()


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("mirrored", [True, False], ids=["proxy_root", "Proxy_folder"])
def test_the_launchpad_finds_the_proxies_the_sensor_made(
    instance: DagsterInstance,
    media: Media,
    tmp_path: Path,
    clock: Clock,
    depth: int,
    mirrored: bool,
) -> None:
    """One rule decides a card's proxy folder: the card launched by hand from the folder
    launchpad, with the deployment's proxy root as a person types it, reads the results of the
    sensor's job (here: nothing new to make) instead of making its proxies again elsewhere."""
    root, proxies = tmp_path / "incoming", tmp_path / "proxies"
    card = root / "2026-11-28" / "A001" if depth == 2 else root / "A001"
    copy_clip(media, card / "A001C001.mov")
    proxy_root = str(proxies) if mirrored else None
    sensor = Watch(
        instance, clock, watch_roots=[str(root)], watch_card_depth=depth, proxy_root=proxy_root
    )
    sensor.look()
    [request] = sensor.look(SETTLE_S)
    typed = {"folder": str(card), "profile": "h264_quarter", "proxy_root": proxy_root or ""}
    made = sensor.run(request)
    expected = proxies / card.relative_to(root) if mirrored else card / "Proxy"
    assert made.spec is not None and made.spec.output_dir == str(expected)

    by_hand = sensor.defs.resolve_job_def(FOLDER_JOB).execute_in_process(
        run_config={"ops": {FOLDER_OP: {"config": typed}}},
        instance=instance,
        raise_on_error=False,
    )
    assert not by_hand.success
    refusal = step_failure(instance, by_hand.run_id)
    assert f"no new clip in {card}" in refusal, refusal
    assert sorted(p.name for p in expected.iterdir() if p.suffix == ".mov") == ["A001C001.mov"]
    if mirrored:  # nothing written anywhere else under the proxy root
        assert [
            p for p in proxies.rglob("*") if p.is_file() and not p.is_relative_to(expected)
        ] == []


def test_without_watch_roots_the_sensor_says_so(instance: DagsterInstance) -> None:
    settings = ProxxAutomation()
    sensor = build_definitions(automation=settings).resolve_sensor_def(WATCH_SENSOR)
    context = build_sensor_context(instance=instance, resources={"proxx_automation": settings})
    outcome = sensor(context)
    assert "PROXX_WATCH_ROOTS" in str(getattr(outcome, "skip_message", outcome))


def test_watch_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROXX_WATCH_ROOTS", f"{tmp_path}/a/:{tmp_path}/b")
    monkeypatch.setenv("PROXX_WATCH_SETTLE_S", "300")
    monkeypatch.setenv("PROXX_WATCH_CARD_DEPTH", "2")
    monkeypatch.setenv("PROXX_WATCH_INTERVAL_S", "15")
    monkeypatch.setenv("PROXX_PROFILE", "prores_proxy")
    monkeypatch.setenv("PROXX_PROXY_ROOT", str(tmp_path / "proxies"))
    settings = ProxxAutomation.from_environment()
    assert settings.watch_roots == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert (settings.watch_settle_s, settings.watch_card_depth) == (300, 2)
    assert (settings.profile, settings.proxy_root) == ("prores_proxy", str(tmp_path / "proxies"))
    sensor = build_definitions(automation=settings).resolve_sensor_def(WATCH_SENSOR)
    assert sensor.minimum_interval_seconds == 15
    monkeypatch.setenv("PROXX_PROXY_ROOT", str(tmp_path / "a" / "proxies"))
    with pytest.raises(SettingsProblem, match="inside the watch root"):
        ProxxAutomation.from_environment()
    monkeypatch.setenv("PROXX_PROXY_ROOT", str(tmp_path / "proxies"))
    monkeypatch.setenv("PROXX_PROFILE", "h265")
    with pytest.raises(SettingsProblem, match="PROXX_PROFILE='h265': unknown profile 'h265'"):
        ProxxAutomation.from_environment()
    monkeypatch.setenv("PROXX_PROFILE", "H264_HALF")
    with pytest.raises(SettingsProblem, match="did you mean h264_half"):
        ProxxAutomation.from_environment()


def test_a_windows_watch_root_is_called_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXX_WATCH_ROOTS", "\\\\nas\\incoming")
    with pytest.raises(SettingsProblem) as refused:
        ProxxAutomation.from_environment()
    assert 'watch root "\\\\nas\\incoming" is a Windows path' in str(refused.value)
    assert "mounts that share" in str(refused.value)
    assert str(refused.value).startswith("PROXX_WATCH_ROOTS='\\\\nas\\incoming': ")  # as written


def test_a_windows_engine_setting_is_not_sent_to_a_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Windows FFmpeg cannot run here wherever its drive is mounted."""
    monkeypatch.setenv("PROXX_ENGINE", "C:\\ffmpeg\\ffmpeg.exe")
    with pytest.raises(SettingsProblem) as refused:
        ProxxAutomation.from_environment()
    assert str(refused.value).startswith(
        "PROXX_ENGINE='C:\\ffmpeg\\ffmpeg.exe': \"C:\\ffmpeg\\ffmpeg.exe\" is a Windows path, "
        "and a Windows program cannot run here: give the absolute path of an FFmpeg binary "
        "built for this machine; or imageio-ffmpeg for the pinned engine"
    )
    assert "mounts" not in str(refused.value)


def test_a_windows_proxy_root_is_sent_to_this_machines_mount(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy root is a folder, not a program: its Windows path gets the mount advice (the
    engine's rule, a program that cannot run here, is not its rule)."""
    monkeypatch.setenv("PROXX_PROXY_ROOT", "D:\\Proxies")
    with pytest.raises(SettingsProblem) as refused:
        ProxxAutomation.from_environment()
    assert str(refused.value).startswith(
        "PROXX_PROXY_ROOT='D:\\Proxies': \"D:\\Proxies\" is a Windows path, but proxx reads files "
        "by this machine's paths: give the path where this machine mounts that drive"
    )
    assert "or unset it for a Proxy folder inside each card" in str(refused.value)
    monkeypatch.setenv("PROXX_PROXY_ROOT", "imageio-ffmpeg")
    with pytest.raises(SettingsProblem, match="is a relative path"):
        ProxxAutomation.from_environment()


def test_the_watch_sensor_puts_the_card_with_the_longer_job_first(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    root = tmp_path / "incoming"
    copy_clip(media, root / "A001" / "A001C001.mov")  # 25 frames
    copy_clip(media, root / "A001" / "A001C002.mov")
    long = media.h264_clip("A002-long.mov", 640, 360, 4.0)  # 100 frames
    for name in ("A002C001.mov", "A002C002.mov"):
        (root / "A002").mkdir(parents=True, exist_ok=True)
        os.link(long, root / "A002" / name)
    sensor = Watch(instance, clock, watch_roots=[str(root)])
    assert sensor.look() == []
    requests = {Path(r.tags[FOLDER_TAG]).name: r for r in sensor.look(SETTLE_S)}
    light, heavy = (int(requests[card].tags[PRIORITY_TAG]) for card in ("A001", "A002"))
    assert -201 < light < heavy < 0
    # four times the picture: 20 log10(4) = 12.04 steps of the scale, each end rounded
    assert heavy - light in (12, 13)


def test_a_queued_run_holding_a_folders_new_clips_back_goes_first(
    instance: DagsterInstance, media: Media, tmp_path: Path, clock: Clock
) -> None:
    """A day folder's first clips, queued behind longer cards, would hold its later clips (maybe
    the night's longest) back until it ends: the sensor gives it the first place."""
    root = tmp_path / "incoming"
    copy_clip(media, root / "D001" / "C001.mov")
    sensor = Watch(instance, clock, watch_roots=[str(root)])
    assert sensor.look() == []
    [request] = sensor.look(SETTLE_S)
    # a queued run names where its code is (the daemon launches it from there)
    code = RemoteRepositoryOrigin(
        InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="proxx_dagster.definitions", attribute="defs")
        ),
        "__repository__",
    )
    queued = instance.create_run_for_job(
        sensor.defs.resolve_job_def(FOLDER_JOB),
        run_config=request.run_config,
        tags=request.tags,
        status=DagsterRunStatus.QUEUED,
        remote_job_origin=RemoteJobOrigin(code, FOLDER_JOB),
    )
    assert int(queued.tags[PRIORITY_TAG]) < FIRST
    copy_clip(media, root / "D001" / "C002.mov")  # more clips while it waits
    assert sensor.look() == []
    assert sensor.look(SETTLE_S) == []  # busy: the new clips wait for the queued run
    hurried = instance.get_run_by_id(queued.run_id)
    assert hurried is not None and hurried.tags[PRIORITY_TAG] == str(FIRST)
