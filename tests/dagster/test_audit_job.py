"""The audit job on a real instance: `outputs_intact` per materialized partition, current on the
asset page (it names the materialization it checked), failed for a partition whose proxy was
deleted or changed or whose result file was replaced; no encode, no re-run, no repair."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import markdown_it
import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DefaultScheduleStatus,
    ExecuteInProcessResult,
    JobDefinition,
)
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.asset_check_state import AssetCheckState, bulk_update_asset_check_state

from proxx_dagster.assets import JOB_PARTITIONS_DEF
from proxx_dagster.definitions import defs, proxx_job
from proxx_dagster.jobs import audit_job as audit_job_module
from proxx_dagster.no_retry import NO_RETRY_TAGS, retry_problems
from proxx_exec.display import markdown_text, visible
from tests.dagster.helpers import events, run_config, spec_fields
from tests.helpers import Media, engine_calls, listing, reseal, write_engine_wrapper

PROXIES = AssetKey(["proxx", "proxies"])
CHECK = AssetCheckKey(PROXIES, "outputs_intact")


def audit_job() -> JobDefinition:
    return defs.resolve_job_def("proxx_audit")


def materialize(
    instance: DagsterInstance, media: Media, folder: Path, job_id: str, engine: Path
) -> dict[str, Any]:
    """A proxx_job run of one clip into `folder`; its result document."""
    folder.mkdir()
    fields = spec_fields(media, folder, job_id, engine=str(engine))
    assert proxx_job.execute_in_process(run_config=run_config(fields), instance=instance).success
    result: dict[str, Any] = json.loads((folder / f"{job_id}.proxx-result.json").read_text())
    return result


def evaluations(instance: DagsterInstance, outcome: ExecuteInProcessResult) -> dict[str, Any]:
    found = {}
    for entry in events(instance, outcome.run_id, DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.get_dagster_event().asset_check_evaluation_data
        assert evaluation.check_name == "outputs_intact" and evaluation.asset_key == PROXIES
        found[str(evaluation.partition)] = evaluation
    return found


def partition_states(instance: DagsterInstance) -> dict[str, set[str]]:
    """The check's partitions per status, computed as the asset page computes them (Dagster's
    AssetCheckState, which drops a status that does not check the latest materialization)."""
    with partition_loading_context(dynamic_partitions_store=instance):
        states = bulk_update_asset_check_state(
            instance, [(CHECK, JOB_PARTITIONS_DEF)], {CHECK: AssetCheckState.empty()}
        )
    return {
        status.value: set(subset.subset_value.get_partition_keys())
        for status, subset in states[CHECK].subsets.items()
        if not subset.is_empty
    }


def test_intact_partitions_pass_and_changed_or_deleted_ones_fail(
    instance: DagsterInstance, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_job_module, "PAGE_SIZE", 2)  # XX  # three partitions: two pages
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    results = {
        job_id: materialize(instance, media, tmp_path / job_id, job_id, wrapper)
        for job_id in ("cam-a", "cam-b", "cam-c")
    }
    calls = len(engine_calls(tmp_path))
    runs = len(instance.get_runs())

    intact = audit_job().execute_in_process(instance=instance)
    assert intact.success
    checked = evaluations(instance, intact)
    assert set(checked) == {"cam-a", "cam-b", "cam-c"}
    assert all(evaluation.passed for evaluation in checked.values())
    assert checked["cam-a"].metadata["proxx/outputs_checked"].value == 1
    assert partition_states(instance) == {"SUCCEEDED": {"cam-a", "cam-b", "cam-c"}}

    deleted = Path(results["cam-b"]["clips"][0]["output"])
    deleted.unlink()
    changed = Path(results["cam-c"]["clips"][0]["output"])
    data = bytearray(changed.read_bytes())
    data[-100] ^= 0xFF
    changed.write_bytes(bytes(data))

    broken = audit_job().execute_in_process(instance=instance, raise_on_error=False)
    assert not broken.success
    checked = evaluations(instance, broken)
    assert {p: e.passed for p, e in checked.items()} == {
        "cam-a": True,
        "cam-b": False,
        "cam-c": False,
    }
    # descriptions and findings are markdown: the words as they are written into it
    assert markdown_text(f"missing: clip 1 {deleted}") in str(checked["cam-b"].description)
    changed_words = markdown_text(f"changed: clip 1 {changed}: same size, SHA-256 recorded")
    assert changed_words in str(checked["cam-c"].description)
    assert changed_words in str(checked["cam-c"].metadata["proxx/findings"].value)
    assert partition_states(instance) == {"SUCCEEDED": {"cam-a"}, "FAILED": {"cam-b", "cam-c"}}
    failure = events(instance, broken.run_id, DagsterEventType.STEP_FAILURE)[0]
    message = str(failure.get_dagster_event().step_failure_data.user_failure_data.description)  # type: ignore[union-attr]
    assert "outputs_intact failed for 2 of 3 partition(s): cam-b, cam-c" in message

    assert len(engine_calls(tmp_path)) == calls  # no encode, no probe, no decode
    assert len(instance.get_runs()) == runs + 2  # the two audit runs, nothing re-run
    assert not deleted.exists()  # nothing repaired
    assert hashlib.sha256(changed.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_replaced_result_file_fails_even_with_a_matching_digest(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    """A result file replaced by another that is sound in itself (its digest matches its own
    content) is caught: Dagster recorded the original digest at materialization."""
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    document = materialize(instance, media, tmp_path / "cam-a", "cam-a", wrapper)
    path = tmp_path / "cam-a" / "cam-a.proxx-result.json"
    document = reseal({**document, "proxx_version": "9.9.9"})
    path.write_text(json.dumps(document))

    outcome = audit_job().execute_in_process(instance=instance, raise_on_error=False)
    assert not outcome.success
    evaluation = evaluations(instance, outcome)["cam-a"]
    assert not evaluation.passed
    replaced = f"replaced result: {path} records digest {document['digest']}"
    assert markdown_text(replaced) in str(evaluation.description)
    # nothing was repaired or re-made: the proxy and proxx's own files, as the job left them
    assert listing(tmp_path / "cam-a") == [
        "A001C001.mov",
        "cam-a.proxx-contact-sheet.html",
        "cam-a.proxx-posters",
        "cam-a.proxx-result.json",
    ]


def test_no_partition_audits_clean_and_the_definitions_forbid_retries(
    instance: DagsterInstance,
) -> None:
    outcome = audit_job().execute_in_process(instance=instance)
    assert outcome.success
    assert evaluations(instance, outcome) == {}
    assert retry_problems(audit_job()) == []
    assert audit_job().tags == dict(NO_RETRY_TAGS)
    schedule = defs.resolve_schedule_def("proxx_audit_nightly")
    assert schedule.job_name == "proxx_audit"
    assert schedule.default_status is DefaultScheduleStatus.STOPPED
    # Declared per partition of the proxies, so the asset page keeps one status per partition.
    assert defs.resolve_asset_graph().get(CHECK).partitions_def == JOB_PARTITIONS_DEF


def test_findings_name_hostile_files_as_written_in_markdown(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    """File names found in an output folder reach the asset page as literal text: the
    findings' markdown, rendered by a CommonMark parser, shows each name as written and
    makes no emphasis, link, code, HTML or extra list item of it."""
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    materialize(instance, media, tmp_path / "cam-a", "cam-a", wrapper)
    names = [
        "A001 [take 2].mov",
        "*bold* _it_ `code` |cell|.mov",
        "[link](http:\u2215\u2215example.com).mov",
        "<script>alert(1)<\u2215script>.mov",
        "x.mov\n- all proxies intact",
        "C\u202evom.mov",
    ]
    for name in names:
        (tmp_path / "cam-a" / name).write_bytes(b"")

    outcome = audit_job().execute_in_process(instance=instance, raise_on_error=False)
    evaluation = evaluations(instance, outcome)["cam-a"]
    assert not evaluation.passed
    rendered = markdown_it.MarkdownIt("commonmark").render(
        str(evaluation.metadata["proxx/findings"].value)
    )
    items = re.findall(r"<li>(.*?)</li>", rendered, flags=re.DOTALL)
    assert len(items) == len(names)  # one item per extra file, none forged
    assert not re.search(r"<(?!/?(ul|li)>)", rendered)  # no tag but the list's own
    shown = {html.unescape(item) for item in items}
    for name in names:
        path = visible(tmp_path / "cam-a" / name)
        assert f"extra: {path} (a file no result accounts for)" in shown, (name, shown)
    # the check's description, which the asset page renders as markdown too
    described = markdown_it.MarkdownIt("commonmark").render(str(evaluation.description))
    assert not re.search(r"<(?!/?p>)", described)
    for name in names:
        assert visible(tmp_path / "cam-a" / name) in html.unescape(described)
