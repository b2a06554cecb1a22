"""`ProxxComponent`: proxx declared in a dg project's YAML instead of environment variables.

    type: proxx_dagster.ProxxComponent
    attributes:
      watch_roots: [/media/incoming]
      profile: h264_half
      proxy_root: /media/proxies

The attributes are the settings of `ProxxAutomation` (same names, same checks, same meaning as
the PROXX_* variables); the component contributes everything `build_definitions` does.
"""

import textwrap
from typing import Any

from dagster import Component, ComponentLoadContext, Definitions, Scaffolder, ScaffoldRequest
from dagster import scaffold_with as _scaffold_with
from pydantic import BaseModel

from proxx_dagster.builders import build_definitions
from proxx_dagster.settings import ProxxAutomation

EXAMPLE_ATTRIBUTES = """\
# Every setting of ProxxAutomation may appear here; see docs/dagster.md.
watch_roots: [/media/incoming]    # each folder below one is a camera card: one run each
watch_settle_s: 120               # a card is taken once unchanged for this long
profile: h264_half                # built-in profile (proxx profiles lists them)
# proxy_root: /media/proxies      # unset: a Proxy folder inside each card
# nightly_folder: /media/jobs     # JobSpec files run every night at `cron`
# report_folder: /media/reports   # night reports; unset: proxy_root, else DAGSTER_HOME
cron: "0 2 * * *"
timezone: UTC
"""


class ProxxComponentScaffolder(Scaffolder[BaseModel]):
    """`dg scaffold defs proxx_dagster.ProxxComponent NAME` writes a defs.yaml to fill in."""

    def scaffold(self, request: ScaffoldRequest[BaseModel]) -> None:
        request.target_path.mkdir(parents=True, exist_ok=True)
        attributes = textwrap.indent(EXAMPLE_ATTRIBUTES, "  ")
        (request.target_path / "defs.yaml").write_text(
            f"type: {request.type_name}\nattributes:\n{attributes}"
        )


@_scaffold_with(ProxxComponentScaffolder)
class ProxxComponent(Component):
    """Verified editing proxies: camera-card watch folders, the folder launchpad, the nightly
    schedule, the inbox, proxx_job and proxx_batch, set up from YAML attributes (the settings
    of ProxxAutomation: watch_roots, profile, proxy_root, cron, ...)."""

    def __init__(self, settings: ProxxAutomation | None = None) -> None:
        self.settings = settings or ProxxAutomation()

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return ProxxAutomation  # one definition of every setting, its check and description

    @classmethod
    def load(cls, attributes: BaseModel | None, context: ComponentLoadContext) -> Any:
        if attributes is None:
            return cls()
        return cls(ProxxAutomation.model_validate(attributes.model_dump(exclude_unset=True)))

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        return build_definitions(automation=self.settings)
