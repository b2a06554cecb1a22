"""The `proxx` command: validate, plan and run JobSpecs from a shell, no orchestrator needed;
audit and reproduce finished jobs.

Exit codes: 0 valid / COMPLETED / intact / identical, 1 invalid / FAILED / not intact / not
identical, 2 usage error, 3 reproduce refused (nothing was run).
"""

from __future__ import annotations

import io
import json
import shlex
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console

from proxx_exec.display import rich_text, visible
from proxx_exec.failures import JobFailure, clip_label

# Each command imports what it needs when it runs: `proxx --help` or `proxx audit` do not load
# the media library, and `proxx run` reaches its first encode sooner.
if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from proxx_exec.jobspec import JobSpec
    from proxx_exec.plan import JobPlan
    from proxx_exec.result import ClipResult, ExecutionResult
    from proxx_exec.run import ClipProgress
    from proxx_exec.tools.audit import AuditReport, ResultAudit
    from proxx_exec.tools.posters import PosterSet
    from proxx_exec.tools.reproduce import ClipReproduction, ReproducibleJob
    from proxx_exec.validate import ValidatedJob

app = typer.Typer(
    help="Deterministic editing proxies with a pinned FFmpeg engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _Supplemental(io.TextIOBase):
    """Standard error, where progress and messages go: supplemental, so a stream that cannot
    be written (a full disk, a closed pipe, no descriptor 2 at all) loses them and nothing
    else; the job, its result and the exit code stay what they are."""

    def write(self, text: str) -> int:
        with suppress(OSError, ValueError, AttributeError):  # AttributeError: no stderr (None)
            sys.stderr.write(text)
        return len(text)

    def flush(self) -> None:
        with suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()

    def isatty(self) -> bool:
        with suppress(OSError, ValueError, AttributeError):
            return sys.stderr.isatty()
        return False


# rich writes, flushes and asks isatty(): all a text stream needs here.
err = Console(file=cast(IO[str], _Supplemental()), emoji=False, highlight=False, soft_wrap=True)
out = Console(emoji=False, highlight=False, soft_wrap=True)
REFUSED = 3

SpecArgument = Annotated[
    Path, typer.Argument(help="JobSpec file (JSON or YAML).", show_default=False)
]


@contextmanager
def _terminate_interrupts() -> Iterator[None]:
    """SIGTERM (`kill`, `timeout`, a service manager stopping proxx) stops a job as Ctrl-C
    does: the engine killed, the staging folder removed, the INTERRUPTED result written; by
    default Python would die on the spot and leave the staging folder, refusing the next run of
    the job. The process still ends with the status a SIGTERM gives (143)."""

    def stop(number: int, _: object) -> None:
        raise SystemExit(128 + number)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fail(error: JobFailure) -> typer.Exit:
    err.print(f"[bold red]invalid[/] {error.failure_class.value} {error.reason.value}")
    err.print(visible(error.message, keep_line_breaks=True), markup=False)
    return typer.Exit(1)


def _validated(spec_path: Path) -> tuple[JobSpec, ValidatedJob]:
    from proxx_exec.jobspec import load_jobspec  # noqa: PLC0415 - see the imports
    from proxx_exec.validate import validate_job  # noqa: PLC0415

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
        f"[green]valid[/] job {rich_text(job_spec.job_id)}: {len(job.plan.clips)} clip(s), "
        f"profile {rich_text(job.plan.profile.name)}, engine {rich_text(job.plan.engine.name)}"
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
        f"# job {visible(job_plan.job_id)} · spec {job_plan.spec_fingerprint[:16]} · "
        f"{visible(job_plan.engine.version_line)}"
    )
    for clip in job_plan.clips:
        # a comment line each: a name cannot end the comment and start a command
        typer.echo(f"# {clip_label(clip.index)}: {visible(clip.source)} -> {visible(clip.output)}")
        for decision in clip.decisions:
            typer.echo(
                f"#   {decision.property}: {visible(decision.found)} -> {visible(decision.decided)}"
            )
        for stage in clip.cpu_dependent:
            typer.echo(f"#   not bit-exact across CPUs: {visible(stage)}")
        typer.echo(_shell_line(clip.argv, binary))


class _Bars:
    """One rich progress bar per clip, fed by the job's progress callback."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[int, tuple[TaskID, str]] = {}

    def __call__(self, event: ClipProgress) -> None:
        if event.index not in self._tasks:
            label = f"{event.number}/{event.clip_count} {rich_text(Path(event.source).name)}"
            self._tasks[event.index] = (
                self._progress.add_task(label, total=event.frames_total),
                label,
            )
        task, label = self._tasks[event.index]
        self._progress.update(
            task,
            completed=min(event.frames_done, event.frames_total),
            description=f"{label} {rich_text(f'[{event.phase}]')}",
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
        err.print(
            f"[red]--result {rich_text(result)} already exists; results are never overwritten[/]"
        )
        raise typer.Exit(2)
    from rich.progress import (  # noqa: PLC0415 - see the imports
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
    )

    from proxx_exec.run import execute_file  # noqa: PLC0415

    if result is not None and not result.resolve().parent.is_dir():
        folder = result.resolve().parent
        err.print(
            f"[red]--result {rich_text(result)}: folder {rich_text(folder)} does not exist[/]"
        )
        raise typer.Exit(2)
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("frames"),
            console=err,
        ) as progress,
        _terminate_interrupts(),
    ):
        outcome = execute_file(spec, on_progress=_Bars(progress))
    _emit(outcome, result)
    if posters and outcome.completed:
        from proxx_exec.tools.sheets import posters_with_contact_sheet  # noqa: PLC0415 - see imports

        _report_posters(posters_with_contact_sheet(outcome))
    raise typer.Exit(0 if outcome.completed else 1)


def _report_posters(made: PosterSet) -> None:
    count = sum(1 for poster in made.posters if poster.path is not None)
    err.print(f"posters: {count} of {len(made.posters)} in {visible(made.folder)}", markup=False)
    if made.contact_sheet:
        err.print(f"contact sheet: {visible(made.contact_sheet)}", markup=False)
    for problem in made.problems:
        err.print(f"poster not made (the proxies are unaffected): {visible(problem)}", markup=False)


def _emit(outcome: ExecutionResult, result_file: Path | None) -> None:
    from proxx_exec.result import write_result  # noqa: PLC0415 - see the imports

    written = False
    if result_file is not None:
        try:
            write_result(outcome, result_file)
            written = True
        except OSError as error:  # the job has run: its result must not be lost
            err.print(
                f"--result {visible(result_file)} could not be written "
                f"({visible(error.strerror or error)}); the result follows on standard output",
                markup=False,
            )
    if not written:
        sys.stdout.write(outcome.to_json())
    if outcome.failure is None:
        err.print(
            f"[bold green]COMPLETED[/] {rich_text(outcome.job_id)}: {len(outcome.clips)} proxies, "
            f"digest {outcome.digest[:16]}"
        )
    else:
        failure = outcome.failure
        err.print(
            f"[bold red]FAILED[/] {rich_text(outcome.job_id or '(no job_id read)')}: "
            f"{failure.failure_class.value} "
            f"{failure.reason.value}"
        )
        err.print(visible(failure.message, keep_line_breaks=True), markup=False)


@app.command()
def audit(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="ExecutionResult files (e.g. /proxies/day1/*.proxx-result.json).",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check that every committed proxy still has its recorded size and SHA-256, that each
    result's digest matches its content, and that the output folders hold nothing extra.
    Hashes only; decodes nothing. Exit 0 only when everything matches."""
    from proxx_exec.tools.audit import audit_results  # noqa: PLC0415 - see the imports

    report = audit_results(results)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_audit(report)
    raise typer.Exit(0 if report.intact else 1)


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} bytes"
    value, units = count / 1000, ["KB", "MB", "GB"]
    while value >= 1000 and len(units) > 1:
        value, units = value / 1000, units[1:]
    return f"{value:.1f} {units[0]}"


def _audit_heading(audit: ResultAudit) -> str:
    if audit.problem is not None:
        return f"[bold red]CANNOT AUDIT[/] {rich_text(audit.result_file)}"
    what = (
        f"{audit.job_id} ({audit.status}, {audit.outputs_checked} proxies, "
        f"{_size(audit.bytes_hashed)} hashed)"
    )
    verdict = "[green]intact[/]" if audit.intact else "[bold red]NOT INTACT[/]"
    return f"{verdict} {rich_text(what)}  {rich_text(audit.result_file)}"


def _print_audit(report: AuditReport) -> None:
    from proxx_exec.tools.audit import findings  # noqa: PLC0415 - see the imports

    for audit in report.results:
        out.print(_audit_heading(audit))
        for line in findings(audit):
            out.print(f"    {visible(line)}", markup=False)
    totals = report.totals
    out.print(
        f"audited {totals.results} result file(s): {totals.intact} intact, "
        f"{totals.not_intact} not intact ({totals.missing} missing, {totals.changed} changed, "
        f"{totals.extra} extra, {totals.tampered} tampered, {totals.unreadable} unreadable); "
        f"{totals.outputs_checked} proxies, {_size(totals.bytes_hashed)} hashed"
    )


@contextmanager
def _scratch_folder(into: Path | None, keep: bool) -> Iterator[Path]:
    """The folder the reproduction writes into: the one given, or a new temporary one that is
    removed afterwards unless kept."""
    if into is not None:
        into.mkdir(exist_ok=True)  # new or empty: checked before
        yield into
    elif keep:
        yield Path(tempfile.mkdtemp(prefix="proxx-reproduce-"))
    else:
        with tempfile.TemporaryDirectory(prefix="proxx-reproduce-") as name:
            yield Path(name)


@app.command()
def reproduce(
    result: Annotated[
        Path, typer.Argument(help="The job's ExecutionResult file.", show_default=False)
    ],
    into: Annotated[
        Path | None,
        typer.Option(
            "--into",
            help="Folder for the reproduced proxies: new or empty, outside the job's output "
            "folder; kept afterwards. Default: a new temporary folder.",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temporary folder and name it.")
    ] = False,
) -> None:
    """Derive a COMPLETED job's commands again from its JobSpec (refused unless they are the
    recorded ones, with the same engine binary and probing library), run them into a scratch
    folder, verify each proxy, and compare its bytes with the recorded SHA-256. Never touches
    the committed proxies and writes no result. Exit 0 only when every clip is identical."""
    from proxx_exec.tools.reproduce import (  # noqa: PLC0415 - see the imports
        Refusal,
        load_reproducible,
        reproduce_clips,
        scratch_problem,
    )

    try:
        job = load_reproducible(result)
    except Refusal as refusal:
        _say_refused(refusal)
        raise typer.Exit(REFUSED) from None
    into = into.absolute() if into is not None else None
    if into is not None and (problem := scratch_problem(into, job.output_dir)):
        err.print(f"--into: {visible(problem)}", markup=False)
        raise typer.Exit(2)
    with _terminate_interrupts(), _scratch_folder(into, keep) as scratch:
        # --into was checked above; a temporary folder may land inside output_dir (TMPDIR)
        if into is None and (problem := scratch_problem(scratch, job.output_dir)):
            err.print(f"temporary folder: {visible(problem)}; give --into", markup=False)
            raise typer.Exit(2)
        kept = into is not None or keep
        _print_reproduction_heading(job, scratch, kept)
        try:
            clips = reproduce_clips(job, scratch, on_clip=_ClipAnnouncer(job))
        except Refusal as refusal:
            _say_refused(refusal)
            raise typer.Exit(REFUSED) from None
        identical = _print_reproduction(clips)
    raise typer.Exit(0 if identical else 1)


def _say_refused(refusal: Exception) -> None:
    err.print("[bold red]refused[/], nothing was run:", end=" ")
    err.print(visible(refusal), markup=False)


class _ClipAnnouncer:
    def __init__(self, job: ReproducibleJob) -> None:
        self._total = len(job.result.clips)

    def __call__(self, clip: ClipResult) -> None:
        err.print(
            f"{clip_label(clip.index)}/{self._total}: encoding and verifying "
            f"{visible(clip.source)} ...",
            markup=False,
        )


def _print_reproduction_heading(job: ReproducibleJob, scratch: Path, kept: bool) -> None:
    result = job.result
    recorded = result.engine
    assert recorded is not None
    out.print(f"[bold]Reproducing job {rich_text(result.job_id)}[/]")
    rows = (
        ("result", f"{job.result_file.absolute()}"),
        ("digest", f"{result.digest} (matches the result's content)"),
        ("engine", f"{recorded.name} · {recorded.version_line}"),
        ("engine SHA-256", f"{recorded.sha256} (recorded; the same as {job.binary} here)"),
        ("probing", f"{job.reading.prober.describe()} (recorded; the same here)"),
        ("commands", "derived again from the JobSpec here: the recorded ones"),
        ("compared with", "the SHA-256 the result records; the committed proxies are not read"),
        ("scratch folder", f"{scratch} ({'kept' if kept else 'removed afterwards'})"),
    )
    for name, value in rows:
        out.print(f"  {name:<15}{visible(value)}", markup=False)


def _print_reproduction(clips: list[ClipReproduction]) -> bool:
    from proxx_exec.tools.reproduce import Verdict  # noqa: PLC0415 - see the imports

    identical = [c for c in clips if c.verdict is Verdict.IDENTICAL]
    for clip in clips:
        same = clip.verdict is Verdict.IDENTICAL
        colour = "green" if same else "bold red"
        out.print(
            f"\n{clip_label(clip.index)}/{len(clips)} [{colour}]{clip.verdict.value.upper()}[/] "
            f"{rich_text(Path(clip.recorded_output).name)}"
        )
        lines = [f"source      {clip.source}"]
        lines.append(f"recorded    {clip.recorded_bytes} bytes, SHA-256 {clip.recorded_sha256}")
        if clip.reproduced_sha256 is not None:
            lines.append(
                f"reproduced  {clip.reproduced_bytes} bytes, SHA-256 {clip.reproduced_sha256}"
            )
        if clip.detail:
            lines.append(f"why         {clip.detail}")
        lines += [
            f"note        may differ on another CPU: {stage} (the plan says so)"
            for stage in clip.cpu_dependent
        ]
        for line in lines:
            out.print(f"  {visible(line)}", markup=False)
    if len(identical) == len(clips):
        out.print(
            f"\n[bold green]REPRODUCED[/]: all {len(clips)} proxies are byte-identical to the "
            "recorded SHA-256."
        )
        return True
    others = ", ".join(
        f"{clip_label(c.index)} {c.verdict.value}" for c in clips if c not in identical
    )
    out.print(
        f"\n[bold red]NOT REPRODUCED[/]: {len(identical)} of {len(clips)} proxies identical; "
        f"{others}."
    )
    return False


@app.command()
def schema() -> None:
    """Print the JobSpec JSON Schema."""
    from proxx_exec.jobspec import jobspec_schema  # noqa: PLC0415 - see the imports

    typer.echo(json.dumps(jobspec_schema(), indent=2))


@app.command()
def profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print the profiles as JSON.")] = False,
) -> None:
    """List the built-in profiles with every setting."""
    from rich.table import Table  # noqa: PLC0415 - see the imports

    from proxx_exec.profiles import BUILTIN_PROFILES  # noqa: PLC0415

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
def looks(
    as_json: Annotated[bool, typer.Option("--json", help="Print the looks as JSON.")] = False,
) -> None:
    """List the built-in looks: what each expects, its shipped LUT and the LUT's SHA-256."""
    from rich.table import Table  # noqa: PLC0415 - see the imports

    from proxx_exec.looks.builtin import BUILTIN_LOOKS  # noqa: PLC0415

    rows = [
        {"name": name, "expects": look.description, "lut": str(look.path), "sha256": look.sha256}
        for name, look in BUILTIN_LOOKS.items()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title='built-in looks (JobSpec `look`; or "none", or {"cube": "/path.cube"})')
    table.add_column("look", no_wrap=True, style="bold")
    table.add_column("expects")
    table.add_column("LUT SHA-256", no_wrap=True)
    for row in rows:
        table.add_row(row["name"], row["expects"], row["sha256"][:16] + "…")
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
    from proxx_exec.tools.samples import make_card  # noqa: PLC0415 - see the imports

    try:
        card = make_card(folder.resolve(), count, seconds)
    except FileExistsError as error:
        err.print(f"[red]{rich_text(error.filename)} exists; samples never overwrite[/]")
        raise typer.Exit(1) from None
    except OSError as error:
        err.print(
            f"[red]cannot write into {rich_text(folder)}: {rich_text(error.strerror or error)}[/]"
        )
        raise typer.Exit(1) from None
    for clip in card.clips:
        typer.echo(visible(clip))
    err.print(f"a JobSpec for these clips: {visible(card.jobspec)}", markup=False)
    err.print("try it (no line breaks in these commands):", markup=False)
    program = shlex.quote(sys.argv[0])  # the proxx the user ran, e.g. .venv/bin/proxx
    for command in ("plan", "run"):
        err.print(
            f"  {program} {command} {shlex.quote(str(card.jobspec))}", markup=False, soft_wrap=True
        )


def main() -> None:
    app()
