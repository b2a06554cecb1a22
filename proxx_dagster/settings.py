"""Deploy-time settings of the automation, as a Dagster resource.

Operators set them with environment variables of the code location (read here, on the
orchestration side; proxx_exec never reads the environment).
"""

import os
import shlex
from email.utils import parseaddr
from pathlib import Path, PurePath, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from proxx_dagster.dagster_internals import is_valid_cron_string
from proxx_exec import BUILTIN_PROFILES
from proxx_exec.jobspec import DEFAULT_ENGINE, engine_path_problem, relative_path_problem
from proxx_exec.profiles import unknown_profile

DEFAULT_CRON = "0 2 * * *"
DEFAULT_PROFILE = "h264_half"  # PROXX_PROFILE, and the launchpad's first choice
DEFAULT_CLIPS_PER_JOB = 8  # PROXX_CLIPS_PER_JOB
LIST_SEPARATOR = os.pathsep  # between the folders of PROXX_WATCH_ROOTS, as in PATH
ENVIRONMENT = {
    "nightly_folder": "PROXX_NIGHTLY_FOLDER",
    "inbox_folder": "PROXX_INBOX_FOLDER",
    "cron": "PROXX_NIGHTLY_CRON",
    "timezone": "PROXX_TIMEZONE",
    "inbox_interval_s": "PROXX_INBOX_INTERVAL_S",
    "orphan_interval_s": "PROXX_ORPHAN_INTERVAL_S",
    "watch_roots": "PROXX_WATCH_ROOTS",
    "watch_card_depth": "PROXX_WATCH_CARD_DEPTH",
    "watch_settle_s": "PROXX_WATCH_SETTLE_S",
    "watch_interval_s": "PROXX_WATCH_INTERVAL_S",
    "profile": "PROXX_PROFILE",
    "proxy_root": "PROXX_PROXY_ROOT",
    "report_folder": "PROXX_REPORT_FOLDER",
    "clips_per_job": "PROXX_CLIPS_PER_JOB",
    "cores": "PROXX_CORES",
    "engine": "PROXX_ENGINE",
    "verify_card_mhl": "PROXX_VERIFY_CARD_MHL",
    "summary_hour": "PROXX_SUMMARY_HOUR",
    "report_url": "PROXX_REPORT_URL",
    "slack_token": "PROXX_SLACK_TOKEN",
    "slack_channel": "PROXX_SLACK_CHANNEL",
    "slack_base_url": "PROXX_SLACK_BASE_URL",
    "smtp_host": "PROXX_SMTP_HOST",
    "smtp_port": "PROXX_SMTP_PORT",
    "smtp_from": "PROXX_SMTP_FROM",
    "smtp_to": "PROXX_SMTP_TO",
}
_LIST_FIELDS = frozenset({"watch_roots"})
_COMMA_LIST_FIELDS = frozenset({"smtp_to"})  # e-mail addresses, separated by ','
SLACK_API = "https://slack.com/api/"  # slack_sdk's own default


def proxies_inside(proxy_root: str, scanned: str | PurePath) -> bool:
    """The one rule of where proxies may not go: whether `proxy_root` lies inside a folder that
    is scanned for clips (a card folder, a watch root), where its proxies would be taken for
    clips. Paths compared as written, nothing resolved."""
    return PurePosixPath(proxy_root).is_relative_to(PurePosixPath(scanned))


class ProxxAutomation(ConfigurableResource):  # type: ignore[type-arg]
    """Where the nightly schedule and the inbox sensor find JobSpec files, which folders the
    watch sensor turns into jobs, with which profile, where their proxies go, and when."""

    nightly_folder: str | None = Field(
        default=None, description="Folder of JobSpec files run every night (PROXX_NIGHTLY_FOLDER)."
    )
    inbox_folder: str | None = Field(
        default=None, description="Drop folder watched by the inbox sensor (PROXX_INBOX_FOLDER)."
    )
    cron: str = Field(default=DEFAULT_CRON, description="Nightly cron (PROXX_NIGHTLY_CRON).")
    timezone: str = Field(default="UTC", description="Time zone of the cron (PROXX_TIMEZONE).")
    inbox_interval_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="Seconds between two looks at the inbox (PROXX_INBOX_INTERVAL_S).",
    )
    orphan_interval_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="Seconds between two looks for runs whose worker died "
        "(PROXX_ORPHAN_INTERVAL_S).",
    )

    watch_roots: list[str] = Field(
        default_factory=list,
        description="Folders watched for camera cards: each folder below one (at "
        "watch_card_depth) becomes one job once nothing in it changed for watch_settle_s "
        "(PROXX_WATCH_ROOTS, several separated by ':').",
    )
    watch_card_depth: int = Field(
        default=1,
        ge=1,
        le=4,
        description="How many folder levels below a watch root a card folder sits: 1 for "
        "ROOT/CARD, 2 for ROOT/DAY/CARD (PROXX_WATCH_CARD_DEPTH).",
    )
    watch_settle_s: int = Field(
        default=120,
        ge=1,
        le=24 * 3600,
        description="Seconds a card folder must stay unchanged (no file added, grown or "
        "touched) before it is taken (PROXX_WATCH_SETTLE_S).",
    )
    watch_interval_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="Seconds between two looks at the watch roots (PROXX_WATCH_INTERVAL_S).",
    )
    profile: str = Field(
        default=DEFAULT_PROFILE,
        description="Built-in profile of the jobs made from watched folders (PROXX_PROFILE).",
    )
    proxy_root: str | None = Field(
        default=None,
        description="Where proxies of watched folders go: unset for a Proxy folder inside "
        "each card folder; a folder for a mirrored tree, PROXY_ROOT/<card path below its "
        "watch root> (PROXX_PROXY_ROOT).",
    )

    report_folder: str | None = Field(
        default=None,
        description="Where the night reports are written (PROXX_REPORT_FOLDER); unset: "
        "proxy_root when that is set, else <DAGSTER_HOME>/proxx-night-reports.",
    )

    clips_per_job: int = Field(
        default=DEFAULT_CLIPS_PER_JOB,
        ge=1,
        le=10_000,
        description="A card of more clips is cut into the fewest jobs of at most this many "
        "clips, run side by side in one run; the cut depends on the card only "
        "(PROXX_CLIPS_PER_JOB).",
    )

    cores: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=4096,
        description="Cores of the machine the runs are planned for (PROXX_CORES; default: this "
        "machine's): sizes the run queue and the multiprocess executors, never a job's "
        "command, so a big deployment can be rehearsed on a small machine.",
    )
    engine: str = Field(
        default=DEFAULT_ENGINE,
        description="The engine of the jobs made from watched folders and the folder launchpad: "
        '"imageio-ffmpeg" for the FFmpeg pinned by the locked imageio-ffmpeg package (the '
        "default), or the absolute path of another FFmpeg binary (PROXX_ENGINE). PATH is never "
        "consulted.",
    )

    verify_card_mhl: bool = Field(
        default=False,
        description="Verify each card's own ASC MHL (its ascmhl/ history from the offload) "
        "before its job reads it, and refuse a card that does not verify, naming the files "
        "(the JobSpec field verify_source_mhl). Off by default: it reads the whole card once "
        "more (PROXX_VERIFY_CARD_MHL: true or false).",
    )

    summary_hour: int | None = Field(
        default=None,
        ge=0,
        le=11,
        description="Hour (0 to 11, in the automation's time zone) at which the night's summary "
        "is sent, saying what has ended by then; unset: once the night is over (12:00) and its "
        "every run has ended (PROXX_SUMMARY_HOUR).",
    )
    report_url: str | None = Field(
        default=None,
        description="Address at which the report folder is served (e.g. "
        "https://media.example.com/reports/): the summary links the night report there; unset: "
        "it names the report's path (PROXX_REPORT_URL).",
    )
    slack_token: str | None = Field(
        default=None,
        description="Slack bot token (chat:write) the summary and the alerts are posted with; "
        "unset: nothing goes to Slack (PROXX_SLACK_TOKEN, kept as Dagster's EnvVar, so the UI "
        "shows the variable's name, never the token).",
    )
    slack_base_url: str = Field(
        default=SLACK_API,
        description="Slack's Web API address (PROXX_SLACK_BASE_URL); change it only for a "
        "proxy or a test endpoint.",
    )
    slack_channel: str | None = Field(
        default=None,
        validate_default=True,
        description="Slack channel of the summary and the alerts, e.g. #dailies "
        "(PROXX_SLACK_CHANNEL); needed with slack_token.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP relay the summary and the alerts are mailed through (it must accept "
        "mail from this host without a login); unset: no e-mail (PROXX_SMTP_HOST).",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port (PROXX_SMTP_PORT).")
    smtp_from: str | None = Field(
        default=None,
        validate_default=True,
        description="The sender address of the e-mails (PROXX_SMTP_FROM); needed with smtp_host.",
    )
    smtp_to: list[str] = Field(
        default_factory=list,
        validate_default=True,
        description="Who receives them (PROXX_SMTP_TO, several separated by ','); needed with "
        "smtp_host.",
    )

    def slack_bot_token(self) -> str | None:
        """The Slack token itself: read from its environment variable when the settings name
        one (from_environment), else as given."""
        token = self.slack_token
        if isinstance(token, EnvVar):
            return token.get_value() or None
        return token

    @field_validator("slack_channel")
    @classmethod
    def _slack_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        token = info.data.get("slack_token")
        if token and not value:
            raise ValueError("needed, as slack_token is set: name the channel to post to")
        if value and not token:
            raise ValueError("set, but slack_token is not: give the bot token too")
        if value and any(ch.isspace() for ch in value):
            raise ValueError("a channel name or id has no spaces")
        return value

    @field_validator("slack_base_url", "report_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("not a web address (it starts with https:// or http://)")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("smtp_host") and not value:
            raise ValueError("needed, as smtp_host is set: give the sender address")
        if value is not None:
            address_problem(value)
        return value

    @field_validator("smtp_to")
    @classmethod
    def _smtp_to(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("smtp_host") and not value:
            raise ValueError("needed, as smtp_host is set: give who receives the e-mails")
        if value and not info.data.get("smtp_host"):
            raise ValueError("set, but smtp_host is not: give the SMTP relay too")
        for address in value:
            address_problem(address)
        return value

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if value == DEFAULT_ENGINE:
            return value
        if problem := engine_path_problem(value):
            raise ValueError(
                f"{problem}; or {DEFAULT_ENGINE} for the pinned engine (PATH is never searched)"
            )
        # checked here, once, rather than refused job after job (ENGINE_UNAVAILABLE)
        if not Path(value).is_file() or not os.access(value, os.X_OK):
            raise ValueError(
                f"no executable file at {value}; install that FFmpeg there, or set "
                f"{DEFAULT_ENGINE} for the pinned engine"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not is_valid_cron_string(value):
            raise ValueError(
                "not a cron schedule (five fields: minute hour day month weekday, "
                "e.g. 0 2 * * * for 02:00 every day)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("profile")
    @classmethod
    def _builtin_profile(cls, value: str) -> str:
        if value not in BUILTIN_PROFILES:
            raise ValueError(unknown_profile(value))
        return value

    @field_validator("watch_roots")
    @classmethod
    def _absolute_roots(cls, value: list[str]) -> list[str]:
        problems = [problem for root in value if (problem := relative_path_problem(root))]
        if problems:
            raise ValueError("watch root " + "; watch root ".join(problems))
        return [os.path.normpath(root) for root in value]

    @field_validator("nightly_folder", "inbox_folder", "report_folder")
    @classmethod
    def _absolute_folder(cls, value: str | None) -> str | None:
        if value is not None and (problem := relative_path_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("proxy_root")
    @classmethod
    def _proxy_root_outside_watch_roots(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if problem := relative_path_problem(value):
            raise ValueError(f"{problem}, or unset it for a Proxy folder inside each card")
        for root in map(PurePosixPath, info.data.get("watch_roots", [])):
            if proxies_inside(value, root):
                raise ValueError(
                    f"inside the watch root {root}: its proxies would be taken for camera "
                    "cards; choose a folder outside every watch root"
                )
        return value

    @classmethod
    def from_environment(cls) -> "ProxxAutomation":
        """The settings from the PROXX_* environment variables; SettingsProblem names each one
        that is wrong, its value and what to set instead."""
        raw = {
            field: os.environ[name] for field, name in ENVIRONMENT.items() if os.environ.get(name)
        }
        values: dict[str, Any] = dict(raw)
        if "slack_token" in raw:
            # Held as Dagster's EnvVar, so the resource the UI shows names the variable, never
            # the token; it is read when a message is sent (slack_bot_token).
            values["slack_token"] = EnvVar(ENVIRONMENT["slack_token"])
            raw["slack_token"] = "(set)"  # noqa: S105 - shown in messages instead of the token
        for field in _LIST_FIELDS & values.keys():
            values[field] = [part for part in values[field].split(LIST_SEPARATOR) if part]
        for field in _COMMA_LIST_FIELDS & values.keys():
            values[field] = [part.strip() for part in values[field].split(",") if part.strip()]
        return checked_settings(values, ENVIRONMENT, raw)


def address_problem(address: str) -> None:
    """Raise ValueError unless `address` is one plain e-mail address (no name, no line break:
    it goes into a header)."""
    _, plain = parseaddr(address)
    if plain != address.strip() or "@" not in plain or any(ch in address for ch in "\r\n,"):
        raise ValueError(f"{address!r} is not one e-mail address such as dailies@example.com")


class SettingsProblem(ValueError):
    """Settings the automation cannot work with: each wrong one, its value and the fix."""


# A value that works, shown in each message ("set e.g. ..."), and what a number counts.
_EXAMPLES = {
    "nightly_folder": "/media/jobs",
    "inbox_folder": "/media/inbox",
    "cron": "0 2 * * *",
    "timezone": "Europe/Berlin",
    "inbox_interval_s": "30",
    "orphan_interval_s": "30",
    "watch_roots": f"/media/incoming{LIST_SEPARATOR}/media/ingest",
    "watch_card_depth": "1",
    "watch_settle_s": "120",
    "watch_interval_s": "30",
    "profile": DEFAULT_PROFILE,
    "proxy_root": "/media/proxies",
    "report_folder": "/media/reports",
    "clips_per_job": "8",
    "cores": "16",
    "engine": DEFAULT_ENGINE,
    "summary_hour": "7",
    "report_url": "https://media.example.com/reports/",
    "slack_channel": "#dailies",
    "slack_base_url": SLACK_API,
    "smtp_host": "mail.example.com",
    "smtp_port": "25",
    "smtp_from": "proxx@example.com",
    "smtp_to": "dailies@example.com,post@example.com",
}
_UNITS = {
    "watch_card_depth": "folder levels",
    "clips_per_job": "clips",
    "cores": "cores",
    "summary_hour": "hours",
}


def _unit(field: str) -> str:
    return _UNITS.get(field, "seconds" if field.endswith("_s") else "")


def _bounds(field: str) -> str:
    low = high = None
    for rule in ProxxAutomation.model_fields[field].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return f"from {low} to {high} {_unit(field)}".rstrip()


def _why(field: str, error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"])).rstrip(".")
    if kind.startswith("int_"):
        return f"not a whole number of {_unit(field)}" if _unit(field) else "not a whole number"
    if kind in {"greater_than_equal", "less_than_equal"}:
        return f"out of range: must be {_bounds(field)}"
    return error["msg"]  # a kind no setting above can produce today; pydantic's words


def _as_written(value: Any) -> str:
    """A setting's value in quotes as it was written (a Windows path's backslashes single),
    escaped only where it holds a quote or an unprintable character."""
    if isinstance(value, str) and value.isprintable() and "'" not in value:
        return f"'{value}'"
    return repr(value)


def checked_settings(
    values: dict[str, Any], names: dict[str, str], shown: dict[str, Any] | None = None
) -> ProxxAutomation:
    """`values` as ProxxAutomation, or SettingsProblem naming each wrong setting by `names`
    (environment variables or YAML attributes) with its value (`shown`, else as given)."""
    try:
        return ProxxAutomation.model_validate(values)
    except ValidationError as error:
        lines = []
        for detail in error.errors():
            field = str(detail["loc"][0]) if detail["loc"] else ""
            name = names.get(field, field)
            value = (shown or values).get(field, detail["input"])
            example = _EXAMPLES.get(field)
            fix = f"; set e.g. {name}={shlex.quote(example)}" if example else ""
            if field not in (shown or values):
                lines.append(f"{name} unset: {_why(field, detail)}{fix}")
            else:
                lines.append(f"{name}={_as_written(value)}: {_why(field, detail)}{fix}")
        raise SettingsProblem("\n".join(lines)) from None


def configured_cores() -> int:
    """The cores runs are planned for: PROXX_CORES, else this machine's (SettingsProblem when
    PROXX_CORES is wrong). Reads no other setting."""
    raw = (
        {"cores": os.environ[ENVIRONMENT["cores"]]} if os.environ.get(ENVIRONMENT["cores"]) else {}
    )
    return checked_settings(dict(raw), ENVIRONMENT, raw).cores
