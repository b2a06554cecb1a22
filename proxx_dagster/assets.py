"""The asset graph: source media -> proxies, partitioned by job_id, with declared checks.

Both assets are external to Dagster's compute: `proxx_job` reports their events from its
ExecutionResult, so lineage and history live in Dagster while execution stays in proxx_exec.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSpec,
    AssetSpec,
    DynamicPartitionsDefinition,
    Failure,
    multi_asset_check,
)

from proxx_dagster.names import ASSET_GROUP, CHECKS_DEFINITION, JOB_PARTITIONS
from proxx_dagster.translator import ProxxTranslator

JOB_PARTITIONS_DEF = DynamicPartitionsDefinition(name=JOB_PARTITIONS)


def asset_specs(translator: ProxxTranslator) -> list[AssetSpec]:
    sources = AssetSpec(
        translator.source_media_key(),
        description="Camera clips named by JobSpecs; observed (path list) by each proxx job.",
        partitions_def=JOB_PARTITIONS_DEF,
        group_name=ASSET_GROUP,
    )
    proxies = AssetSpec(
        translator.proxies_key(),
        description="Verified editing proxies, one partition per JobSpec job_id.",
        deps=[sources.key],
        partitions_def=JOB_PARTITIONS_DEF,
        group_name=ASSET_GROUP,
        metadata={"proxx/partitioned_by": "JobSpec job_id"},
    )
    return [sources, proxies]


def declared_checks(translator: ProxxTranslator) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(
            name,
            asset=translator.proxies_key(),
            description=f"proxx verification check {name!r}, as recorded in the "
            "job's ExecutionResult",
        )
        for name in translator.declared_check_names()
    ]
    specs.append(
        AssetCheckSpec(
            translator.handed_off_check(),
            asset=translator.proxies_key(),
            description="After a COMPLETED job: its ALE and FCPXML written beside the proxies "
            "and its proxy folder sealed with a new ASC MHL generation. A failure here never "
            "fails the job: its proxies and result stand.",
        )
    )

    @multi_asset_check(specs=specs, name=CHECKS_DEFINITION)
    def proxx_verification() -> Iterator[AssetCheckResult]:
        raise Failure(
            description="proxx checks are reported by proxx_job from each ExecutionResult and "
            "are never re-run. To check again, launch the JobSpec as a new job.",
            allow_retries=False,
        )
        yield  # pragma: no cover - makes this a generator, as Dagster expects

    return proxx_verification
