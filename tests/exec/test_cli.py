"""The `proxx` command as a user runs it: exit codes 0/1/2, readable errors, never a traceback."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from proxx_exec import ExecutionResult, Status
from tests.helpers import PROXX, REAL_ENGINE, Media, proxx, write_engine_wrapper


def write_spec(tmp_path: Path, media: Media, out_dir: Path, **fields: object) -> Path:
    document = {
        "spec_version": "1",
        "job_id": "cli-job",
        "sources": [str(media.standard)],
        "output_dir": str(out_dir),
        "profile": "h264_quarter",
        **fields,
    }
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(document))
    return spec


def test_validate_plan_run(tmp_path: Path, media: Media, out_dir: Path) -> None:
    spec = write_spec(tmp_path, media, out_dir)
    checked = proxx("validate", str(spec))
    assert checked.returncode == 0 and "valid" in checked.stderr
    assert list(out_dir.iterdir()) == []

    planned = proxx("plan", str(spec))
    assert planned.returncode == 0
    command = [line for line in planned.stdout.splitlines() if not line.startswith("#")]
    assert len(command) == 1 and "-c:v libx264" in command[0]
    assert shlex.split(command[0])[0] == str(REAL_ENGINE)  # the locked wheel's binary, run as is

    as_json = json.loads(proxx("plan", str(spec), "--json").stdout)
    assert as_json["clips"][0]["argv"][0] == "ffmpeg"
    assert as_json["engine_binary"] == str(REAL_ENGINE)
    assert shlex.split(command[0])[1:] == as_json["clips"][0]["argv"][1:]

    result_file = tmp_path / "result.json"
    ran = proxx("run", str(spec), "--result", str(result_file))
    assert ran.returncode == 0, ran.stderr
    assert "COMPLETED" in ran.stderr and "frames" in ran.stderr  # progress bar and summary
    result = ExecutionResult.from_json(result_file.read_text())
    assert result.status is Status.COMPLETED
    beside = out_dir / "cli-job.proxx-result.json"
    assert ExecutionResult.from_json(beside.read_text()) == result

    again = proxx("run", str(spec))
    assert again.returncode == 1
    assert json.loads(again.stdout)["failure"]["reason"] == "OUTPUT_EXISTS"


def test_invalid_spec_exit_1_without_traceback(tmp_path: Path, media: Media, out_dir: Path) -> None:
    spec = write_spec(tmp_path, media, out_dir, sources=["relative.mov"])
    for command in ("validate", "plan", "run"):
        completed = proxx(command, str(spec))
        assert completed.returncode == 1
        assert "Traceback" not in completed.stderr + completed.stdout
        assert "`sources` item 1" in completed.stderr


def test_a_result_file_taken_while_the_job_ran_loses_no_result(
    tmp_path: Path, media: Media, out_dir: Path
) -> None:
    """`--result` was free when the job started; something wrote that name while it encoded.
    The job has run and its result is never overwritten: the CLI says so in words and prints the
    JSON instead (it was a traceback, the JSON nowhere but beside the proxies)."""
    result_file = tmp_path / "result.json"
    wrapper = write_engine_wrapper(tmp_path, f'echo someone > "{result_file}"\nexec "$REAL" "$@"')
    spec = write_spec(tmp_path, media, out_dir, engine=str(wrapper))

    completed = proxx("run", spec, "--result", result_file)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert (
        f"--result {result_file} could not be written (File exists); the result follows on "
        "standard output"
    ) in completed.stderr
    printed = ExecutionResult.model_validate_json(completed.stdout)
    assert printed.status is Status.COMPLETED
    assert result_file.read_text() == "someone\n"  # never replaced


def test_missing_spec_file(tmp_path: Path) -> None:
    completed = proxx("run", str(tmp_path / "absent.json"))
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["failure"]["reason"] == "SPEC_UNREADABLE"
    assert "Traceback" not in completed.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert proxx("bogus").returncode == 2
    assert proxx("run").returncode == 2
    existing = tmp_path / "r.json"
    existing.write_text("{}")
    assert proxx("run", str(tmp_path / "x.json"), "--result", str(existing)).returncode == 2
    assert existing.read_text() == "{}"
    no_folder = proxx("run", str(tmp_path / "x.json"), "--result", str(tmp_path / "a" / "r.json"))
    assert no_folder.returncode == 2 and "does not exist" in no_folder.stderr
    assert "Traceback" not in no_folder.stderr


def test_schema_and_profiles() -> None:
    schema = json.loads(proxx("schema").stdout)
    assert {
        "job_id",
        "sources",
        "output_dir",
        "profile",
        "naming",
        "clip_timeout_s",
        "engine",
    } <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    listed = subprocess.run(
        [PROXX, "profiles"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    ).stdout
    for name in ("prores_proxy", "prores_lt", "dnxhr_lb", "h264_half", "h264_quarter"):
        assert name in listed
    as_json = json.loads(proxx("profiles", "--json").stdout)
    assert [p["name"] for p in as_json] == [
        "prores_proxy",
        "prores_lt",
        "dnxhr_lb",
        "h264_half",
        "h264_quarter",
    ]
    assert all(p["threads"] >= 1 and p["pix_fmt"] for p in as_json)


def test_samples_command(tmp_path: Path) -> None:
    completed = proxx("samples", str(tmp_path), "--count", "2", "--seconds", "0.4")
    assert completed.returncode == 0, completed.stderr
    assert [Path(p).name for p in completed.stdout.split()] == ["A001C001.mov", "A002C001.mov"]
    assert proxx("samples", str(tmp_path), "--count", "1").returncode == 1  # never overwrites


@pytest.mark.parametrize(
    ("folder", "job_id"),
    [
        ("my clips", "samples-my-clips"),
        ("A001 [take 2]", "samples-A001-take-2"),
        ("Drehtag Müller \u2013 撮影", "samples-Drehtag-Muller"),
        ("撮影", "samples-clips"),
        ("--[bold]..", "samples-bold"),
    ],
)
def test_samples_in_any_folder_make_a_valid_jobspec(
    tmp_path: Path, folder: str, job_id: str
) -> None:
    made = proxx("samples", str(tmp_path / folder), "--count", "1", "--seconds", "0.2")
    assert made.returncode == 0, made.stderr
    spec = tmp_path / folder / "proxx-job.json"
    assert f"a JobSpec for these clips: {spec}" in made.stderr  # the path as written
    assert json.loads(spec.read_text())["job_id"] == job_id
    checked = proxx("validate", str(spec))
    assert checked.returncode == 0, checked.stderr


def test_output_into_a_log_file_has_no_colour_codes(tmp_path: Path, media: Media) -> None:
    """Every command whose output is a file (a cron job's log, `> log 2>&1`) writes plain text:
    the colours and the progress bars' cursor moves are for a terminal only, even when the
    shell says the terminal could show colour (TERM, COLORTERM)."""
    out_dir = tmp_path / "proxies"
    spec = write_spec(tmp_path, media, out_dir)
    (tmp_path / "bad").mkdir()
    bad = write_spec(tmp_path / "bad", media, out_dir, profile="H264_HALF")
    result = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TTY_COMPATIBLE"}}
    env |= {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
    log = tmp_path / "proxx.log"
    for args, code in (
        (("validate", spec), 0),
        (("validate", bad), 1),
        (("plan", spec), 0),
        (("run", spec, "--result", result), 0),
        (("audit", result), 0),
        (("profiles",), 0),
    ):
        with log.open("a") as stream:
            ran = subprocess.run(
                [PROXX, *map(str, args)],
                stdout=stream,
                stderr=stream,
                env=env,
                timeout=300,
                check=False,
            )
        assert ran.returncode == code, (args, log.read_text())
    logged = log.read_text()
    for shown in ("valid job cli-job", "did you mean h264_half?", "COMPLETED cli-job", "h264_half"):
        assert shown in logged
    assert "\x1b" not in logged
