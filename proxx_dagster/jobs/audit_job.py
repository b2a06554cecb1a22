"""The audit job: are the proxies of materialized partitions still what their results record?

`proxx_audit` finds each materialized `proxies` partition's result file (the `proxx/result_file`
metadata of its latest materialization), audits all of them together with `proxx_exec.tools.audit`
(sizes and SHA-256s, no decode) and reports the `outputs_intact` asset check per partition, so
the asset page shows a proxy changed or deleted after the fact. It never re-runs a job and never
repairs anything; the run fails when any partition is not intact.
"""

import warnings
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    EventLogRecord,
    Failure,
    JobDefinition,
    OpExecutionContext,
    PreviewWarning,
    multi_asset_check,
    op,
)

from proxx_dagster.assets import JOB_PARTITIONS_DEF
from proxx_dagster.dagster_internals import materialization_target
from proxx_dagster.jobs.executors import IN_PROCESS_EXECUTOR
from proxx_dagster.names import (
    AUDIT_CHECKS_DEFINITION,
    AUDIT_JOB,
    AUDIT_OP,
    JOB_PARTITIONS,
)
from proxx_dagster.no_retry import single_op_job
from proxx_dagster.translator import DIGEST_KEY, RESULT_FILE_KEY, ProxxTranslator
from proxx_exec.display import markdown_text
from proxx_exec.tools.audit import ResultAudit, audit_results, findings

# Materializations read per query while looking for each partition's latest one.
PAGE_SIZE = 1000


def declared_audit_check(translator: ProxxTranslator) -> AssetChecksDefinition:
    """`outputs_intact`, declared per partition of the proxies; the audit job reports it."""
    with warnings.catch_warnings():
        # Dagster 1.13 marks partitioned asset checks as a preview; they are its only way to
        # keep one check status per partition (docs/audit.md says so).
        warnings.simplefilter("ignore", PreviewWarning)
        spec = AssetCheckSpec(
            translator.outputs_intact_check(),
            asset=translator.proxies_key(),
            partitions_def=JOB_PARTITIONS_DEF,
            description="The committed proxies still have the size and SHA-256 their "
            "ExecutionResult records, the result's digest matches its content and the output "
            "folder holds nothing extra. Reported by the proxx_audit job.",
        )

    @multi_asset_check(specs=[spec], name=AUDIT_CHECKS_DEFINITION)
    def proxx_audit_checks() -> Iterator[AssetCheckResult]:
        raise Failure(
            description=f"{translator.outputs_intact_check()} is reported by the {AUDIT_JOB} job "
            "for every materialized partition at once; launch that job to audit again.",
            allow_retries=False,
        )
        yield  # pragma: no cover - makes this a generator, as Dagster expects

    return proxx_audit_checks


def latest_materializations(
    instance: DagsterInstance, asset_key: AssetKey
) -> dict[str, EventLogRecord]:
    """The latest materialization of each current partition of the asset, newest first read."""
    current = set(instance.get_dynamic_partitions(JOB_PARTITIONS))
    latest: dict[str, EventLogRecord] = {}
    cursor: str | None = None
    while True:
        page = instance.fetch_materializations(asset_key, limit=PAGE_SIZE, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            partition = materialization.partition if materialization else None
            if partition in current and partition not in latest:
                latest[partition] = record
        if not page.has_more:
            return latest
        cursor = page.cursor


def _metadata_text(record: EventLogRecord, key: str) -> str | None:
    materialization = record.asset_materialization
    value = materialization.metadata.get(key) if materialization else None
    return str(value.value) if value is not None else None


def recorded_result_file(record: EventLogRecord) -> Path | None:
    """The result file a materialization names in its metadata, if any."""
    path = _metadata_text(record, RESULT_FILE_KEY)
    return Path(path).absolute() if path is not None else None


def partition_findings(record: EventLogRecord, audit: ResultAudit | None) -> list[str]:
    """What is wrong with one partition, in plain words (empty when its outputs are intact).

    Beyond the audit of its result file: the file's recorded digest must be the one Dagster
    recorded when the partition was materialized, so a result file replaced by another one
    whose digest matches its own content is caught too.
    """
    if audit is None:
        return [f"the latest materialization records no {RESULT_FILE_KEY}; nothing to audit"]
    problems = findings(audit)
    materialized = _metadata_text(record, DIGEST_KEY)
    if audit.recorded_digest is not None and materialized != audit.recorded_digest:
        problems.append(
            f"replaced result: {audit.result_file} records digest {audit.recorded_digest}, "
            f"but the materialization recorded {materialized}"
        )
    return problems


def _description(audit: ResultAudit | None, problems: list[str]) -> str:
    """The evaluation's description; Dagster's asset page renders it as markdown."""
    if audit is not None and not problems:
        return (
            f"all {audit.outputs_checked} proxies have their recorded size and SHA-256, the "
            "result's digest matches and the output folder holds nothing extra"
        )
    return "; ".join(map(markdown_text, problems))


def build_audit_job(translator: ProxxTranslator | None = None) -> JobDefinition:
    """`proxx_audit`: audit every materialized proxies partition, report `outputs_intact` per
    partition. `build_definitions` includes it, its declared check and its schedule; in your own
    Definitions, add the check declaration and the (partitioned) assets it is declared on too, so
    the asset page keeps a status per partition:

    .. code-block:: python

        from dagster import Definitions
        from proxx_dagster import ProxxTranslator, assert_no_retries, build_audit_job
        from proxx_dagster.assets import asset_specs
        from proxx_dagster.jobs.audit_job import declared_audit_check
        from proxx_dagster.schedules import build_audit_schedule
        from proxx_dagster.settings import ProxxAutomation

        translator = ProxxTranslator()
        audit = build_audit_job(translator)
        nightly_audit = build_audit_schedule(
            audit, ProxxAutomation(timezone="Europe/Berlin"), cron="30 5 * * *"
        )
        defs = assert_no_retries(
            Definitions(
                jobs=[audit],
                assets=asset_specs(translator),
                asset_checks=[declared_audit_check(translator)],
                schedules=[nightly_audit],
            )
        )
    """
    names = translator or ProxxTranslator()

    @op(
        name=AUDIT_OP,
        description="Audit the committed proxies of every materialized partition against its "
        "ExecutionResult (sizes, SHA-256s, digest, extra files); report outputs_intact per "
        "partition. Reads only; never encodes, re-runs or repairs.",
        out={},
    )
    def audit_proxies(context: OpExecutionContext) -> Iterator[AssetCheckEvaluation]:
        key = names.proxies_key()
        latest = latest_materializations(context.instance, key)
        files = {partition: recorded_result_file(r) for partition, r in latest.items()}
        report = audit_results([file for file in files.values() if file is not None])
        audits = {audit.result_file: audit for audit in report.results}
        failed = []
        for partition in sorted(latest):
            file = files[partition]
            audit = audits.get(str(file)) if file is not None else None
            problems = partition_findings(latest[partition], audit)
            passed = audit is not None and not problems
            if not passed:
                failed.append(partition)
            yield AssetCheckEvaluation(
                asset_key=key,
                check_name=names.outputs_intact_check(),
                passed=passed,
                partition=partition,
                target_materialization_data=materialization_target(latest[partition]),
                severity=AssetCheckSeverity.ERROR,
                description=_description(audit, problems),
                metadata=names.audit_metadata(audit, problems) if audit is not None else {},
            )
        totals = report.totals
        context.log.info(
            f"audited {len(latest)} partition(s): {len(latest) - len(failed)} intact; "
            f"{totals.outputs_checked} proxies, {totals.bytes_hashed} bytes hashed"
        )
        if failed:
            raise Failure(
                description=f"{names.outputs_intact_check()} failed for {len(failed)} of "
                f"{len(latest)} partition(s): {', '.join(failed)}. Nothing was re-run or "
                "repaired; each partition's check says what is missing, changed or extra.",
                metadata=totals.model_dump(),
                allow_retries=False,
            )

    return single_op_job(
        AUDIT_JOB,
        "Audit the proxies of every materialized partition (hash only) and report "
        "the outputs_intact check per partition. Never re-runs or repairs a job.",
        audit_proxies,
        IN_PROCESS_EXECUTOR,
    )
