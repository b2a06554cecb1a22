"""The Dagster instance settings (dagster.yaml) for a machine of N cores.

`python -m proxx_dagster.sizing --cores 64 > $DAGSTER_HOME/dagster.yaml` writes them; without
--cores, for PROXX_CORES or this machine's core count. They size orchestration only: a job's
commands (its pinned thread count) never depend on N.

Encode slots are the cores divided by the most threads any built-in profile pins, so that the
busiest mix of profiles fills the machine without oversubscribing it. A few slots more keep the
cores busy while some jobs start up (process, probe, plan: little CPU).

The run queue launches a run only when the pool has a place for its first step, counting the
steps already holding or waiting for a place and the runs launched or started in the last 5 s
(Dagster's `block_op_concurrency_limited_runs`; every proxx run that encodes begins with a step
in the pool). A run started to wait at a full pool would cost a whole core while it waits: Dagster
1.13's executors ask the pool again without pausing (in process:
`interval_to_next_pending_claim_check` never returns more than 0 s; multiprocess: its loop has
no pause while none of the run's steps is running; measured: 99 % of a core for as long as the
step waits). Runs may be twice the pool's places so that a run in its last step outside the pool
(a card's finish) does not hold a free place back.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from proxx_dagster.names import ENCODE_POOL
from proxx_dagster.settings import SettingsProblem, configured_cores
from proxx_exec import BUILTIN_PROFILES

# A run's start-up (run worker process, imports, plan, first probe) is about 6 s; a typical clip
# encodes for about 60 s. A slot spends that share of its time not encoding.
RUN_START_UP_S = 6.0
TYPICAL_ENCODE_S = 60.0
DEQUEUE_INTERVAL_S = 1  # Dagster's default is 5 s: a freed run slot would stand idle that long
MIN_CORES, MAX_CORES = 1, 4096  # as PROXX_CORES


def most_threads() -> int:
    """The most encoder threads any built-in profile pins."""
    return max(profile.threads for profile in BUILTIN_PROFILES.values())


def encode_slots(cores: int) -> int:
    """Encodes that fill `cores` cores, at least one."""
    return max(1, cores // most_threads())


def ahead(slots: int) -> int:
    """Encode slots beyond the cores, covering the start-up share of the slots' time."""
    return max(1, math.ceil(slots * RUN_START_UP_S / TYPICAL_ENCODE_S))


def pool_limit(cores: int) -> int:
    slots = encode_slots(cores)
    return slots + ahead(slots)


def max_concurrent_runs(cores: int) -> int:
    """Twice the pool's places. The pool, not this, decides when an encoding run starts (the run
    queue holds a run back while the pool has no place for its first step); the other half lets
    runs past their encodes (a card's finish) and runs that never encode (the audit) go on
    without holding a free place back."""
    return 2 * pool_limit(cores)


_SQLITE_HEADER = """\
# Instance configuration for the embedded SQLite default (DAGSTER_HOME/storage).
# For PostgreSQL use dagster.postgres.yaml beside this file instead: same settings, other storage.
"""
_POSTGRES_HEADER = """\
# Instance configuration for PostgreSQL (dagster-postgres): runs, events and schedules in one
# database. Set DAGSTER_POSTGRES_URL, e.g.
#   postgresql+psycopg2://dagster:secret@db.example:5432/dagster
# (name the psycopg2 driver: dagster-postgres ships it, and newer SQLAlchemy defaults to psycopg 3)
# Copy to $DAGSTER_HOME/dagster.yaml; no code changes.
"""
_POSTGRES_STORAGE = """
storage:
  postgres:
    postgres_url:
      env: DAGSTER_POSTGRES_URL
"""


def instance_yaml(cores: int, postgres: bool = False) -> str:
    """The dagster.yaml text for a machine of `cores` cores."""
    slots, extra, threads, pool = (
        encode_slots(cores),
        ahead(encode_slots(cores)),
        most_threads(),
        ENCODE_POOL,
    )
    start_up, encode = f"{RUN_START_UP_S:g}", f"{TYPICAL_ENCODE_S:g}"
    flag = " --postgres" if postgres else ""
    return (
        (_POSTGRES_HEADER if postgres else _SQLITE_HEADER)
        + f"""\
#
# Sized for a machine of {cores} cores by `python -m proxx_dagster.sizing --cores {cores}{flag}`.
# For a machine of N cores write it again rather than editing the numbers:
#   python -m proxx_dagster.sizing --cores N{flag} > $DAGSTER_HOME/dagster.yaml
# (`python3 dev.py ui` and `demo` write it for PROXX_CORES, else this machine's core count).
telemetry:
  enabled: false

# Dagster's run queue: launched runs wait here until a slot is free; they never fail for it.
# Encodes run in the pool {pool}: {cores} cores / {threads} threads (the most a built-in
# profile pins) = {slots} encodes, plus {extra} for the share of its time a job spends starting
# up (~{start_up} s of a ~{encode} s clip). Runs: twice the pool's places, for runs past their
# encodes; the queue starts an encoding run only when the pool has a place for it (below).
concurrency:
  runs:
    max_concurrent_runs: {max_concurrent_runs(cores)}
  pools:
    granularity: op
    default_limit: {pool_limit(cores)}
    # No run is launched on the strength of a place not yet free (see run_queue below).
    op_granularity_run_buffer: 0

run_queue:
  # Look for a free run slot every second, launching each run in its own thread.
  dequeue_interval_seconds: {DEQUEUE_INTERVAL_S}
  dequeue_use_threads: true
  # Launch a run only when the pool of its first step has a free place, counting the steps
  # holding or waiting for a place and the runs launched or started in the last 5 s, so that
  # runs do not start just to wait at the pool (a worker spins a core there in Dagster 1.13).
  block_op_concurrency_limited_runs:
    enabled: true

# Run retries stay off at the instance level too; proxx runs also carry
# dagster/max_retries=0 and refuse to run as a retry.
run_retries:
  enabled: false

run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  # A run worker that dies is reported failed, never resumed: resuming would start FFmpeg again.
  max_resume_run_attempts: 0
"""
        + (_POSTGRES_STORAGE if postgres else "")
    )


def _cores_default() -> int:
    try:
        return configured_cores()
    except SettingsProblem as problem:
        typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None


def main(
    cores: Annotated[
        int | None,
        typer.Option(
            min=MIN_CORES,
            max=MAX_CORES,
            help="Cores of the machine (default: PROXX_CORES, else this machine's).",
        ),
    ] = None,
    postgres: Annotated[
        bool, typer.Option("--postgres", help="PostgreSQL storage (DAGSTER_POSTGRES_URL).")
    ] = False,
) -> None:
    """Print the Dagster instance settings (dagster.yaml) for a machine of N cores."""
    typer.echo(instance_yaml(cores if cores is not None else _cores_default(), postgres), nl=False)


if __name__ == "__main__":
    typer.run(main)
