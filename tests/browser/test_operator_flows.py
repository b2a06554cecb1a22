"""The operator's flows in a real browser: headless Chromium (Debian's `chromium`, driven by
Playwright) against `dg dev` started by `python3 dev.py ui`.

Launch a card folder from the folder launchpad, watch per-clip progress in the run, open the
proxies' asset page and see the poster frames, open a failed run and read its reason, open the
night report the run links to. Screenshots land in the test's folder. To refresh the ones in
docs/screenshots, set PROXX_SCREENSHOT_ROOT to a folder that does not exist yet (the pages show
its paths, e.g. /srv/proxx-demo): the scenario runs there and the screenshots are copied.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from benchmarks.dagster_processes import REPO, free_port, listening
from benchmarks.processes import descendants, still_running, wait_for
from proxx_exec.process import ENGINE_ENVIRONMENT
from proxx_exec.tools.samples import SampleClip, make_sample
from tests.helpers import REAL_ENGINE, unavailable

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browsers are never used
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = REPO / "docs" / "screenshots"
UI_START_S = 180
RUN_S = 240
# The sensor that writes the night report looks every 30 s.
NIGHT_REPORT_S = 120
# Dagster's UI asks a new browser on localhost to join its community once; a person clicks it
# away, the test says it was (the UI keeps that answer in the browser's local storage).
DISMISS_COMMUNITY_DIALOG = "window.localStorage.setItem('communityNux', JSON.stringify('1'))"


@dataclass(frozen=True)
class UI:
    url: str
    home: Path


SCREENSHOT_ROOT = "PROXX_SCREENSHOT_ROOT"


def shot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get(SCREENSHOT_ROOT):
        SCREENSHOTS.mkdir(exist_ok=True)
        (SCREENSHOTS / path.name).unlink(missing_ok=True)
        subprocess.run(  # 256 colours: a UI page stays sharp at a third of the bytes
            [
                *("ffmpeg", "-v", "error", "-i", f"file:{path}", "-filter:v"),
                "split[a][b];[a]palettegen[p];[b][p]paletteuse=dither=none",
                *("-c:v", "png", "-pred", "mixed", f"file:{SCREENSHOTS / path.name}"),
            ],
            executable=REAL_ENGINE,
            env=ENGINE_ENVIRONMENT,
            check=True,
            capture_output=True,
        )


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Path]:
    """The folder the cards and the instance live in: the test's own, or PROXX_SCREENSHOT_ROOT
    (made here, removed afterwards) when the docs' screenshots are refreshed."""
    chosen = os.environ.get(SCREENSHOT_ROOT)
    if not chosen:
        yield tmp_path
        return
    root = Path(chosen)
    root.mkdir(parents=True)  # refuses a folder that exists: nothing of anyone's is touched
    try:
        yield root
    finally:
        shutil.rmtree(root)


@pytest.fixture
def ui(scenario: Path, tmp_path: Path) -> Iterator[UI]:
    """`python3 dev.py ui` on a free port and a fresh DAGSTER_HOME; stopped the way a script
    stops it (SIGTERM), and then nothing it started may still run."""
    port = free_port()
    home = scenario / "dagster_home"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "dev.py"), "ui"],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(home), "PROXX_UI_PORT": str(port)},
        stdout=(tmp_path / "ui.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = []
    try:
        wait_for(lambda: listening(port), UI_START_S, "dg dev to listen")
        started = descendants(process.pid)
        yield UI(f"http://127.0.0.1:{port}", home)
    finally:
        started = started or descendants(process.pid)
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(timeout=120)
    assert code == 0, (tmp_path / "ui.log").read_text()[-3000:]
    assert still_running(started) == []


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    if not CHROMIUM.is_file():
        unavailable(f"Debian's chromium is not installed ({CHROMIUM}; apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a new, empty profile
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        context.set_default_timeout(60_000)
        context.add_init_script(DISMISS_COMMUNITY_DIALOG)
        try:
            yield context
        finally:
            context.close()


def card(folder: Path, seconds: list[float]) -> Path:
    """A camera card of clips of different lengths (so their middle frames differ)."""
    folder.mkdir(parents=True)
    for number, length in enumerate(seconds, start=1):
        make_sample(
            folder / f"A{number:03d}C001.mov",
            SampleClip(duration_s=length, timecode=f"{9 + number:02d}:00:00:00", reel_name=None),
        )
    return folder


def truncated_card(folder: Path, whole: Path) -> Path:
    """A card whose only clip was copied in part: its index (written first, as cameras do)
    promises frames the file lacks."""
    folder.mkdir(parents=True)
    indexed_first = folder.parent / "indexed-first.mov"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-i", f"file:{whole}", "-map", "0", "-c", "copy"),
            *("-movflags", "+faststart", f"file:{indexed_first}"),
        ],
        executable=REAL_ENGINE,
        env=ENGINE_ENVIRONMENT,
        check=True,
        capture_output=True,
    )
    data = indexed_first.read_bytes()
    (folder / "B001C001.mov").write_bytes(data[: len(data) * 6 // 10])
    return folder


def launch_folder(page: Page, ui: UI, folder: Path, screenshots: Path | None = None) -> str:
    """What a person does: open the folder launchpad, scaffold the missing config (the first
    time: the launchpad keeps the last config), fill in the folder, keep a profile, launch.
    Returns the run's id (from the run page's address)."""
    page.goto(f"{ui.url}/locations/proxx/jobs/proxx_folder_job/playground")
    editor = page.locator(".CodeMirror").first
    if screenshots is not None:  # the first launch: nothing filled in yet
        page.get_by_role("button", name="Scaffold missing config").click()
        page.get_by_role("button", name="Confirm").click()
        expect(editor).to_contain_text("folder: ''")
        expect(editor).to_contain_text(
            "profile: 'h264_half|prores_proxy|prores_lt|dnxhr_lb|h264_quarter'"
        )
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(
        "ops:\n  plan_card:\n    config:\n"
        f"      folder: {folder}\n      profile: h264_half\n      proxy_root: ''\n"
    )
    expect(page.get_by_text("No missing config")).to_be_visible()
    if screenshots is not None:
        shot(page, screenshots, "launchpad")
    page.get_by_role("button", name="Launch Run").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}.*"))
    match = re.search(r"/runs/([0-9a-f-]{36})", page.url)
    assert match is not None
    return match.group(1)


def test_an_operator_launches_a_card_watches_it_sees_posters_and_reads_a_failure(
    ui: UI, browser: BrowserContext, scenario: Path, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    good = card(scenario / "incoming" / "A001", [6, 8, 10])
    page = browser.new_page()

    # Launch from the folder launchpad and watch the clips go by in the run's log.
    run_id = launch_folder(page, ui, good, shots)
    page.get_by_placeholder("Filter…").fill("frames")  # the progress lines
    log = page.locator("body")
    expect(log).to_contain_text("clip 1/3", timeout=RUN_S * 1000)
    expect(log).to_contain_text("clip 3/3", timeout=RUN_S * 1000)
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_S * 1000)
    for number, frames in ((1, 150), (2, 200), (3, 250)):
        expect(log).to_contain_text(
            re.compile(rf"clip {number}/3 \S+A00{number}C001\.mov: done {frames}/{frames} frames")
        )
    shot(page, shots, "run-progress")

    # The asset page: the proxies' materialization shows a poster per clip.
    page.goto(f"{ui.url}/assets/proxx/proxies")
    row = page.locator("tr", has_text="proxx/posters").first
    row.scroll_into_view_if_needed()
    row.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    images = dialog.locator("img")
    expect(images).to_have_count(3)
    posters = sorted((good / "Proxy").glob("*.proxx-posters/*.png"))
    assert len(posters) == 3
    for image, poster in zip(images.all(), posters, strict=True):
        image.scroll_into_view_if_needed()
        assert image.evaluate("img => img.complete && img.naturalWidth") == 320
        source = image.get_attribute("src") or ""
        assert source == "data:image/png;base64," + base64.b64encode(poster.read_bytes()).decode()
    expect(dialog).to_contain_text("clip 3 · A003C001.mov · TC 12:00:00:00 · frame 126 of 250")
    images.first.scroll_into_view_if_needed()
    shot(page, shots, "asset-posters")
    dialog.get_by_role("button", name="Close").click()

    # A card copied in part: the run fails, and its page says why in plain words.
    whole = next(iter(sorted(good.glob("*.mov"))))
    bad = truncated_card(scenario / "incoming" / "B001", whole)
    failed_id = launch_folder(page, ui, bad)
    expect(page.get_by_text("Failure", exact=True).first).to_be_visible(timeout=RUN_S * 1000)
    reason = page.get_by_text(re.compile(r"VALIDATION SOURCE_TRUNCATED: clip 1: source .* is cut"))
    expect(reason.first).to_be_visible()
    expect(page.locator("body")).to_contain_text("a copy still in progress, or a damaged file")
    reason.first.scroll_into_view_if_needed()
    shot(page, shots, "failed-run")

    # The night report, linked from each run once the sensor has written it.
    page.goto(f"{ui.url}/runs/{run_id}")
    page.get_by_placeholder("Filter…").fill("night report")
    link = page.get_by_text(re.compile(r"night report: \S+proxx-night-\d{4}-\d\d-\d\d\.html"))
    expect(link.first).to_be_visible(timeout=NIGHT_REPORT_S * 1000)
    named = re.search(r"night report: (\S+\.html)", link.first.inner_text())
    assert named is not None
    report = Path(named.group(1))
    assert report.parent == ui.home / "proxx-night-reports"
    page.goto(f"{ui.url}/runs/{failed_id}")
    page.get_by_placeholder("Filter…").fill("night report")
    expect(page.get_by_text(f"night report: {report}").first).to_be_visible(
        timeout=NIGHT_REPORT_S * 1000
    )
    page.goto(report.as_uri())
    expect(page.locator("h1")).to_contain_text("proxx · night of")
    expect(page.locator("body")).to_contain_text("2 job(s): 1 COMPLETED, 1 FAILED")
    expect(page.locator("body")).to_contain_text("VALIDATION SOURCE_TRUNCATED")
    thumbnails = page.locator("td img")
    expect(thumbnails).to_have_count(3)
    assert all(img.evaluate("i => i.complete && i.naturalWidth > 0") for img in thumbnails.all())
    shot(page, shots, "night-report")
