"""A card launched with a look and burn-ins: the launchpad's `look` (a built-in name or a .cube
path) and `burn_ins` reach every JobSpec of the card; left at their defaults, the card's JobSpecs
and job ids are today's."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance

from proxx_dagster.watch.folder_spec import build_folder_job
from proxx_exec import Status
from proxx_exec.looks.builtin import BUILTIN_LOOKS
from tests.dagster.test_folders import card, launch, only_result
from tests.helpers import Media


def test_the_card_launchpad_takes_a_look_and_burn_ins(media: Media, tmp_path: Path) -> None:
    folder = card(tmp_path, media, "A001", ["A001C001.mov"])
    plain = build_folder_job(folder, profile="h264_quarter")
    default = build_folder_job(folder, profile="h264_quarter", look="none", burn_ins=())
    assert default.parts == plain.parts  # today's JobSpecs and ids
    [looked] = build_folder_job(
        folder, profile="h264_quarter", look="arri_logc4_to_rec709", burn_ins=["timecode"]
    ).parts
    assert (looked.look, looked.burn_ins) == ("arri_logc4_to_rec709", ("timecode",))
    assert looked.job_id != plain.card_id
    [cubed] = build_folder_job(folder, profile="h264_quarter", look="/luts/show.cube").parts
    assert cubed.canonical()["look"] == {"cube": "/luts/show.cube"}


def test_a_card_with_a_look_gives_looked_verified_proxies(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, "A001", ["A001C001.mov"])
    look = "sony_slog3_sgamut3cine_to_rec709"
    outcome = launch(instance, folder, look=look, burn_ins=["timecode", "clip_name"])
    assert outcome.success
    result = only_result(outcome)
    assert result.status is Status.COMPLETED
    (clip,) = result.clips
    assert clip.look is not None and clip.look.lut_sha256 == BUILTIN_LOOKS[look].sha256
    assert clip.burn_ins is not None and clip.burn_ins.items == ("timecode", "clip_name")
    assert all(check.passed for check in clip.checks)
