"""File names that look like markup, as camera and editorial names often do (`A001 [take 2]`),
or that try to forge a line or reverse their own text: the `proxx` command shows them as they
are, and `proxx_exec.display` escapes them for each target language."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import markdown_it
from rich.console import Console

from proxx_exec.display import html_text, markdown_text, rich_text, visible
from tests.helpers import Media, proxx

RLO = "\u202e"  # right-to-left override: "C<RLO>vom.mov" would show as "Cvom.mov" reversed
CLIP_NAMES = (
    "A001 [take 2].mov",
    "[bold]B.mov",
    f"C{RLO}vom.mov",
    "*D*_e_ `f` |g| [x](y).mov",
    "<script>h</script>.mov",
)
WIDE = {"COLUMNS": "300"}  # no wrapping in the middle of a name


def hostile_job(tmp_path: Path, media: Media) -> tuple[Path, Path]:
    card = tmp_path / "card"
    card.mkdir()
    out_dir = tmp_path / "proxies"
    out_dir.mkdir()
    sources = []
    for name in CLIP_NAMES:
        # a name may not hold "/", so the script "closes" with a look-alike (U+2215)
        path = card / name.replace("/", "\u2215")
        shutil.copyfile(media.standard, path)
        sources.append(str(path))
    spec = tmp_path / "job.json"
    spec.write_text(
        json.dumps(
            {
                "spec_version": "1",
                "job_id": "hostile",
                "sources": sources,
                "output_dir": str(out_dir),
                "profile": "h264_quarter",
            }
        )
    )
    return spec, out_dir


def shown(name: str) -> str:
    return visible(name.replace("/", "\u2215"))


def test_plan_comments_show_names_as_written(tmp_path: Path, media: Media) -> None:
    spec, _out_dir = hostile_job(tmp_path, media)
    planned = proxx("plan", spec, **WIDE)
    assert planned.returncode == 0, planned.stderr
    comments = [line for line in planned.stdout.splitlines() if line.startswith("# clip")]
    assert [line.split(": ", 1)[1].split(" -> ")[0] for line in comments] == [
        visible(line) for line in json.loads(spec.read_text())["sources"]
    ]
    # the command lines quote the exact paths for a shell (shlex); the comments show them
    assert not [
        line for line in planned.stdout.splitlines() if line.startswith("#") and RLO in line
    ]


def test_run_prints_names_as_written(tmp_path: Path, media: Media) -> None:
    spec, _out_dir = hostile_job(tmp_path, media)
    ran = proxx("run", spec, "--result", tmp_path / "result.json", **WIDE)
    assert ran.returncode == 0, ran.stderr
    for number, name in enumerate(CLIP_NAMES, start=1):
        # the progress bar's label: "N/5 <name> [verified]"
        assert f"{number}/{len(CLIP_NAMES)} {shown(name)} " in ran.stderr, ran.stderr
    assert "C\\u202evom.mov" in ran.stderr
    assert RLO not in ran.stderr  # never sent to the terminal, where it would reverse the text


def test_audit_shows_an_extra_file_on_its_own_line(tmp_path: Path, media: Media) -> None:
    spec, out_dir = hostile_job(tmp_path, media)
    assert proxx("run", spec, "--result", tmp_path / "result.json").returncode == 0
    forged = "x.mov\n    [bold]all proxies intact"
    (out_dir / forged).write_bytes(b"")
    audited = proxx("audit", out_dir / "hostile.proxx-result.json", **WIDE)
    assert audited.returncode == 1
    lines = audited.stdout.splitlines()
    assert not [line for line in lines if "all proxies intact" in line and "x.mov" not in line]
    assert any("x.mov\\n    [bold]all proxies intact" in line for line in lines), lines


def test_each_target_language_shows_the_text_as_written() -> None:
    console = Console(width=400, color_system=None, file=None)
    for name in (*CLIP_NAMES, "tail\\", "a\nb\tc\x1b[31m", "\ud800bytes"):
        with console.capture() as captured:
            console.print(f"[bold]{rich_text(name)}[/] [dim]{rich_text(name)}[/]", end="")
        assert captured.get() == f"{visible(name)} {visible(name)}"

        rendered = markdown_it.MarkdownIt("commonmark").enable("table")
        cell = rendered.render(f"| a |\n| --- |\n| {markdown_text(name)} |\n")
        assert cell.count("<td>") == 1 and "<em>" not in cell and "<a " not in cell
        assert html.unescape(cell.split("<td>")[1].split("</td>")[0]) == visible(name)

        escaped = html_text(name)
        assert "<" not in escaped and '"' not in escaped and RLO not in escaped
