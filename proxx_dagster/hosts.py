"""One run, one engine, whatever host runs its steps.

When a run's first proxx step starts, the run is stamped with the engine that step's JobSpec
names (`imageio-ffmpeg` or a path), its SHA-256 on this host, the host's name (`PROXX_HOST_NAME`,
default the machine's host name) and the run's id. A later step of the same run whose JobSpec
names the same engine but finds another SHA-256 - on another host, or on a host of the same
name - fails with `EngineNotHere`, before anything runs: a card's proxies never come from two
engines. A JobSpec of a batch that names another engine is its own choice, recorded in its
result. A stamp naming another run (tags copied by a re-execution) is replaced.

Two steps starting in the same instant on two hosts may each stamp the run (run tags have no
compare-and-set); each job's result still records its own engine, and a JobSpec's
`engine_sha256` pins it outright.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from dagster import DagsterRun, Failure, MetadataValue, OpExecutionContext

from proxx_exec.engines import EngineIdentity, identify_engine
from proxx_exec.failures import JobFailure
from proxx_exec.jobspec import load_jobspec_bytes

HOST_NAME_ENV = "PROXX_HOST_NAME"
ENGINE_TAG = "proxx/engine"  # the JobSpec's engine field the stamp is for
ENGINE_SHA256_TAG = "proxx/engine_sha256"
ENGINE_HOST_TAG = "proxx/engine_host"
ENGINE_RUN_TAG = "proxx/engine_run"
HOST_METADATA_KEY = "proxx/host"


def host_name() -> str:
    """This host's name as runs show it: PROXX_HOST_NAME, or the machine's host name."""
    return os.environ.get(HOST_NAME_ENV, "").strip() or socket.gethostname()


class EngineNotHere(Failure):
    """A step of a run on a host whose engine is not the run's: refused before anything ran."""

    def __init__(self, message: str) -> None:
        super().__init__(description=message, allow_retries=False)


@dataclass(frozen=True)
class EngineStamp:
    engine: str
    sha256: str
    host: str

    @classmethod
    def of_run(cls, run: DagsterRun) -> EngineStamp | None:
        """The run's own stamp; None when there is none or it was copied from another run."""
        tags = run.tags
        engine, sha256 = tags.get(ENGINE_TAG), tags.get(ENGINE_SHA256_TAG)
        host = tags.get(ENGINE_HOST_TAG)
        if tags.get(ENGINE_RUN_TAG) != run.run_id or not engine or not sha256 or not host:
            return None
        return cls(engine=engine, sha256=sha256, host=host)


def _engine_here(raw: bytes) -> tuple[str, EngineIdentity] | None:
    """The engine the document names and its identity on this host; None when the document or
    its engine cannot be read (the job's own validation then refuses it, in its result)."""
    try:
        spec = load_jobspec_bytes(raw)
        identity, _ = identify_engine(spec.engine)
    except JobFailure:
        return None
    return spec.engine, identity


def check_engine_host(context: OpExecutionContext, raw: bytes) -> dict[str, Any]:
    """Stamp the run with this host's engine, or check this host's engine against the stamp;
    the step's `proxx/host` metadata. Raises EngineNotHere on another host's other engine."""
    here = host_name()
    metadata = {HOST_METADATA_KEY: MetadataValue.text(here)}
    run = context.instance.get_run_by_id(context.run_id)  # fresh tags, not the step's copy
    stamp = EngineStamp.of_run(run) if run is not None else None
    # Compared on every step, the stamping host's too: a host name says nothing about the
    # engine (two pods of different images on one node share it). Hashing costs ~0.1 s of CPU.
    here_engine = _engine_here(raw)
    if here_engine is None:
        return metadata
    engine, identity = here_engine
    if stamp is None:
        context.instance.add_run_tags(
            context.run_id,
            {
                ENGINE_TAG: engine,
                ENGINE_SHA256_TAG: identity.sha256,
                ENGINE_HOST_TAG: here,
                ENGINE_RUN_TAG: context.run_id,
            },
        )
        return metadata
    if stamp.engine == engine and stamp.sha256 != identity.sha256:
        raise EngineNotHere(
            f"this step is on host {here}, whose engine ({identity.name}) has SHA-256 "
            f"{identity.sha256}; this run's engine, stamped by host {stamp.host}, has SHA-256 "
            f"{stamp.sha256}. One run never mixes engines, so nothing was run here: give "
            f"{here} the same engine (the imageio-ffmpeg wheel of the same lock file, "
            "`python3 dev.py setup` from the same commit) or stop its workers taking this "
            "run's steps"
        )
    return metadata
