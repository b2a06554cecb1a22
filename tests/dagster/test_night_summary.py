"""The night's summary and the failure alerts, sent to a local Slack endpoint and a local SMTP
server: once per night whoever looks, at once for a failed run, user text escaped."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    build_run_status_sensor_context,
    build_sensor_context,
)

from proxx_dagster.definitions import proxx_job
from proxx_dagster.reports import summary as night_summary
from proxx_dagster.reports.messages import Message, mail
from proxx_dagster.reports.night_runs import NightRun, night_of, night_runs, night_window
from proxx_dagster.reports.summary import (
    NOT_CONFIGURED,
    build_failure_alert_sensor,
    build_night_summary_sensor,
    due_night,
    report_address,
)
from proxx_dagster.settings import ENVIRONMENT, ProxxAutomation, SettingsProblem, checked_settings
from proxx_exec.naming import is_record_name
from tests.dagster.endpoints import Mailbox, SlackEndpoint, slack, smtp
from tests.dagster.helpers import events, run_config, spec_fields
from tests.helpers import Media

__all__ = ["slack", "smtp"]  # the fixtures

HOSTILE = "*bold* <!channel> & `x` @here.mov"
JOBS = ("proxx_job",)


def _settings(
    reports: Path, slack: SlackEndpoint, smtp: Mailbox, **more: object
) -> ProxxAutomation:
    return ProxxAutomation.model_validate(
        {
            "report_folder": str(reports),
            "slack_token": "xoxb-test",
            "slack_channel": "#dailies",
            "slack_base_url": slack.base_url,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_from": "proxx@example.com",
            "smtp_to": ["dailies@example.com", "post@example.com"],
            **more,
        }
    )


def _night_end() -> datetime:
    """Just after the end of the night the runs of this test belong to."""
    return night_window(night_of(datetime.now(UTC), "UTC"), "UTC")[1] + timedelta(minutes=1)


def _night(instance: DagsterInstance, media: Media, tmp_path: Path) -> tuple[str, str]:
    """One COMPLETED job of a clip with a hostile name, one FAILED: their run ids."""
    hostile = tmp_path / "clips" / HOSTILE
    hostile.parent.mkdir()
    shutil.copyfile(media.standard, hostile)
    done = tmp_path / "done"
    done.mkdir()
    completed = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, done, "night-ok", sources=[str(hostile)])),
        instance=instance,
    )
    failed = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, tmp_path, "night-bad", sources=["/none.mov"])),
        instance=instance,
        raise_on_error=False,
    )
    return completed.run_id, failed.run_id


def test_the_summary_is_sent_once_per_night_whoever_looks(
    instance: DagsterInstance, media: Media, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    _night(instance, media, tmp_path)
    reports = tmp_path / "reports"
    settings = _settings(reports, slack, smtp)
    sensor = build_night_summary_sensor(JOBS, settings, clock=_night_end)
    first = build_sensor_context(instance=instance)
    said = str(sensor(first))
    assert "Slack #dailies: sent" in said and "e-mail to dailies@example.com" in said
    # Ticked again; a second daemon with no cursor; a cursor written back older by a slower one.
    night = night_of(datetime.now(UTC), "UTC")
    for cursor in (first.cursor, None, (night - timedelta(days=1)).isoformat()):
        again = str(sensor(build_sensor_context(instance=instance, cursor=cursor)))
        assert "was sent" in again
    assert len(slack.posts) == 1 and len(smtp.received) == 1
    path, body = slack.posts[0]
    assert path == "/api/chat.postMessage" and body["channel"] == "#dailies"
    text = body["text"]
    assert "2 run(s); 2 job(s): 1 COMPLETED, 1 FAILED" in text and "1 proxies made" in text
    assert "`night-bad` (run " in text and "VALIDATION SOURCE_MISSING" in text
    assert (
        "`*bold* &lt;!channel&gt; &amp; \u02cbx\u02cb @here.mov`" not in text
    )  # a job's, not here
    assert "<!channel>" not in text and "&lt;" not in text.replace("&lt;!channel&gt;", "")
    report = reports / f"proxx-night-{night.isoformat()}.html"
    assert f"Night report: `{report}`" in text
    rcpt, mail = smtp.received[0]
    assert rcpt == ["dailies@example.com", "post@example.com"]
    assert (
        mail["Subject"]
        == f"proxx night of {night.isoformat()}: 1 COMPLETED, 1 FAILED, 1 problem(s)"
    )
    assert mail["Message-ID"] == f"<proxx-night-{night.isoformat()}@proxx>"
    content = mail.get_content()
    assert "night-bad (run " in content and f"Night report: {report}" in content
    record = reports / f"proxx-night-{night.isoformat()}.summary.json"
    assert '"Slack #dailies: sent"' in record.read_text()
    assert is_record_name(record.name)  # proxx's own file: an audit does not call it a stray
    record.unlink()  # to send a night again, remove its record
    sensor(build_sensor_context(instance=instance))
    assert len(slack.posts) == 2 and len(smtp.received) == 2


def test_user_text_is_escaped_for_slack_and_never_a_header(
    instance: DagsterInstance, media: Media, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    """A reason holding a clip's name with mrkdwn and mentions: Slack shows it literally, the
    e-mail keeps it in its body; a line break in a subject never makes a header."""
    missing = f"/nowhere/{HOSTILE}"
    proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, tmp_path, "night-bad", sources=[missing])),
        instance=instance,
        raise_on_error=False,
    )
    settings = _settings(tmp_path / "r", slack, smtp)
    sensor = build_night_summary_sensor(JOBS, settings, clock=_night_end)
    sensor(build_sensor_context(instance=instance))
    [(_, body)] = slack.posts
    [line] = [line for line in body["text"].splitlines() if "SOURCE_MISSING" in line]
    assert "/nowhere/*bold* &lt;!channel&gt; &amp; \u02cbx\u02cb @here.mov" in line
    assert line.count("`") == 4  # two code spans: the job id, the reason
    assert body["parse"] == "none" and body["link_names"] is False
    [(rcpt, summary)] = smtp.received
    assert f"/nowhere/{HOSTILE}" in summary.get_content()
    forged = Message("night\r\nBcc: thief@example.com", "body\n", "body")
    assert (
        mail(settings, forged, "forged") == "e-mail to dailies@example.com, post@example.com: sent"
    )
    [_, (rcpt, received)] = smtp.received
    assert rcpt == ["dailies@example.com", "post@example.com"]
    assert received["Bcc"] is None and received["Subject"] == "night  Bcc: thief@example.com"


def test_the_summary_waits_for_the_nights_last_run_or_goes_at_the_set_hour(
    instance: DagsterInstance, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    running = instance.add_run(DagsterRun(job_name="proxx_job", status=DagsterRunStatus.STARTED))
    waiting = build_night_summary_sensor(
        JOBS, _settings(tmp_path / "a", slack, smtp), clock=_night_end
    )
    said = str(waiting(build_sensor_context(instance=instance)))
    assert f"waits for 1 run(s) still running: {running.run_id}" in said
    assert slack.posts == [] and smtp.received == []
    night = night_of(datetime.now(UTC), "UTC")
    seven = datetime.combine(night, datetime.min.time(), UTC) + timedelta(hours=7, minutes=1)
    at_seven = build_night_summary_sensor(
        JOBS, _settings(tmp_path / "b", slack, smtp, summary_hour=7), clock=lambda: seven
    )
    at_seven(build_sensor_context(instance=instance))
    [(_, body)] = slack.posts
    assert "1 run(s) still running at 07:00 (UTC)" in body["text"]
    assert len(smtp.received) == 1


def test_the_night_report_is_linked_where_it_is_served(tmp_path: Path) -> None:
    page = tmp_path / "proxx-night-2026-12-04.html"
    assert report_address(ProxxAutomation(), page) == str(page)
    served = ProxxAutomation(report_url="https://media.example.com/reports")
    assert (
        report_address(served, page)
        == "https://media.example.com/reports/proxx-night-2026-12-04.html"
    )


def test_which_night_is_due() -> None:
    berlin = ProxxAutomation(timezone="Europe/Berlin")
    night, at = due_night(datetime(2026, 12, 4, 10, 59, tzinfo=UTC), berlin)  # 11:59 there
    assert (night.isoformat(), at.isoformat()) == ("2026-12-03", "2026-12-03T12:00:00+01:00")
    night, _ = due_night(datetime(2026, 12, 4, 11, 0, tzinfo=UTC), berlin)
    assert night.isoformat() == "2026-12-04"
    early = ProxxAutomation(timezone="Europe/Berlin", summary_hour=7)
    night, at = due_night(datetime(2026, 12, 4, 6, 0, tzinfo=UTC), early)  # 07:00 there
    assert (night.isoformat(), at.isoformat()) == ("2026-12-04", "2026-12-04T07:00:00+01:00")


def test_a_failed_run_alerts_at_once_and_once(
    instance: DagsterInstance, media: Media, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    completed, failed = _night(instance, media, tmp_path)
    sensor = build_failure_alert_sensor(JOBS, _settings(tmp_path / "r", slack, smtp))
    for run_id in (completed, failed, failed):  # the failed one seen twice (two daemons)
        run = instance.get_run_by_id(run_id)
        assert run is not None
        ended = [*events(instance, run_id, DagsterEventType.RUN_FAILURE)]
        if not ended:
            continue  # a COMPLETED run: no run-failure event, nothing to evaluate
        context = build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=ended[0].get_dagster_event(),
        ).for_run_failure()
        sensor(context)
    [(_, body)] = slack.posts
    assert f"*proxx · run {failed[:8]} FAILED (proxx_job)*" in body["text"]
    assert "VALIDATION SOURCE_MISSING" in body["text"]
    [(_, mail)] = smtp.received
    assert mail["Subject"] == f"proxx FAILED: run {failed[:8]} (proxx_job)"


def test_the_slack_token_from_the_environment_is_sent_but_never_shown(
    instance: DagsterInstance,
    media: Media,
    tmp_path: Path,
    slack: SlackEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The resource the UI shows holds the token's variable name (Dagster's EnvVar); the token
    itself reaches Slack's API only."""
    secret = "xoxb-not-for-the-ui"
    for name, value in {
        "PROXX_SLACK_TOKEN": secret,
        "PROXX_SLACK_CHANNEL": "#dailies",
        "PROXX_SLACK_BASE_URL": slack.base_url,
        "PROXX_REPORT_FOLDER": str(tmp_path / "r"),
    }.items():
        monkeypatch.setenv(name, value)
    settings = ProxxAutomation.from_environment()
    shown = settings._resolved_config_dict  # what Dagster stores and the UI shows
    assert secret not in repr(shown) and secret not in settings.model_dump_json()
    assert shown["slack_token"] == {"env": "PROXX_SLACK_TOKEN"}
    _completed, failed = _night(instance, media, tmp_path)
    sensor = build_failure_alert_sensor(JOBS, settings)
    run = instance.get_run_by_id(failed)
    assert run is not None
    [ended] = events(instance, failed, DagsterEventType.RUN_FAILURE)
    sensor(
        build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=ended.get_dagster_event(),
        ).for_run_failure()
    )
    assert slack.authorizations == [f"Bearer {secret}"]


def test_nothing_is_sent_when_nothing_is_configured(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    sensor = build_night_summary_sensor(
        JOBS, ProxxAutomation(report_folder=str(reports)), clock=_night_end
    )
    assert str(sensor(build_sensor_context(instance=instance))).endswith(f"{NOT_CONFIGURED}')")
    assert not reports.exists()  # no record: nothing was claimed


def test_an_unreachable_or_refusing_destination_is_said_and_not_retried(
    instance: DagsterInstance, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    slack.answer = {"ok": False, "error": "channel_not_found"}
    settings = _settings(tmp_path, slack, smtp, smtp_port=smtp.port + 1 if smtp.port < 65535 else 1)
    said = str(
        build_night_summary_sensor(JOBS, settings, clock=_night_end)(
            build_sensor_context(instance=instance)
        )
    )
    assert "Slack #dailies: not sent, Slack answered channel_not_found" in said
    assert "e-mail: not sent, the relay 127.0.0.1:" in said and "not reached" in said
    assert len(slack.posts) == 1  # once, never again


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"slack_token": "xoxb-1"},
            "PROXX_SLACK_CHANNEL unset: needed, as slack_token is set: name the channel to post "
            "to; set e.g. PROXX_SLACK_CHANNEL='#dailies'",
        ),
        (
            {"slack_channel": "#dailies"},
            "PROXX_SLACK_CHANNEL='#dailies': set, but slack_token is not: give the bot token "
            "too; set e.g. PROXX_SLACK_CHANNEL='#dailies'",
        ),
        (
            {"smtp_host": "mail", "smtp_to": ["a@b.c"]},
            "PROXX_SMTP_FROM unset: needed, as smtp_host is set: give the sender address; set "
            "e.g. PROXX_SMTP_FROM=proxx@example.com",
        ),
        (
            {"smtp_host": "mail", "smtp_from": "a@b.c", "smtp_to": ["x@y.z\nBcc: t@e.f"]},
            "PROXX_SMTP_TO=['x@y.z\\nBcc: t@e.f']: 'x@y.z\\nBcc: t@e.f' is not one e-mail "
            "address such as dailies@example.com; set e.g. "
            "PROXX_SMTP_TO=dailies@example.com,post@example.com",
        ),
        (
            {"slack_base_url": "slack.com/api"},
            "PROXX_SLACK_BASE_URL='slack.com/api': not a web address (it starts with https:// "
            "or http://); set e.g. PROXX_SLACK_BASE_URL=https://slack.com/api/",
        ),
    ],
)
def test_a_misconfigured_destination_in_plain_words(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsProblem) as raised:
        checked_settings(values, ENVIRONMENT)
    assert str(raised.value) == message


def test_a_night_without_runs_is_summarized_too(
    instance: DagsterInstance, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    sensor = build_night_summary_sensor(JOBS, _settings(tmp_path, slack, smtp), clock=_night_end)
    sensor(build_sensor_context(instance=instance))
    [(_, body)] = slack.posts
    assert "0 run(s); 0 job(s): 0 COMPLETED, 0 FAILED" in body["text"]


def _evaluate(home: str, settings: ProxxAutomation) -> str:
    """One daemon's look: its own instance of the same DAGSTER_HOME, its own sensor."""
    with DagsterInstance.from_config(home) as instance:
        sensor = build_night_summary_sensor(JOBS, settings, clock=_night_end)
        return str(sensor(build_sensor_context(instance=instance)))


def test_two_daemons_looking_at_once_send_one_summary(
    instance: DagsterInstance,
    dagster_home: Path,
    tmp_path: Path,
    slack: SlackEndpoint,
    smtp: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Looks at the same moment, each on its own instance: every one has found no record and
    read the night's runs before any claims it; one sends, the others find the record."""
    settings = _settings(tmp_path / "reports", slack, smtp)
    looks = 3
    together = threading.Barrier(looks)

    def read_at_once(*args: Any) -> list[NightRun]:
        runs = night_runs(*args)
        together.wait(timeout=60)
        return runs

    monkeypatch.setattr(night_summary, "night_runs", read_at_once)
    with ThreadPoolExecutor(looks) as pool:
        said = list(pool.map(lambda _: _evaluate(str(dagster_home), settings), range(looks)))
    assert sum("Slack #dailies: sent" in s for s in said) == 1
    assert sum("was sent" in s for s in said) == looks - 1
    assert len(slack.posts) == 1 and len(smtp.received) == 1
