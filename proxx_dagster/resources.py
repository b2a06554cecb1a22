"""Deploy-time settings of the automation, as a Dagster resource.

Operators set them with environment variables of the code location (read here, on the
orchestration side; proxx_exec never reads the environment).
"""

import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import ConfigurableResource
from pydantic import Field, field_validator

DEFAULT_CRON = "0 2 * * *"
ENVIRONMENT = {
    "nightly_folder": "PROXX_NIGHTLY_FOLDER",
    "inbox_folder": "PROXX_INBOX_FOLDER",
    "cron": "PROXX_NIGHTLY_CRON",
    "timezone": "PROXX_TIMEZONE",
    "inbox_interval_s": "PROXX_INBOX_INTERVAL_S",
    "orphan_interval_s": "PROXX_ORPHAN_INTERVAL_S",
}


class ProxxAutomation(ConfigurableResource):  # type: ignore[type-arg]
    """Where the nightly schedule and the inbox sensor find JobSpec files, and when."""

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

    @classmethod
    def from_environment(cls) -> "ProxxAutomation":
        values = {
            field: os.environ[name] for field, name in ENVIRONMENT.items() if os.environ.get(name)
        }
        return cls.model_validate(values)  # strings are converted and checked per field
