"""The automation's settings: importing proxx_dagster reads none of them; a wrong one stops the
code location with a message naming the variable, its value and what to set, never pydantic's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxx_dagster.settings import (
    ENVIRONMENT,
    ProxxAutomation,
    SettingsProblem,
    configured_cores,
)

DAGSTER = Path(sys.executable).parent / "dagster"
BROKEN = {"PROXX_WATCH_SETTLE_S": "abc", "PROXX_TIMEZONE": "Mars/Olympus"}
EXPECTED = [
    "PROXX_TIMEZONE='Mars/Olympus': unknown time zone (use an IANA name such as Europe/Berlin); "
    "set e.g. PROXX_TIMEZONE=Europe/Berlin",
    "PROXX_WATCH_SETTLE_S='abc': not a whole number of seconds; set e.g. PROXX_WATCH_SETTLE_S=120",
]

RELATIVE = (
    "is a relative path: give the whole path, starting with / (paths never depend on the "
    "folder a command is run from)"
)


def _run(
    code_or_args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        code_or_args,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(cwd), **env},
    )


def test_importing_the_package_reads_no_setting(tmp_path: Path) -> None:
    imported = _run(
        [
            sys.executable,
            "-c",
            "from proxx_dagster import ProxxTranslator, build_definitions, ProxxComponent\n"
            "from proxx_dagster.settings import ProxxAutomation\n"
            "defs = build_definitions(automation=ProxxAutomation())\n"
            "print(len(list(defs.jobs or [])))",
        ],
        BROKEN,
        tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
    assert int(imported.stdout) >= 5


def test_the_code_location_names_each_wrong_setting_and_its_fix(tmp_path: Path) -> None:
    loaded = _run(
        [str(DAGSTER), "definitions", "validate", "-m", "proxx_dagster.definitions"],
        BROKEN,
        tmp_path,
    )
    assert loaded.returncode != 0
    for line in EXPECTED:
        assert line in loaded.stdout + loaded.stderr
    assert "validation error" not in loaded.stdout + loaded.stderr  # pydantic's words
    assert "Input should be" not in loaded.stdout + loaded.stderr


def _problem(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsProblem) as raised:
        ProxxAutomation.from_environment()
    return str(raised.value)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"PROXX_WATCH_SETTLE_S": "abc"},
            "PROXX_WATCH_SETTLE_S='abc': not a whole number of seconds; "
            "set e.g. PROXX_WATCH_SETTLE_S=120",
        ),
        (
            {"PROXX_INBOX_INTERVAL_S": "2.5"},
            "PROXX_INBOX_INTERVAL_S='2.5': not a whole number of seconds; "
            "set e.g. PROXX_INBOX_INTERVAL_S=30",
        ),
        (
            {"PROXX_WATCH_SETTLE_S": "0"},
            "PROXX_WATCH_SETTLE_S='0': out of range: must be from 1 to 86400 seconds; "
            "set e.g. PROXX_WATCH_SETTLE_S=120",
        ),
        (
            {"PROXX_ORPHAN_INTERVAL_S": "99999"},
            "PROXX_ORPHAN_INTERVAL_S='99999': out of range: must be from 5 to 3600 seconds; "
            "set e.g. PROXX_ORPHAN_INTERVAL_S=30",
        ),
        (
            {"PROXX_WATCH_CARD_DEPTH": "9"},
            "PROXX_WATCH_CARD_DEPTH='9': out of range: must be from 1 to 4 folder levels; "
            "set e.g. PROXX_WATCH_CARD_DEPTH=1",
        ),
        (
            {"PROXX_WATCH_CARD_DEPTH": "two"},
            "PROXX_WATCH_CARD_DEPTH='two': not a whole number of folder levels; "
            "set e.g. PROXX_WATCH_CARD_DEPTH=1",
        ),
        (
            {"PROXX_CORES": "0"},
            "PROXX_CORES='0': out of range: must be from 1 to 4096 cores; set e.g. PROXX_CORES=16",
        ),
        (
            {"PROXX_CORES": "sixteen"},
            "PROXX_CORES='sixteen': not a whole number of cores; set e.g. PROXX_CORES=16",
        ),
        (
            {"PROXX_CLIPS_PER_JOB": "0"},
            "PROXX_CLIPS_PER_JOB='0': out of range: must be from 1 to 10000 clips; "
            "set e.g. PROXX_CLIPS_PER_JOB=8",
        ),
        (
            {"PROXX_CLIPS_PER_JOB": "eight"},
            "PROXX_CLIPS_PER_JOB='eight': not a whole number of clips; "
            "set e.g. PROXX_CLIPS_PER_JOB=8",
        ),
        (
            {"PROXX_TIMEZONE": "Mars/Olympus"},
            "PROXX_TIMEZONE='Mars/Olympus': unknown time zone (use an IANA name such as "
            "Europe/Berlin); set e.g. PROXX_TIMEZONE=Europe/Berlin",
        ),
        (
            {"PROXX_NIGHTLY_CRON": "every night"},
            "PROXX_NIGHTLY_CRON='every night': not a cron schedule (five fields: minute hour "
            "day month weekday, e.g. 0 2 * * * for 02:00 every day); "
            "set e.g. PROXX_NIGHTLY_CRON='0 2 * * *'",
        ),
        (
            {"PROXX_PROFILE": "h265"},
            "PROXX_PROFILE='h265': unknown profile 'h265'. The built-in profiles are "
            "prores_proxy, prores_lt, dnxhr_lb, h264_half, h264_quarter (`proxx profiles` shows "
            "every setting); set e.g. PROXX_PROFILE=h264_half",
        ),
        (
            {"PROXX_WATCH_ROOTS": "/media/a:cards"},
            "PROXX_WATCH_ROOTS='/media/a:cards': watch root \"cards\" "
            + RELATIVE
            + "; set e.g. PROXX_WATCH_ROOTS=/media/incoming:/media/ingest",
        ),
        (
            {"PROXX_PROXY_ROOT": "proxies"},
            "PROXX_PROXY_ROOT='proxies': \"proxies\" " + RELATIVE + ", or unset it for "
            "a Proxy folder inside each card; set e.g. PROXX_PROXY_ROOT=/media/proxies",
        ),
        (
            {"PROXX_WATCH_ROOTS": "/media/in", "PROXX_PROXY_ROOT": "/media/in/proxies"},
            "PROXX_PROXY_ROOT='/media/in/proxies': inside the watch root /media/in: its proxies "
            "would be taken for camera cards; choose a folder outside every watch root; "
            "set e.g. PROXX_PROXY_ROOT=/media/proxies",
        ),
        (
            {"PROXX_NIGHTLY_FOLDER": "jobs"},
            "PROXX_NIGHTLY_FOLDER='jobs': \"jobs\" "
            + RELATIVE
            + "; set e.g. PROXX_NIGHTLY_FOLDER=/media/jobs",
        ),
        (
            {"PROXX_INBOX_FOLDER": "inbox"},
            "PROXX_INBOX_FOLDER='inbox': \"inbox\" "
            + RELATIVE
            + "; set e.g. PROXX_INBOX_FOLDER=/media/inbox",
        ),
        (
            {"PROXX_ENGINE": "ffmpeg"},
            "PROXX_ENGINE='ffmpeg': \"ffmpeg\" " + RELATIVE + "; or imageio-ffmpeg for the "
            "pinned engine (PATH is never searched); set e.g. PROXX_ENGINE=imageio-ffmpeg",
        ),
        (
            {"PROXX_ENGINE": "/nonexistent/ffmpeg"},
            "PROXX_ENGINE='/nonexistent/ffmpeg': no executable file at /nonexistent/ffmpeg; "
            "install that FFmpeg there, or set imageio-ffmpeg for the pinned engine; "
            "set e.g. PROXX_ENGINE=imageio-ffmpeg",
        ),
        (
            {"PROXX_REPORT_FOLDER": "reports"},
            "PROXX_REPORT_FOLDER='reports': \"reports\" "
            + RELATIVE
            + "; set e.g. PROXX_REPORT_FOLDER=/media/reports",
        ),
    ],
)
def test_each_wrong_setting_in_plain_words(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    assert _problem(monkeypatch, **variables) == message


def test_every_setting_is_read_and_every_problem_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = _problem(monkeypatch, **BROKEN)
    assert problem.splitlines() == EXPECTED
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    assert ProxxAutomation.from_environment() == ProxxAutomation()  # unset: the defaults


def test_the_cores_runs_are_planned_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """PROXX_CORES, else this machine's core count; a wrong one in plain words."""
    monkeypatch.delenv("PROXX_CORES", raising=False)
    assert configured_cores() == (os.cpu_count() or 1) == ProxxAutomation().cores
    monkeypatch.setenv("PROXX_CORES", "64")
    assert configured_cores() == 64 == ProxxAutomation.from_environment().cores
    monkeypatch.setenv("PROXX_CORES", "4097")
    with pytest.raises(SettingsProblem, match="PROXX_CORES='4097': out of range"):
        configured_cores()
