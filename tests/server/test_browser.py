"""The live-preview page in a real browser: Debian's chromium, headless, driven by Playwright.

A real uvicorn server (127.0.0.1, the default decoder) serves the page; the test uploads a
photo, drags the alpha slider, sees low-resolution previews while it moves and a different full
render when it stops, downloads the result and saves screenshots (to ``$ADAIN_SCREENSHOT_DIR``
as well when that is set). Skipped, with the reason, where chromium or Playwright is missing;
``.ci/run`` installs chromium so CI runs it.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adain.errors import MissingWeightsError
from adain.pipeline.stylize import StylizationPipeline
from adain.server import ServerConfig

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian: apt-get install chromium; .ci/run does)"
    ),
]

#: records every image the result element shows: its kind (preview/full), size and a pixel checksum
RECORDER = """() => {
  const image = document.querySelector('#result');
  window.shown = [];
  image.addEventListener('load', () => {
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += data[i] + 3 * data[i + 1] + 7 * data[i + 2];
    window.shown.push({kind: image.dataset.kind, seq: Number(image.dataset.seq), width: canvas.width,
                       height: canvas.height, checksum: sum});
  });
}"""


@pytest.fixture(scope="module")
def default_pipeline(decoder_file: Path) -> StylizationPipeline:
    """The shipped default decoder (a seeded random one if this checkout has none yet)."""
    try:
        return StylizationPipeline.from_preset("vgg16-hed")
    except MissingWeightsError:
        return StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, no sandbox, no background networking."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'browser-test' extra (playwright)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def full_renders(page: Any) -> list[dict[str, Any]]:
    return [entry for entry in page.evaluate("window.shown") if entry["kind"] == "full"]


def test_page_upload_slider_preview_download(
    browser: Any,
    live_server: Callable[..., Any],
    server_config: ServerConfig,
    default_pipeline: StylizationPipeline,
    tmp_path: Path,
) -> None:
    from skimage import data

    photo = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()).save(photo)
    config = replace(
        server_config,
        default_size=160,
        preview_size=64,
        limits=replace(server_config.limits, max_pixels=1_000_000, max_size=256),
    )
    server = live_server(config, default_pipeline)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    page = browser.new_page(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/")
    page.wait_for_selector("#style-list li")
    assert "186 styles" in page.text_content("#style-count")
    page.evaluate(RECORDER)

    # upload a photo: a full render at the default size follows
    page.set_input_files("#content-file", str(photo))
    page.wait_for_function("window.shown.some(e => e.kind === 'full')", timeout=60_000)
    first = full_renders(page)[-1]
    assert min(first["width"], first["height"]) == 160
    page.screenshot(path=str(shots / "page-loaded.png"))

    # drag the alpha slider from 1 to about 0.3: previews while it moves, then a new full render
    box = page.locator("#alpha").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] - 4, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (1 - 0.07 * step), y)
        page.wait_for_timeout(60)
    page.mouse.up()
    alpha = float(page.input_value("#alpha"))
    assert alpha < 0.5
    page.wait_for_function(f"window.shown.some(e => e.kind === 'full' && e.seq > {first['seq']})", timeout=60_000)
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Full render')")
    shown = page.evaluate("window.shown")
    previews = [e for e in shown if e["kind"] == "preview" and e["seq"] > first["seq"]]
    assert previews, f"no preview while the slider moved: {shown}"
    assert all(min(e["width"], e["height"]) == 64 for e in previews)
    assert any(e["checksum"] != previews[0]["checksum"] for e in previews) or len(previews) == 1
    last = full_renders(page)[-1]
    assert (last["width"], last["height"]) == (first["width"], first["height"])
    assert last["checksum"] != first["checksum"], "the full render did not change with alpha"
    page.screenshot(path=str(shots / "page-alpha.png"))

    # download the full render
    with page.expect_download() as download_info:
        page.click("#download")
    downloaded = tmp_path / "downloaded.png"
    download_info.value.save_as(downloaded)
    with Image.open(io.BytesIO(downloaded.read_bytes())) as image:
        assert image.format == "PNG" and image.size == (last["width"], last["height"])
    assert download_info.value.suggested_filename == "stylized.png"
    assert errors == [], errors
    assert page.locator("#error").is_hidden()
    page.close()

    assert (shots / "page-loaded.png").stat().st_size > 10_000 and (shots / "page-alpha.png").stat().st_size > 10_000
    if os.environ.get("ADAIN_SCREENSHOT_DIR"):
        shutil.copytree(shots, os.environ["ADAIN_SCREENSHOT_DIR"], dirs_exist_ok=True)


def test_study_page_records_a_choice(
    browser: Any, live_server: Callable[..., Any], server_config: ServerConfig, tmp_path: Path
) -> None:
    from adain.server.study import StudyStore

    plan = tmp_path / "study.json"
    plan.write_text('{"configurations": {"full": {"alpha": 1.0}, "half": {"alpha": 0.5}}, "size": 48}')
    server = live_server(replace(server_config, study_config=plan))
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    page.goto(server.url + "/study")
    loaded = "() => ['left', 'right'].every(id => document.getElementById(id).complete && document.getElementById(id).naturalWidth > 0)"
    page.wait_for_function(loaded, timeout=60_000)
    first = page.get_attribute("#left", "src")
    page.screenshot(path=str(tmp_path / "study.png"))
    page.click("#choose-left")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('1 answered')", timeout=60_000)
    assert page.get_attribute("#left", "src") != first  # the next trial
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('2 answered')", timeout=60_000)
    page.close()
    decisions = StudyStore(server_config.study_db).decisions()
    assert len(decisions) == 2 and {winner for _, _, winner in decisions} <= {"full", "half"}
