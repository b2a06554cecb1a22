"""ProxxComponent with the real `dg` CLI on a dg project generated here: `dg list components`
finds it, `dg scaffold defs` writes its defs.yaml, `dg check defs` passes (and names a bad
attribute), and `dg launch` runs the folder job the component contributes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from benchmarks.dagster_processes import BIN, REPO, dagster_env
from proxx_dagster.component import ProxxComponent
from proxx_dagster.settings import ENVIRONMENT, ProxxAutomation
from tests.helpers import Media

PYPROJECT = """\
[project]
name = "proxx-team"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["proxx-dagster"]

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "proxx_team"
"""
DEFINITIONS = """\
from pathlib import Path

from dagster import Definitions, definitions, load_from_defs_folder


@definitions
def defs() -> Definitions:
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


def generate_project(folder: Path) -> Path:
    """A dg project of a team, as `create-dagster project` lays it out (flat package)."""
    (folder / "proxx_team" / "defs").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "proxx_team" / "__init__.py").touch()
    (folder / "proxx_team" / "defs" / "__init__.py").touch()
    (folder / "proxx_team" / "definitions.py").write_text(DEFINITIONS)
    return folder


def dg(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dg"), *args],
        cwd=project,
        env=dagster_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_team_declares_proxx_in_yaml_and_dg_runs_it(
    media: Media, tmp_path: Path, dagster_home: Path
) -> None:
    project = generate_project(tmp_path / "proxx-team")
    listed = dg(project, dagster_home, "list", "components", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    keys = [entry["key"] for entry in json.loads(listed.stdout)["items"]]
    assert "proxx_dagster.ProxxComponent" in keys

    scaffolded = dg(
        project, dagster_home, "scaffold", "defs", "proxx_dagster.ProxxComponent", "proxies"
    )
    assert scaffolded.returncode == 0, scaffolded.stderr[-2000:]
    defs_yaml = project / "proxx_team" / "defs" / "proxies" / "defs.yaml"
    declared = yaml.safe_load(defs_yaml.read_text())
    assert declared["type"] == "proxx_dagster.ProxxComponent"
    assert set(declared["attributes"]) <= set(ProxxAutomation.model_fields)

    incoming, proxies = tmp_path / "incoming", tmp_path / "proxies"
    attributes = {
        "watch_roots": [str(incoming)],
        "watch_settle_s": 300,
        "profile": "h264_quarter",
        "proxy_root": str(proxies),
        "cron": "30 1 * * *",
        "timezone": "Europe/Berlin",
    }
    defs_yaml.write_text(yaml.safe_dump({**declared, "attributes": attributes}))
    checked = dg(project, dagster_home, "check", "defs")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    listed_defs = dg(project, dagster_home, "list", "defs", "--json")
    assert listed_defs.returncode == 0, listed_defs.stderr[-2000:]
    found = json.loads(listed_defs.stdout)
    assert {"proxx_folder_job", "proxx_job", "proxx_batch"} <= {j["name"] for j in found["jobs"]}
    assert "proxx_watch" in {s["name"] for s in found["sensors"]}
    [nightly] = [s for s in found["schedules"] if s["name"] == "proxx_nightly"]
    assert nightly["cron_schedule"] == "30 1 * * *"

    # The attributes are the settings the sensor and the schedule get.
    component = ProxxComponent.from_attributes_dict(
        attributes=yaml.safe_load(defs_yaml.read_text())["attributes"]
    )
    assert component.settings == ProxxAutomation(**attributes)  # type: ignore[arg-type]

    # The folder launchpad of the component's definitions, through `dg launch`.
    card = incoming / "A001"
    card.mkdir(parents=True)
    shutil.copyfile(media.standard, card / "A001C001.mov")
    config = {
        "ops": {
            "plan_card": {
                "config": {
                    "folder": str(card),
                    "profile": "h264_quarter",
                    "proxy_root": str(proxies),
                }
            }
        }
    }
    launched = dg(
        project,
        dagster_home,
        "launch",
        "--job",
        "proxx_folder_job",
        "--config-json",
        json.dumps(config),
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert (proxies / "A001" / "A001C001.mov").is_file()

    # A wrong attribute fails the check, naming the attribute and where it is.
    attributes["profile"] = "h265_tiny"
    defs_yaml.write_text(yaml.safe_dump({**declared, "attributes": attributes}))
    broken = dg(project, dagster_home, "check", "defs")
    assert broken.returncode != 0
    output = broken.stdout + broken.stderr
    assert "unknown profile 'h265_tiny'. The built-in profiles are prores_proxy" in output
    assert "h265_tiny" in output
    assert "attributes.profile" in output and "defs.yaml" in output


def test_the_component_yaml_in_the_docs_is_valid() -> None:
    """Every `type: proxx_dagster.ProxxComponent` block of the README and docs/dagster.md loads."""
    blocks = []
    for doc in (REPO / "README.md", REPO / "docs" / "dagster.md"):
        for block in doc.read_text().split("```yaml\n")[1:]:
            text = block.split("```", 1)[0]
            if "type: proxx_dagster.ProxxComponent" in text:
                blocks.append(yaml.safe_load(text))
    assert len(blocks) == 2
    for block in blocks:
        settings = ProxxAutomation.model_validate(block["attributes"])
        assert settings.watch_roots == ["/media/incoming"]


def test_operations_doc_names_every_setting() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    assert [name for name in ENVIRONMENT.values() if f"`{name}`" not in text] == []


def test_operations_doc_gives_each_settings_default() -> None:
    """Each `PROXX_` row of the operations guide's tables states the default the settings
    have: the value itself, or "(none" where the setting is unset by default."""
    text = (REPO / "docs" / "operations.md").read_text()
    rows = re.findall(r"^\| `(PROXX_[A-Z_]+)` \| ([^|]+) \|", text, flags=re.MULTILINE)
    by_name = {name: field for field, name in ENVIRONMENT.items()}
    assert rows and {name for name, _ in rows} <= set(by_name)
    wrong = []
    for name, stated in rows:
        default = ProxxAutomation.model_fields[by_name[name]].get_default(call_default_factory=True)
        if isinstance(default, bool):  # the variable is written true or false
            expected = f"`{str(default).lower()}`"
        else:
            expected = "(none" if default in (None, []) else f"`{default}`"
        if name == "PROXX_REPORT_FOLDER":  # unset, it follows another setting; the field says
            described = ProxxAutomation.model_fields[by_name[name]].description or ""
            assert "proxy_root when that is set, else <DAGSTER_HOME>/proxx-night-reports" in (
                " ".join(described.split())
            )
            expected = "`PROXX_PROXY_ROOT`, else `$DAGSTER_HOME/proxx-night-reports`"
        if not stated.startswith(expected):
            wrong.append((name, stated.strip(), expected))
    assert wrong == []
