"""Layer 1: definitions that could retry a proxx op are refused at load, naming the offender."""

from __future__ import annotations

import pytest
from dagster import (
    Definitions,
    ExecutorDefinition,
    RetryPolicy,
    graph,
    in_process_executor,
    job,
    multiprocess_executor,
    op,
)

from proxx_dagster import (
    RetryConfigurationError,
    assert_no_retries,
    build_batch_job,
    build_definitions,
    build_execute_jobspec_op,
    proxx_resources,
)
from proxx_dagster.no_retry import NO_RETRY_EXECUTOR_CONFIG, NO_RETRY_TAGS

NO_RETRY = dict(NO_RETRY_EXECUTOR_CONFIG)
NO_RETRY_IN_PROCESS = in_process_executor.configured(NO_RETRY)

execute_jobspec = build_execute_jobspec_op()


def test_op_level_retry_policy_is_refused() -> None:
    retried = execute_jobspec.with_retry_policy(RetryPolicy(max_retries=2))

    @job(name="nightly", tags=dict(NO_RETRY_TAGS))
    def nightly() -> None:
        retried()

    with pytest.raises(RetryConfigurationError, match="op 'execute_jobspec' in job 'nightly'"):
        assert_no_retries(Definitions(jobs=[nightly], resources=proxx_resources()))


def test_job_level_op_retry_policy_is_refused() -> None:
    @job(name="with_policy", op_retry_policy=RetryPolicy(max_retries=1))
    def with_policy() -> None:
        execute_jobspec()

    with pytest.raises(RetryConfigurationError, match="job 'with_policy' sets op_retry_policy"):
        assert_no_retries(Definitions(jobs=[with_policy], resources=proxx_resources()))


@pytest.mark.parametrize(
    ("tag", "value"),
    [("dagster/max_retries", "3"), ("dagster/retry_on_asset_or_op_failure", "true")],
)
def test_retry_enabling_run_tags_are_refused(tag: str, value: str) -> None:
    @job(name="tagged", tags={tag: value})
    def tagged() -> None:
        execute_jobspec()

    with pytest.raises(RetryConfigurationError, match=f"job 'tagged' has tag {tag}"):
        assert_no_retries(Definitions(jobs=[tagged], resources=proxx_resources()))


def test_retry_policy_inside_a_nested_graph_is_refused() -> None:
    @graph
    def wrapped() -> None:
        execute_jobspec.with_retry_policy(RetryPolicy(max_retries=1))()

    @job(name="outer")
    def outer() -> None:
        wrapped()

    with pytest.raises(RetryConfigurationError, match=r"op 'wrapped\.execute_jobspec'"):
        assert_no_retries(Definitions(jobs=[outer], resources=proxx_resources()))


def test_jobs_without_proxx_ops_are_not_our_business() -> None:
    @op(retry_policy=RetryPolicy(max_retries=3))
    def unrelated() -> None: ...

    @job(name="theirs", tags={"dagster/max_retries": "5"})
    def theirs() -> None:
        unrelated()

    defs = Definitions(jobs=[theirs])
    assert assert_no_retries(defs) is defs


def test_our_definitions_load_and_a_wrapper_without_retries_passes() -> None:
    assert build_definitions().resolve_job_def("proxx_job").name == "proxx_job"

    @job(name="mine", tags=dict(NO_RETRY_TAGS), executor_def=NO_RETRY_IN_PROCESS)
    def mine() -> None:
        execute_jobspec()

    defs = Definitions(jobs=[mine], resources=proxx_resources())
    assert assert_no_retries(defs) is defs
    batch = build_batch_job(executor_def=multiprocess_executor.configured(NO_RETRY))
    assert assert_no_retries(Definitions(jobs=[batch], resources=proxx_resources())).jobs


@pytest.mark.parametrize(
    ("executor", "expected"),
    [
        (None, "executor 'multi_or_in_process_executor' of job 'default' lets run config"),
        (multiprocess_executor, "executor 'multiprocess' of job 'default' lets run config"),
        (
            multiprocess_executor.configured({"retries": {"enabled": {}}}),
            "executor 'multiprocess' of job 'default' has retries enabled",
        ),
    ],
)
def test_executors_that_could_retry_are_refused(
    executor: ExecutorDefinition | None, expected: str
) -> None:
    @job(name="default", tags=dict(NO_RETRY_TAGS), executor_def=executor)
    def default() -> None:
        execute_jobspec()

    with pytest.raises(RetryConfigurationError, match=expected):
        assert_no_retries(Definitions(jobs=[default], resources=proxx_resources()))
    batch = build_batch_job(executor_def=executor or multiprocess_executor)
    with pytest.raises(RetryConfigurationError, match="of job 'proxx_batch'"):
        assert_no_retries(Definitions(jobs=[batch], resources=proxx_resources()))
