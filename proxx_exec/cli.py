"""The `proxx` command: validate, plan and run JobSpecs from a shell, no orchestrator needed.

Exit codes: 0 valid / COMPLETED, 1 invalid / FAILED, 2 usage error.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from proxx_exec.failures import JobFailure, clip_label
from proxx_exec.jobspec import JobSpec, jobspec_schema, load_jobspec
from proxx_exec.plan import JobPlan
from proxx_exec.posters import PosterSet
from proxx_exec.profiles import BUILTIN_PROFILES
from proxx_exec.result import ExecutionResult, write_result
from proxx_exec.run import ClipProgress, execute_file
from proxx_exec.samples import make_card
from proxx_exec.sheets import posters_with_contact_sheet
from proxx_exec.validate import ValidatedJob, validate_job

app = typer.Typer(
    help="Deterministic editing proxies with a pinned FFmpeg engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, emoji=False, highlight=False, soft_wrap=True)

SpecArgument = Annotated[
    Path, typer.Argument(help="JobSpec file (JSON or YAML).", show_default=False)
]


def _fail(error: JobFailure) -> typer.Exit:
    err.print(f"[bold red]invalid[/] {error.failure_class.value} {error.reason.value}")
    err.print(error.message, markup=False)
    return typer.Exit(1)


def _validated(spec_path: Path) -> tuple[JobSpec, ValidatedJob]:
    try:
        spec = load_jobspec(spec_path)
        return spec, validate_job(spec)
    except JobFailure as error:
        raise _fail(error) from None


@app.command()
def validate(spec: SpecArgument) -> None:
    """Check a JobSpec without writing anything."""
    job_spec, job = _validated(spec)
    err.print(
        f"[green]valid[/] job {job_spec.job_id}: {len(job.plan.clips)} clip(s), profile "
        f"{job.plan.profile.name}, engine {job.plan.engine.name}"
    )


def _shell_line(plan_argv: tuple[str, ...], binary: Path) -> str:
    return shlex.join([str(binary), *plan_argv[1:]])


@app.command()
def plan(
    spec: SpecArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Print the exact FFmpeg commands the job will run, one per clip, in order."""
    _, job = _validated(spec)
    if as_json:
        document = job.plan.model_dump(mode="json")
        document["engine_binary"] = str(job.engine_binary)
        typer.echo(json.dumps(document, indent=2))
        return
    _print_plan(job.plan, job.engine_binary)


def _print_plan(job_plan: JobPlan, binary: Path) -> None:
    typer.echo(
        f"# job {job_plan.job_id} · spec {job_plan.spec_fingerprint[:16]} · "
        f"{job_plan.engine.version_line}"
    )
    for clip in job_plan.clips:
        typer.echo(f"# {clip_label(clip.index)}: {clip.source} -> {clip.output}")
        for decision in clip.decisions:
            typer.echo(f"#   {decision.property}: {decision.found} -> {decision.decided}")
        for stage in clip.cpu_dependent:
            typer.echo(f"#   not bit-exact across CPUs: {stage}")
        typer.echo(_shell_line(clip.argv, binary))


class _Bars:
    """One rich progress bar per clip, fed by the job's progress callback."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[int, tuple[TaskID, str]] = {}

    def __call__(self, event: ClipProgress) -> None:
        if event.index not in self._tasks:
            label = f"{event.number}/{event.clip_count} {Path(event.source).name}"
            self._tasks[event.index] = (
                self._progress.add_task(label, total=event.frames_total),
                label,
            )
        task, label = self._tasks[event.index]
        self._progress.update(
            task,
            completed=min(event.frames_done, event.frames_total),
            description=f"{label} [{event.phase}]",
        )


@app.command()
def run(
    spec: SpecArgument,
    result: Annotated[
        Path | None,
        typer.Option(
            "--result",
            help="Also write the ExecutionResult JSON here (must not exist). Without "
            "it the JSON goes to standard output.",
            dir_okay=False,
        ),
    ] = None,
    posters: Annotated[
        bool,
        typer.Option(
            "--posters",
            help="After a COMPLETED job, also make a poster frame of each proxy and a contact "
            "sheet beside the result. Never changes the result or the exit code.",
        ),
    ] = False,
) -> None:
    """Run the job: each clip encoded once, verified, then all committed; print the result."""
    if result is not None and result.exists():
        err.print(f"[red]--result {result} already exists; results are never overwritten[/]")
        raise typer.Exit(2)
    if result is not None and not result.resolve().parent.is_dir():
        err.print(f"[red]--result {result}: folder {result.resolve().parent} does not exist[/]")
        raise typer.Exit(2)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        console=err,
    ) as progress:
        outcome = execute_file(spec, on_progress=_Bars(progress))
    _emit(outcome, result)
    if posters and outcome.completed:
        _report_posters(posters_with_contact_sheet(outcome))
    raise typer.Exit(0 if outcome.completed else 1)


def _report_posters(made: PosterSet) -> None:
    count = sum(1 for poster in made.posters if poster.path is not None)
    err.print(f"posters: {count} of {len(made.posters)} in {made.folder}", markup=False)
    if made.contact_sheet:
        err.print(f"contact sheet: {made.contact_sheet}", markup=False)
    for problem in made.problems:
        err.print(f"poster not made (the proxies are unaffected): {problem}", markup=False)


def _emit(outcome: ExecutionResult, result_file: Path | None) -> None:
    if result_file is not None:
        write_result(outcome, result_file)
    else:
        sys.stdout.write(outcome.to_json())
    if outcome.failure is None:
        err.print(
            f"[bold green]COMPLETED[/] {outcome.job_id}: {len(outcome.clips)} proxies, "
            f"digest {outcome.digest[:16]}"
        )
    else:
        failure = outcome.failure
        err.print(
            f"[bold red]FAILED[/] {outcome.job_id}: {failure.failure_class.value} "
            f"{failure.reason.value}"
        )
        err.print(failure.message, markup=False)


@app.command()
def schema() -> None:
    """Print the JobSpec JSON Schema."""
    typer.echo(json.dumps(jobspec_schema(), indent=2))


@app.command()
def profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print the profiles as JSON.")] = False,
) -> None:
    """List the built-in profiles with every setting."""
    dumped = [profile.model_dump(mode="json") for profile in BUILTIN_PROFILES.values()]
    if as_json:
        typer.echo(json.dumps(dumped, indent=2))
        return
    # One row per setting, grouped by profile: it fits any terminal width without breaking a
    # name or a value in the middle.
    table = Table(title="built-in profiles")
    table.add_column("profile", no_wrap=True, style="bold")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", no_wrap=True)
    for profile in dumped:
        settings = [(k, v) for k, v in profile.items() if k != "name" and v is not None]
        for row, (setting, value) in enumerate(settings):
            table.add_row(profile["name"] if row == 0 else "", setting, str(value))
        table.add_section()
    Console(emoji=False, highlight=False).print(table)


@app.command()
def samples(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the clips (made if missing).", file_okay=False)
    ],
    count: Annotated[int, typer.Option(min=1, max=100, help="How many clips.")] = 3,
    seconds: Annotated[float, typer.Option(min=0.2, max=600, help="Length of each.")] = 2.0,
) -> None:
    """Make synthetic camera clips (ProRes HQ, timecode, reel name, two audio tracks) and a
    JobSpec for them, to try proxx on."""
    try:
        card = make_card(folder.resolve(), count, seconds)
    except FileExistsError as error:
        err.print(f"[red]{error.filename} exists; samples never overwrite[/]")
        raise typer.Exit(1) from None
    except OSError as error:
        err.print(f"[red]cannot write into {folder}: {error.strerror or error}[/]")
        raise typer.Exit(1) from None
    for clip in card.clips:
        typer.echo(str(clip))
    err.print(f"a JobSpec for these clips: {card.jobspec}")
    err.print("try it (no line breaks in these commands):", markup=False)
    program = shlex.quote(sys.argv[0])  # the proxx the user ran, e.g. .venv/bin/proxx
    for command in ("plan", "run"):
        err.print(
            f"  {program} {command} {shlex.quote(str(card.jobspec))}", markup=False, soft_wrap=True
        )


def main() -> None:
    app()
