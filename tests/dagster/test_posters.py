"""Posters in Dagster: shown in the proxies' materialization (inline PNGs the UI renders, the
files, the contact sheet), made after the verdict, and never changing it."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    MarkdownMetadataValue,
    PathMetadataValue,
    TableMetadataValue,
)

from proxx_dagster.definitions import proxx_job
from proxx_exec import ExecutionResult
from proxx_exec.display import markdown_text
from tests.dagster.helpers import events, output_metadata, run_config, spec_fields, stored_result
from tests.helpers import Media

PROXIES = AssetKey(["proxx", "proxies"])


def materialization_metadata(instance: DagsterInstance) -> dict[str, object]:
    event = instance.get_latest_materialization_event(PROXIES)
    assert event is not None and event.asset_materialization is not None
    return dict(event.asset_materialization.metadata)


def test_the_materialization_shows_every_poster(
    instance: DagsterInstance, media: Media, out_dir: Path
) -> None:
    sources = [str(media.standard), str(media.clip("B002.mov"))]
    outcome = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, out_dir, sources=sources)), instance=instance
    )
    assert outcome.success
    metadata = materialization_metadata(instance)
    posters = metadata["proxx/posters"]
    assert isinstance(posters, MarkdownMetadataValue) and posters.md_str is not None
    inlined = re.findall(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", posters.md_str)
    files = metadata["proxx/poster_files"]
    assert isinstance(files, TableMetadataValue)
    paths = [Path(str(row.data["poster"])) for row in files.records]
    assert [base64.b64decode(data) for data in inlined] == [p.read_bytes() for p in paths]
    assert [p.parent.name for p in paths] == ["dg-job.proxx-posters"] * 2
    caption = "clip 2 · B002.mov · TC 01:00:00:00 · frame 13 of 25"
    assert f"| {markdown_text(caption)} |" in posters.md_str
    sheet = metadata["proxx/contact_sheet"]
    assert isinstance(sheet, PathMetadataValue)
    assert sheet.path == str(out_dir / "dg-job.proxx-contact-sheet.html")
    assert "proxx/poster_problems" not in metadata
    # the run's step output names the contact sheet too
    step_metadata = output_metadata(instance, outcome.run_id)
    assert step_metadata["proxx/contact_sheet"] == sheet


def test_a_poster_failure_changes_nothing_about_the_job(
    instance: DagsterInstance, media: Media, out_dir: Path
) -> None:
    """Where the posters folder should go there is a file: no poster, the problem is said, and
    the run, the result, the materialization and every check are as without posters."""
    (out_dir / "dg-job.proxx-posters").write_text("in the way")
    outcome = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, out_dir)), instance=instance
    )
    assert outcome.success
    result = stored_result(instance, outcome.run_id)
    assert result.completed
    assert ExecutionResult.from_json((out_dir / "dg-job.proxx-result.json").read_bytes()) == result
    metadata = materialization_metadata(instance)
    assert metadata["proxx/poster_problems"].value == (  # type: ignore[attr-defined]
        f"cannot make the folder {out_dir / 'dg-job.proxx-posters'}: File exists"
    )
    assert metadata["proxx/result_digest"].value == result.digest  # type: ignore[attr-defined]
    checks = events(instance, outcome.run_id, DagsterEventType.ASSET_CHECK_EVALUATION)
    assert checks and all(e.get_dagster_event().asset_check_evaluation_data.passed for e in checks)
    warnings = [
        e.user_message
        for e in instance.all_logs(outcome.run_id)
        if "poster not made (the proxies are unaffected)" in e.user_message
    ]
    assert len(warnings) == 1


def test_markdown_text_shows_names_literally() -> None:
    assert markdown_text("a|b*c_[d](e)<f>`g`\\h\nnext") == (
        "a\\|b\\*c\\_\\[d\\](e)\\<f\\>\\`g\\`\\\\h\\\\nnext"  # the line break shown
    )
