"""The demo: make sample clips, then run one real proxy job through Dagster's CLI (`dg launch`)
on the embedded SQLite instance, and print what the ExecutionResult says.

    python -m proxx_dagster.demo FOLDER
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from proxx_dagster.builders import EXECUTE_PROXX_JOB, LAUNCHER
from proxx_dagster.settings import SettingsProblem, configured_cores
from proxx_dagster.sizing import instance_yaml
from proxx_exec import ExecutionResult
from proxx_exec.display import rich_text
from proxx_exec.naming import result_path
from proxx_exec.tools.samples import make_card

REPO = Path(__file__).resolve().parent.parent
console = Console(emoji=False, highlight=False)


def _sources(media: Path) -> list[Path]:
    """The demo's camera card: three sample clips, made on the first run and kept."""
    card = media / "card"
    clips = sorted(card.glob("A00?C001.mov"))
    if len(clips) == 3:
        return clips
    shutil.rmtree(card, ignore_errors=True)  # an interrupted first run: make the card again
    return list(make_card(card, count=3, seconds=2).clips)


def _next_job_id(proxies: Path) -> str:
    number = 1
    while (proxies / f"demo-{number:03d}").exists():
        number += 1
    return f"demo-{number:03d}"


def ui_command(home: Path) -> str:
    """One shell line, from any folder, that opens the UI on the demo's instance."""
    return f"DAGSTER_HOME={shlex.quote(str(home))} python3 {shlex.quote(str(REPO / 'dev.py'))} ui"


def main(folder: Path) -> int:
    folder = folder.resolve()
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        try:  # sized for PROXX_CORES, else this machine's core count
            cores = configured_cores()
        except SettingsProblem as problem:
            print(problem, file=sys.stderr)
            return 2
        (home / "dagster.yaml").write_text(instance_yaml(cores))
    sources = _sources(folder / "media")
    proxies = folder / "proxies"
    job_id = _next_job_id(proxies)
    output_dir = proxies / job_id
    output_dir.mkdir(parents=True)
    spec = {
        "spec_version": "1",
        "job_id": job_id,
        "sources": [str(s) for s in sources],
        "output_dir": str(output_dir),
        "profile": "h264_half",
        "clip_timeout_s": 600,
    }
    run_config = folder / f"{job_id}.run.yaml"
    run_config.write_text(
        yaml.safe_dump(
            {
                "ops": {"execute_jobspec": {"config": spec}},
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
            }
        )
    )
    console.print(
        f"[bold]proxx demo[/] job {job_id}: {len(sources)} clips -> {rich_text(output_dir)}"
    )
    launcher = Path(sys.executable).parent / LAUNCHER
    completed = subprocess.run(
        [
            str(launcher),
            *EXECUTE_PROXX_JOB,
            "-c",
            str(run_config),
        ],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        cwd=REPO,
        check=False,
    )
    result_file = Path(result_path(str(output_dir), job_id))
    if not result_file.exists():
        console.print(f"[red]no result was written ({LAUNCHER} exited {completed.returncode})[/]")
        return 1
    result = ExecutionResult.from_json(result_file.read_text())
    table = Table(title=f"{job_id}: {result.status.value}  digest {result.digest[:16]}")
    for column in ("clip", "state", "proxy", "bytes", "sha256"):
        table.add_column(column)
    for clip in result.clips:
        table.add_row(
            str(clip.index + 1),  # people count clips from 1
            clip.state.value,
            rich_text(Path(clip.output or "-").name),  # a table cell is markup
            str(clip.output_bytes or "-"),
            (clip.output_sha256 or "-")[:16],
        )
    console.print(table)
    console.print(f"result: {rich_text(result_file)}", soft_wrap=True)
    console.print("The Dagster UI on this instance (paste the whole line):")
    print(ui_command(home), flush=True)  # plain: a wrapped command would not paste whole
    return 0 if result.completed and completed.returncode == 0 else 1


if __name__ == "__main__":
    # argparse, so `--help` (or any option) is answered, never taken for the folder to fill
    parser = argparse.ArgumentParser(
        prog="python -m proxx_dagster.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("folder", type=Path, help="where the sample clips, proxies and instance go")
    sys.exit(main(parser.parse_args().folder))
