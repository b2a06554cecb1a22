"""What the benchmark's comparisons share: the machine, timing a child process, clip names."""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import subprocess
import time
from pathlib import Path

from proxx_exec.samples import SampleClip, make_sample

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{model}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def spread(samples: list[float]) -> float:
    return (max(samples) - min(samples)) / statistics.median(samples)


def measured(samples: list[float]) -> str:
    """Median wall time and spread, as the tables show them."""
    return f"{statistics.median(samples):.2f} s ({spread(samples):.0%})"


def timed_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and the process's own peak RSS in KiB (VmHWM, polled; children excluded)."""
    began = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - began
    if process.returncode != 0:
        raise SystemExit(f"benchmark command failed ({process.returncode}): {argv}")
    return elapsed, peak


def clip_folder(source: Path, folder: Path, count: int) -> list[str]:
    """`count` names for one clip (hard links): distinct sources without copying media."""
    folder.mkdir()
    names = []
    for index in range(count):
        link = folder / f"C{index:04d}.mov"
        os.link(source, link)
        names.append(str(link))
    return names


def source_clip(root: Path, size: str, seconds: float) -> Path:
    width, height = (int(v) for v in size.split("x"))
    return make_sample(
        root / f"SRC-{size}.mov",
        SampleClip(
            width=width,
            height=height,
            duration_s=seconds,
            audio_channels=(2, 1),
            video_codec="libx264",
            codec_args=("-preset", "ultrafast", "-crf", "12"),
            pix_fmt="yuv420p",
        ),
    )


def dagster_home(root: Path, name: str) -> Path:
    """A new DAGSTER_HOME under `root` with the deployment's dagster.yaml."""
    home = root / name
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    return home


def xargs_listing(commands: dict[str, list[str]], scratch: Path) -> Path:
    """For `xargs -n1 sh`: one script per command (named by its key) that execs it with no
    input and no output, and the file listing the scripts in order."""
    scripts = []
    for name, argv in commands.items():
        script = scratch / f"{name}.sh"
        script.write_text("exec " + shlex.join(argv) + " </dev/null >/dev/null 2>&1\n")
        scripts.append(str(script))
    listing = scratch / "jobs.txt"
    listing.write_text("\n".join(scripts) + "\n")
    return listing


def replace_section(page: Path, heading: str, lines: list[str]) -> None:
    """Put `lines` under `heading` in a markdown page: the section (up to the next heading of
    its level) is replaced if it exists, else appended. Other benchmarks keep their sections."""
    text = page.read_text().rstrip("\n").split("\n") if page.exists() else []
    level = heading.split(" ", 1)[0] + " "
    body = [heading, "", *lines, ""]
    if heading in text:
        begin = text.index(heading)
        end = next((i for i in range(begin + 1, len(text)) if text[i].startswith(level)), len(text))
        text[begin:end] = body
    else:
        text += ["", *body]
    page.write_text("\n".join(text).rstrip("\n") + "\n")


def kept_section(page: Path, heading: str) -> list[str]:
    """The section under `heading` in a page (heading included), or nothing: what a benchmark
    that rewrites the whole page carries over from another one."""
    if not page.exists():
        return []
    text = page.read_text().rstrip("\n").split("\n")
    if heading not in text:
        return []
    level = heading.split(" ", 1)[0] + " "
    begin = text.index(heading)
    end = next((i for i in range(begin + 1, len(text)) if text[i].startswith(level)), len(text))
    return [*text[begin:end], ""]
