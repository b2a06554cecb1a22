"""`proxx_folder_job`: proxies of a camera card or day folder, launched without writing a JobSpec.

The launchpad asks for a folder, a profile and where the proxies go. `plan_card` builds the
card's JobSpecs with the same builder as the watch sensor (`folder_spec`: a card of more than
`clips_per_job` clips is cut into parts), keeps them beside the results and fans them out; each
`make_part_proxies` step runs one part through `run_document`, the path every proxx op shares,
side by side with the others (multiprocess executor, concurrency pool `proxx_encode`);
`finish_card` writes the card's one contact sheet and fails the run when a part FAILED, naming
it. One run per card, one place to retry (`retried_from: <card id>`).

(No `from __future__ import annotations` here: Dagster reads the op's context annotation.)
"""

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dagster import (
    DynamicOut,
    DynamicOutput,
    Failure,
    In,
    JobDefinition,
    List,
    MetadataValue,
    OpDefinition,
    OpExecutionContext,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
    op,
)
from pydantic import BaseModel, ConfigDict

from proxx_dagster.dagster_internals import EngineEventData
from proxx_dagster.jobs.executors import CARD_EXECUTOR
from proxx_dagster.jobs.ops import proxx_op, proxx_resources, run_document
from proxx_dagster.launchpad import folder_config_schema
from proxx_dagster.names import (
    AUTOMATION_RESOURCE,
    CARD_TAG,
    ENCODE_POOL,
    FINISH_OP,
    FOLDER_JOB,
    FOLDER_OP,
    JOB_ID_TAG,
    PART_OP,
)
from proxx_dagster.no_retry import no_retry_job, refuse_retry
from proxx_dagster.result_io import ExecutionResultType
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.translator import (
    CAMERA_RAW_KEY,
    CONTACT_SHEET_KEY,
    FOLDER_KEY,
    SKIPPED_FILES_KEY,
    ProxxTranslator,
)
from proxx_dagster.watch.busy import folder_busy
from proxx_dagster.watch.folder_spec import (
    FolderJob,
    FolderProblem,
    build_folder_job,
    card_of,
    card_tags,
    jobspec_document,
    jobspec_file,
    part_key,
    part_number,
    write_jobspec,
)
from proxx_exec import ExecutionResult, FailureClass, JobSpec
from proxx_exec.handoff.mhl import Creator, seal_files
from proxx_exec.tools.sheets import write_card_contact_sheet

SKIPPED_COLUMNS = TableSchema(
    columns=[TableColumn("file", "string"), TableColumn("reason", "string")]
)


class CardPart(BaseModel):
    """One part of a card as its step receives it: the JobSpec document's exact bytes."""

    model_config = ConfigDict(frozen=True)

    card_id: str
    key: str  # pNofM
    parts: int
    document: bytes
    spec_file: str
    metadata: dict[str, Any]  # how the card's JobSpecs were made (folder_metadata)


def folder_metadata(folder_job: FolderJob, spec: JobSpec | None = None) -> dict[str, Any]:
    """How a JobSpec of the card was made: the folder, what was skipped and why, the JobSpec
    itself and where it is kept."""
    metadata: dict[str, Any] = {
        FOLDER_KEY: MetadataValue.path(str(folder_job.folder)),
        "proxx/output_dir": MetadataValue.path(str(folder_job.output_dir)),
        "proxx/video_files": folder_job.clip_count,
        "proxx/skipped": MetadataValue.table(
            [TableRecord({"file": s.path, "reason": s.reason}) for s in folder_job.skipped],
            schema=SKIPPED_COLUMNS,
        ),
        CAMERA_RAW_KEY: sum(1 for s in folder_job.skipped if s.camera_raw),
    }
    if folder_job.card_id is not None:
        metadata["proxx/card"] = folder_job.card_id
        metadata["proxx/parts"] = len(folder_job.parts)
    if spec is not None:
        metadata["proxx/jobspec"] = MetadataValue.json(spec.canonical())
        metadata["proxx/jobspec_file"] = MetadataValue.path(
            str(jobspec_file(Path(spec.output_dir), spec.job_id))
        )
    return metadata


def _refuse(description: str, metadata: dict[str, Any] | None = None) -> Failure:
    return Failure(
        description=f"No job was started: {description}",
        metadata=metadata or {},
        allow_retries=False,
    )


def report_skipped(context: OpExecutionContext, folder_job: FolderJob) -> None:
    """Say in the run which files of the card it does not read and why (camera RAW with what to
    use instead): a warning in its log, and an event its night report and summary read."""
    if not folder_job.skipped:
        return
    raws = [s for s in folder_job.skipped if s.camera_raw]
    context.log.warning(
        f"{folder_job.folder}: {len(folder_job.skipped)} file(s) not read, "
        f"{len(raws)} of them camera RAW:\n"
        + "\n".join(f"{s.path}: {s.reason}" for s in folder_job.skipped)
    )
    context.instance.report_engine_event(
        f"{folder_job.folder}: {len(folder_job.skipped)} file(s) not read, "
        f"{len(raws)} of them camera RAW",
        context.dagster_run,
        EngineEventData(
            metadata={
                FOLDER_KEY: MetadataValue.path(str(folder_job.folder)),
                SKIPPED_FILES_KEY: MetadataValue.json([asdict(s) for s in folder_job.skipped]),
                CAMERA_RAW_KEY: len(raws),
            }
        ),
    )


def prepare_folder_job(context: OpExecutionContext, automation: ProxxAutomation) -> FolderJob:
    """Build the card's JobSpecs (its proxies where the watch sensor would put them: the
    automation's watch roots decide the mirrored path below proxy_root, its clips_per_job how
    the card is cut), check nothing else works on the folder, keep each JobSpec beside the
    results and name the run after its card. Raises Failure with what to do."""
    config = context.op_config
    if not config["folder"]:
        raise _refuse("folder is empty; write the card folder's path, e.g. /media/incoming/A001")
    try:
        folder_job = build_folder_job(
            Path(config["folder"]),
            profile=config["profile"],
            proxy_root=config["proxy_root"] or None,
            watch_roots=automation.watch_roots,
            retried_from=config["retried_from"] or None,
            clip_timeout_s=config["clip_timeout_s"],
            clips_per_job=automation.clips_per_job,
            engine=automation.engine,
            look=config["look"],
            burn_ins=config["burn_ins"],
            verify_source_mhl=automation.verify_card_mhl,
        )
    except FolderProblem as problem:
        raise _refuse(str(problem)) from None
    report_skipped(context, folder_job)
    busy = folder_busy(context.instance, folder_job.folder, folder_job.output_dir, context.run_id)
    if busy:
        raise _refuse(busy, folder_metadata(folder_job))
    card_id = folder_job.card_id
    if card_id is None and folder_job.clip_count == 0:
        raws = sum(1 for s in folder_job.skipped if s.camera_raw)
        raise _refuse(
            f"no clip proxx can read in {folder_job.folder}"
            + (
                f": {raws} camera RAW file(s), which must be transcoded first "
                "(proxx/skipped says which, and with what)"
                if raws
                else " (proxx/skipped lists what is there and why it was not taken)"
            ),
            folder_metadata(folder_job),
        )
    if card_id is None:
        raise _refuse(
            f"no new clip in {folder_job.folder}: {folder_job.clip_count} video file(s), each "
            "already in an earlier job (proxx/skipped says which and why)",
            folder_metadata(folder_job),
        )
    # A one-job card's id is its job's id, so runs launched before cards were cut still match.
    expected = context.run.tags.get(CARD_TAG) or context.run.tags.get(JOB_ID_TAG)
    if expected and expected != card_id:
        raise _refuse(
            f"this run was launched for card {expected}, but {folder_job.folder} now makes "
            f"card {card_id}: the folder changed after it settled. The watch sensor launches "
            "the new card once it settles again",
            folder_metadata(folder_job),
        )
    try:
        for part in folder_job.parts:
            write_jobspec(part)
    except (FolderProblem, OSError) as problem:
        raise _refuse(f"a JobSpec could not be kept beside the results: {problem}") from None
    context.instance.add_run_tags(context.run_id, card_tags(folder_job))
    context.log.info(
        f"card {card_id}: {len(folder_job.sources)} clips in {len(folder_job.parts)} job(s) "
        f"({len(folder_job.skipped)} skipped), JobSpecs kept in {folder_job.output_dir}:\n"
        + "\n".join(
            json.dumps(part.canonical(), indent=2, ensure_ascii=False) for part in folder_job.parts
        )
    )
    return folder_job


def build_folder_op(name: str = FOLDER_OP) -> OpDefinition:
    @op(
        name=name,
        description="Build the JobSpecs of every new clip in a camera card or day folder (a "
        "card of more than PROXX_CLIPS_PER_JOB clips is cut into parts), keep them beside the "
        "results, and fan them out: one make_part_proxies step per part.",
        config_schema=folder_config_schema(),
        out=DynamicOut(CardPart),
        pool=ENCODE_POOL,  # the run queue starts a card's run only when the pool has a place
    )
    def plan_card(
        context: OpExecutionContext, proxx_automation: ProxxAutomation
    ) -> Iterator[DynamicOutput[CardPart]]:
        refuse_retry(context)  # before the folder is read or anything is written
        folder_job = prepare_folder_job(context, proxx_automation)
        assert folder_job.card_id is not None
        for part in folder_job.parts:
            key = part_key(part.job_id, folder_job.card_id)
            yield DynamicOutput(
                CardPart(
                    card_id=folder_job.card_id,
                    key=key,
                    parts=len(folder_job.parts),
                    document=jobspec_document(part),
                    spec_file=str(jobspec_file(Path(part.output_dir), part.job_id)),
                    metadata=folder_metadata(folder_job, part),
                ),
                mapping_key=key,
            )

    return plan_card


def build_part_op(translator: ProxxTranslator | None = None, name: str = PART_OP) -> OpDefinition:
    names = translator or ProxxTranslator()

    @proxx_op(
        name,
        description="Run one JobSpec of the card with proxx_exec, exactly once: every clip "
        "encoded once, verified, then committed. Yields its ExecutionResult; a FAILED result "
        "fails the run in finish_card.",
        ins={"part": In(CardPart)},
    )
    def make_part_proxies(
        context: OpExecutionContext, part: CardPart
    ) -> Iterator[Output[ExecutionResult]]:
        context.log.info(f"card {part.card_id}, part {part.key}: JobSpec {part.spec_file}")
        yield from run_document(
            context,
            part.document,
            names,
            part.metadata,
            contact_sheet=part.parts == 1,  # several parts: one sheet for the card, at the end
            fail=False,
        )

    return make_part_proxies


def card_outcome(results: list[ExecutionResult]) -> tuple[str, list[str]]:
    """The card's id and, per FAILED part, `pNofM (job id): why`."""
    job_ids = [r.job_id or "?" for r in results]
    card_id = card_of(job_ids[0]) if job_ids else "?"
    failed = [
        f"{part_key(r.job_id or '?', card_id)} ({r.job_id}): "
        f"{r.failure.failure_class.value} {r.failure.reason.value}: {r.failure.message}"
        for r in results
        if r.failure is not None
    ]
    return card_id, failed


def what_next(card_id: str, results: list[ExecutionResult]) -> str:
    """After a FAILED part: what was kept and how to make the missing proxies. A job refused
    at validation wrote no result and its clips are new to the next launch; a job that failed
    after encoding spent its id, and only `retried_from` gives its clips back."""
    failures = [r.failure for r in results if r.failure is not None]
    refused = all(f.failure_class is FailureClass.VALIDATION for f in failures)
    words = []
    if len(failures) < len(results):
        words.append("The other jobs' proxies are committed.")
    if refused:
        words.append(
            "Nothing of the failed job(s) was encoded: fix what the message says, then "
            "launch the card again (its clips without a proxy are taken again)."
        )
    else:
        words.append(
            f"To make the missing proxies, launch the card again with retried_from: {card_id}."
        )
    return " ".join(words)


def seal_card_sheet(context: OpExecutionContext, card_id: str, sheet: Path) -> dict[str, Any]:
    """The card's contact sheet (written once every part ended) sealed in its own generation of
    the folder's ASC MHL history, so that the folder verifies whole. A seal that fails is logged
    and named in the metadata; it never changes the card's outcome."""
    seal = seal_files(
        sheet.parent,
        [sheet],
        Creator(job_id=card_id, comment=f"proxx card {card_id}: its contact sheet"),
    )
    if seal.problem is not None:
        context.log.error(f"card {card_id}: ASC MHL seal of the contact sheet: {seal.problem}")
        return {"proxx/card_seal_problem": seal.problem}
    context.log.info(f"card {card_id}: contact sheet sealed in {seal.generation}")
    return {"proxx/card_mhl_generation": MetadataValue.path(str(seal.generation))}


def build_finish_op(name: str = FINISH_OP) -> OpDefinition:
    @op(
        name=name,
        description="Once every part ended: the card's one contact sheet (a card of several "
        "parts), and the run fails when a part FAILED, naming each.",
        ins={"results": In(List[ExecutionResultType])},
    )
    def finish_card(context: OpExecutionContext, results: list[ExecutionResult]) -> None:
        refuse_retry(context)
        # in clip order: p2of19 before p10of19
        results = sorted(results, key=lambda r: part_number(r.job_id or ""))
        card_id, failed = card_outcome(results)
        metadata: dict[str, Any] = {"proxx/card": card_id, "proxx/parts": len(results)}
        specs = [r.spec for r in results if r.spec is not None]
        # A card whose every part was refused made nothing and spent no job id: no sheet, so
        # that the card launched again (the same card id) writes its sheet then.
        made = any(
            r.failure is None or r.failure.failure_class is not FailureClass.VALIDATION
            for r in results
        )
        if len(results) > 1 and specs and made:
            sheet, problem = write_card_contact_sheet(card_id, specs[0].output_dir, results)
            if sheet is not None:
                metadata[CONTACT_SHEET_KEY] = MetadataValue.path(sheet)
                context.log.info(f"card {card_id}: contact sheet {sheet}")
                metadata.update(seal_card_sheet(context, card_id, Path(sheet)))
            else:
                context.log.warning(f"card {card_id}: {problem} (the proxies are unaffected)")
        if failed:
            raise Failure(
                description=f"card {card_id}: {len(failed)} of {len(results)} job(s) FAILED: "
                + "; ".join(failed)
                + ". "
                + what_next(card_id, results),
                metadata=metadata,
                allow_retries=False,
            )
        context.log.info(
            f"card {card_id}: {len(results)} job(s) COMPLETED, "
            f"{sum(len(r.clips) for r in results)} proxies"
        )

    return finish_card


def build_proxx_folder_job(
    translator: ProxxTranslator | None = None, automation: ProxxAutomation | None = None
) -> JobDefinition:
    """`proxx_folder_job`, with the automation's settings as its `proxx_automation` resource:
    their watch roots decide where a card's proxies go below a proxy root, as for the watch
    sensor, and their clips_per_job how a card is cut (`build_definitions` passes its own;
    default: no watch root, 8 clips per job)."""
    plan_card = build_folder_op()
    make_part_proxies = build_part_op(translator)
    finish_card = build_finish_op()

    def proxx_folder_job() -> None:
        finish_card(plan_card().map(make_part_proxies).collect())

    return no_retry_job(
        FOLDER_JOB,
        "Make proxies of a camera card or day folder: give the folder, keep one "
        "profile, say where the proxies go, launch. No JobSpec to write. A big card runs as "
        "several jobs side by side. Also launched by the proxx_watch sensor.",
        proxx_folder_job,
        CARD_EXECUTOR,
        {**proxx_resources(), AUTOMATION_RESOURCE: automation or ProxxAutomation()},
    )
