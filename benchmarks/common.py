"""What the benchmark's comparisons share: the machine, timing a child process, clip names."""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import subprocess
import time
from pathlib import Path

from proxx_exec.tools.samples import SampleClip, make_sample

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


def _section_bounds(lines: list[str], title: str) -> tuple[int, int] | None:
    heading = f"## {title}"
    if heading not in lines:
        return None
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def section_of(path: Path, title: str) -> list[str] | None:
    """The body of the page's `## title` section, or None if it has none."""
    lines = path.read_text().splitlines() if path.exists() else []
    bounds = _section_bounds(lines, title)
    return None if bounds is None else lines[bounds[0] + 2 : bounds[1]]


def replace_section(path: Path, title: str, body: list[str]) -> None:
    """Write `## title` with `body` in place of the page's section of that title, or append it:
    a benchmark run on its own refreshes its section and leaves the rest of the page alone."""
    lines = path.read_text().splitlines()
    while lines and not lines[-1]:
        lines.pop()
    new = [f"## {title}", "", *body]
    while new and not new[-1]:
        new.pop()
    bounds = _section_bounds(lines, title)
    if bounds is None:
        lines += ["", *new]
    else:
        lines[bounds[0] : bounds[1]] = [*new, ""] if bounds[1] < len(lines) else new
    path.write_text("\n".join(lines) + "\n")


def publish_section(path: Path, title: str, body: list[str], write: bool) -> None:
    """Print a benchmark's own section and, when `write`, put it in the page (replace_section)."""
    print("\n".join(body))
    if write:
        replace_section(path, title, body)
        print(f"wrote the {title!r} section of {path.relative_to(REPO)}")
