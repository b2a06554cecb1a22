"""Deploy-time settings of the automation, as a Dagster resource.

Operators set them with environment variables of the code location (read here, on the
orchestration side; proxx_exec never reads the environment).
"""

import os
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import ConfigurableResource
from pydantic import Field, field_validator, model_validator

from proxx_dagster.folder_spec import DEFAULT_PROFILE
from proxx_exec import BUILTIN_PROFILES
from proxx_exec.jobspec import relative_path_problem
from proxx_exec.profiles import unknown_profile

DEFAULT_CRON = "0 2 * * *"
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
}
_LIST_FIELDS = frozenset({"watch_roots"})


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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from None
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

    @field_validator("report_folder")
    @classmethod
    def _absolute_report_folder(cls, value: str | None) -> str | None:
        if value is not None and (problem := relative_path_problem(value)):
            raise ValueError(f"report_folder {problem}")
        return value

    @model_validator(mode="after")
    def _proxy_root_outside_watch_roots(self) -> "ProxxAutomation":
        if self.proxy_root is None:
            return self
        proxies = PurePosixPath(self.proxy_root)
        if problem := relative_path_problem(self.proxy_root):
            raise ValueError(f"proxy_root {problem}")
        for root in map(PurePosixPath, self.watch_roots):
            if proxies.is_relative_to(root):
                raise ValueError(
                    f"proxy_root {proxies} is inside the watch root {root}: its proxies would "
                    "be taken for camera cards"
                )
        return self

    @classmethod
    def from_environment(cls) -> "ProxxAutomation":
        values: dict[str, Any] = {
            field: os.environ[name] for field, name in ENVIRONMENT.items() if os.environ.get(name)
        }
        for field in _LIST_FIELDS & values.keys():
            values[field] = [part for part in values[field].split(LIST_SEPARATOR) if part]
        return cls.model_validate(values)  # strings are converted and checked per field
