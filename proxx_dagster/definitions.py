"""The code location `proxx`: everything `build_definitions` contributes, with the automation's
settings read from the PROXX_* environment variables when the code location loads.

`dg dev` (through `workspace.yaml` or pyproject's `[tool.dagster]`) and `dg launch` load `defs`
from here. Nothing else imports this module: `import proxx_dagster` reads no environment.
"""

from __future__ import annotations

from proxx_dagster.builders import build_definitions
from proxx_dagster.names import PROXX_JOB

defs = build_definitions()
proxx_job = defs.resolve_job_def(PROXX_JOB)
