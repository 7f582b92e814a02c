"""The live-preview page in a real browser: Debian's chromium, headless, driven by Playwright.

A real uvicorn server (127.0.0.1, the default decoder) serves the page. The tests upload a photo,
drag the alpha slider (low-resolution previews while it moves, a different full render when it
stops) and download the result; check the empty state, the style grid's previews, painting the
mask, the error box, a bad upload, the spinner, /docs with the network blocked, and the live
camera (chromium's fake camera). They save screenshots (to ``$ADAIN_SCREENSHOT_DIR`` as well
when that is set: docs/server-empty.png, server-working.png and server-webcam.png come from
there). Skipped, with the reason, where chromium or Playwright is missing; ``.ci/run`` installs
chromium so CI runs it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
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
#: chromium's own test camera (a moving pattern with a clock), allowed without a prompt
CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

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

#: images on show that are broken or have no source (a broken-image icon)
BROKEN_IMAGES = """() => [...document.images]
  .filter((image) => image.getClientRects().length > 0)
  .filter((image) => !image.getAttribute('src') || (image.complete && image.naturalWidth === 0))
  .map((image) => image.id || image.getAttribute('src') || image.outerHTML.slice(0, 80))"""

READY = "document.body.dataset.ready === 'true'"
# the status is set when the answer arrives, the image is recorded when it has loaded: wait for both
FULL_RENDER = (
    "document.querySelector('#status').textContent.startsWith('Full render') "
    "&& window.shown.some(e => e.kind === 'full')"
)


@pytest.fixture(scope="module")
def default_pipeline(decoder_file: Path) -> StylizationPipeline:
    """The shipped default decoder (a seeded random one if this checkout has none yet)."""
    try:
        return StylizationPipeline.from_preset("vgg16-hed")
    except MissingWeightsError:
        return StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file)


@pytest.fixture(scope="module")
def previews_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One style-preview cache for the module's servers (same decoders: rendered once)."""
    return tmp_path_factory.mktemp("previews")


@pytest.fixture
def page_config(server_config: ServerConfig, previews_dir: Path) -> ServerConfig:
    """The page's server: 160-px renders, 64-px previews while a control moves, room for a photo."""
    return replace(
        server_config,
        default_size=160,
        preview_size=64,
        preview_cache=previews_dir,
        limits=replace(server_config.limits, max_pixels=1_000_000, max_size=256),
    )


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    from skimage import data

    path = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()).save(path)
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'browser-test' extra (playwright)")
    with sync_api.sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    """Debian's chromium, headless, no sandbox, no background networking."""
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def camera_browser(playwright: Any) -> Iterator[Any]:
    """The same, with chromium's fake camera and no permission prompt."""
    args = CHROMIUM_ARGS + CAMERA_ARGS
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    yield launched
    launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """A folder for screenshots, copied to $ADAIN_SCREENSHOT_DIR (when set) after the test."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    if os.environ.get("ADAIN_SCREENSHOT_DIR"):
        shutil.copytree(folder, os.environ["ADAIN_SCREENSHOT_DIR"], dirs_exist_ok=True)


def open_page(browser: Any, url: str, **options: Any) -> tuple[Any, list[str]]:
    """A page at ``url`` once the page has started (styles listed); with the page's uncaught errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 860}, **options)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + "/")
    page.wait_for_function(READY, timeout=60_000)
    page.evaluate(RECORDER)
    return page, errors


class Slow:
    """A pipeline that takes ``delay`` seconds longer per call (a render one can watch), and keeps
    the options of each call (``calls``) and, of the calls for ``POST /v1/stylize`` (whose content
    is an upload's path; style previews render a tensor), the styles and options (``stylized``)."""

    def __init__(self, pipeline: StylizationPipeline, delay: float = 0.0) -> None:
        self.pipeline, self.delay = pipeline, delay
        self.calls: list[Any] = []
        self.stylized: list[tuple[Any, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)

    def __call__(self, content: Any, styles: Any, options: Any = None, **kwargs: Any) -> Any:
        self.calls.append(options)
        if isinstance(content, Path):
            self.stylized.append((styles, options))
        time.sleep(self.delay)
        return self.pipeline(content, styles, options, **kwargs)


def full_renders(page: Any) -> list[dict[str, Any]]:
    return [entry for entry in page.evaluate("window.shown") if entry["kind"] == "full"]


def test_page_upload_slider_preview_download(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    default_pipeline: StylizationPipeline,
    photo: Path,
    tmp_path: Path,
    shots: Path,
) -> None:
    server = live_server(page_config, default_pipeline)
    page, errors = open_page(browser, server.url, accept_downloads=True)
    assert "186 styles" in page.text_content("#style-count")

    # upload a photo: a full render at the default size follows
    page.set_input_files("#content-file", str(photo))
    page.wait_for_function("window.shown.some(e => e.kind === 'full')", timeout=60_000)
    first = full_renders(page)[-1]
    assert min(first["width"], first["height"]) == 160
    page.screenshot(path=str(shots / "page-loaded.png"))

    # drag the alpha slider from 1 to about 0.3: previews while it moves, then a new full render
    page.locator("#alpha").scroll_into_view_if_needed()
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
    page.wait_for_function(FULL_RENDER)
    shown = page.evaluate("window.shown")
    previews = [e for e in shown if e["kind"] == "preview" and e["seq"] > first["seq"]]
    assert previews, f"no preview while the slider moved: {shown}"
    assert all(min(e["width"], e["height"]) == 64 for e in previews)
    assert any(e["checksum"] != previews[0]["checksum"] for e in previews) or len(previews) == 1
    last = full_renders(page)[-1]
    assert (last["width"], last["height"]) == (first["width"], first["height"])
    assert last["checksum"] != first["checksum"], "the full render did not change with alpha"
    page.screenshot(path=str(shots / "page-alpha.png"))

    # download the full render: named <content>-<style>.png
    with page.expect_download() as download_info:
        page.click("#download")
    downloaded = tmp_path / "downloaded.png"
    download_info.value.save_as(downloaded)
    with Image.open(io.BytesIO(downloaded.read_bytes())) as image:
        assert image.format == "PNG" and image.size == (last["width"], last["height"])
    assert download_info.value.suggested_filename == "chelsea-antimonocromatismo.png"
    assert errors == [], errors
    assert page.locator("#error").is_hidden()
    page.close()
    assert (shots / "page-loaded.png").stat().st_size > 10_000 and (shots / "page-alpha.png").stat().st_size > 10_000


def test_empty_state_shows_no_broken_image(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    default_pipeline: StylizationPipeline,
    shots: Path,
) -> None:
    server = live_server(page_config, default_pipeline)
    page, errors = open_page(browser, server.url)
    # the first row of style previews has loaded (rendered on demand)
    page.wait_for_function(
        "[...document.querySelectorAll('#style-list img')].slice(0, 6).every(i => i.complete && i.naturalWidth === 96)",
        timeout=120_000,
    )
    assert page.evaluate(BROKEN_IMAGES) == []
    assert page.locator("#result").is_hidden() and page.locator("#content-preview").is_hidden()
    assert page.locator("#result-placeholder").is_visible() and page.locator("#busy").is_hidden()
    assert page.get_attribute("#download", "aria-disabled") == "true"
    page.screenshot(path=str(shots / "server-empty.png"), full_page=True)
    assert errors == [], errors
    page.close()


def test_style_grid_previews_search_and_upload(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    default_pipeline: StylizationPipeline,
    photo: Path,
) -> None:
    server = live_server(page_config, default_pipeline)
    page, errors = open_page(browser, server.url)
    kinds: dict[str, str] = {}
    page.on(
        "response",
        lambda response: (
            kinds.__setitem__(response.url.split("/v1/styles/")[1].split("/")[0], response.headers["x-adain-preview"])
            if "/preview?" in response.url
            else None
        ),
    )
    # search: the grid keeps the matching tiles, each with its preview
    page.fill("#style-search", "water-lilies")
    page.wait_for_function("document.querySelector('#style-count').textContent.includes(' of 186 styles')")
    tiles = page.locator("#style-list li:not([hidden])")
    count = tiles.count()
    assert 1 <= count < 20 and page.text_content("#style-count") == f"{count} of 186 styles"
    assert all("water-lilies" in tiles.nth(i).get_attribute("data-name") for i in range(count))
    page.wait_for_function(
        "[...document.querySelectorAll('#style-list li:not([hidden]) img')].every(i => i.complete && i.naturalWidth === 96)",
        timeout=120_000,
    )
    assert set(kinds.values()) == {"rendered"}
    # a tile assigns its style to the active slot
    tiles.first.click()
    name = tiles.first.get_attribute("data-name")
    assert page.text_content("#style-a-name") == name and tiles.first.get_attribute("class") == "a"
    page.fill("#style-search", "")
    assert page.locator("#style-list li:not([hidden])").count() == 186

    # an uploaded style gets a thumbnail of its own image
    page.click("details summary")
    page.set_input_files("#style-upload-file", str(photo))
    page.fill("#style-upload-name", "my-cat")
    page.click("#style-upload")
    page.wait_for_selector("#style-list li[data-name='my-cat'] small")
    page.wait_for_function(
        "(() => { const i = document.querySelector(\"#style-list li[data-name='my-cat'] img\"); "
        "return i.complete && i.naturalWidth === 96; })()",
        timeout=60_000,
    )
    assert kinds["my-cat"] == "thumbnail" and page.text_content("#style-a-name") == "my-cat"
    assert errors == [], errors
    page.close()


def test_mask_paints_without_a_switch(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    default_pipeline: StylizationPipeline,
    photo: Path,
    shots: Path,
) -> None:
    recording = Slow(default_pipeline)
    server = live_server(replace(page_config, default_size=300), recording)  # the photo's own size
    page, errors = open_page(browser, server.url)
    page.set_input_files("#content-file", str(photo))
    page.wait_for_function(FULL_RENDER, timeout=60_000)
    before = full_renders(page)[-1]
    # a stroke across the photo, with nothing ticked first
    box = page.locator("#mask-overlay").bounding_box()
    assert box and box["width"] > 100
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.07 * step), box["y"] + box["height"] * (0.3 + 0.05 * step))
    page.mouse.up()
    # with no style B yet, the next style picked goes to B
    assert page.get_attribute("#slot-b", "aria-checked") == "true"
    assert "pick style B" in page.text_content("#status")
    page.fill("#style-search", "water-lilies-1919-2")
    page.click("#style-list li[data-name='water-lilies-1919-2']")
    assert page.text_content("#style-b-name") == "water-lilies-1919-2"
    page.wait_for_function(f"window.shown.some(e => e.kind === 'full' && e.seq > {before['seq']})", timeout=60_000)
    page.wait_for_function(FULL_RENDER)
    masked = [options for options in recording.calls if options is not None and options.mask is not None]
    assert masked, "no render used the painted mask"
    assert full_renders(page)[-1]["checksum"] != before["checksum"]
    assert page.locator("#mix").is_disabled()  # the mask routes the styles, not the mix
    page.fill("#style-search", "")
    page.screenshot(path=str(shots / "server-working.png"), full_page=True)
    assert errors == [] and page.locator("#error").is_hidden(), errors
    page.close()


def test_attention_toggle_needs_an_uploaded_style(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    random_pipeline: StylizationPipeline,
    photo: Path,
    tmp_path: Path,
    shots: Path,
) -> None:
    """The attention toggle is disabled with a bank style (its hint says why), enabled once a style
    image is uploaded, and a render with it on sends method=attention with the image and shows it;
    a bank style kept with its features (``adain bank add --features``) goes by name."""
    import numpy as np

    from adain.styles.bank import BankEntry, StyleBank
    from adain.styles.features import StyleFeatures
    from adain.styles.library import encode_style_image

    style = tmp_path / "painting.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (72, 96, 3), dtype=np.uint8)).save(style)
    featured, _, record = encode_style_image(random_pipeline.encoder, style, "vgg16-hed", 64, features=True)
    bank = StyleBank("vgg16-hed")
    bank.add("featured", featured, BankEntry("featured", images=[record]))
    bank.save(page_config.user_bank)
    recording = Slow(random_pipeline)
    server = live_server(page_config, recording)
    page, errors = open_page(browser, server.url)
    page.set_input_files("#content-file", str(photo))
    page.wait_for_function(FULL_RENDER, timeout=60_000)
    first = full_renders(page)[-1]
    # style A is a bank style: statistics only
    assert page.locator("#attention").is_disabled()
    assert "uploaded style image" in page.get_attribute("#attention", "title")
    assert "bank style" in page.text_content("#attention-hint") and page.locator("#attention-hint").is_visible()
    page.locator(".panel", has_text="Settings").screenshot(path=str(shots / "page-attention-off.png"))
    # upload a style image: it becomes style A, and the toggle is on offer
    page.click("details summary")
    page.set_input_files("#style-upload-file", str(style))
    page.fill("#style-upload-name", "my-painting")
    page.click("#style-upload")
    page.wait_for_function("document.querySelector('#style-a-name').textContent === 'my-painting'", timeout=60_000)
    page.wait_for_function("!document.querySelector('#attention').disabled")
    assert page.locator("#attention-hint").is_hidden()
    page.wait_for_function(f"window.shown.some(e => e.kind === 'full' && e.seq > {first['seq']})", timeout=60_000)
    page.wait_for_function(FULL_RENDER + " && document.querySelector('#busy').hidden", timeout=60_000)
    before = full_renders(page)[-1]
    # on: the next renders send method=attention with the style's image (chromium shows no body with
    # files, so the server's answer tells: it names the download after the image it got, painting.png)
    with page.expect_response(
        lambda r: r.url.endswith("/v1/stylize") and "chelsea-painting." in r.headers.get("content-disposition", "")
    ) as answer:
        page.check("#attention")
    assert answer.value.status == 200
    page.wait_for_function(
        f"window.shown.some(e => e.kind === 'full' && e.seq > {before['seq']}) "
        "&& document.querySelector('#result').dataset.method === 'attention'",
        timeout=60_000,
    )
    page.wait_for_function(FULL_RENDER)
    assert "attention" in page.text_content("#status")
    styles, options = recording.stylized[-1]  # what the server asked the pipeline for
    assert options.method == "attention" and [type(style) for style in styles] == [type(photo)], styles
    assert full_renders(page)[-1]["checksum"] != before["checksum"]
    page.screenshot(path=str(shots / "page-attention.png"), full_page=True)
    # a bank style again: off limits, and the renders are plain AdaIN
    page.fill("#style-search", "water-lilies-1919-2")
    page.click("#style-list li[data-name='water-lilies-1919-2']")
    assert page.locator("#attention").is_disabled() and page.locator("#attention").is_checked()
    page.wait_for_function(FULL_RENDER + " && document.querySelector('#result').dataset.method === 'decoder'")
    assert recording.stylized[-1][1].method == "decoder"
    # a bank style with its features: on offer, sent by name
    shown = len(full_renders(page))
    page.fill("#style-search", "featured")
    page.click("#style-list li[data-name='featured']")
    assert page.locator("#attention").is_enabled()
    page.wait_for_function(
        f"window.shown.filter(e => e.kind === 'full').length > {shown} "
        "&& document.querySelector('#result').dataset.method === 'attention'",
        timeout=60_000,
    )
    styles, options = recording.stylized[-1]
    assert options.method == "attention" and isinstance(styles[0], StyleFeatures), styles
    assert errors == [] and page.locator("#error").is_hidden(), errors
    page.close()


def test_speed_toggle(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    random_pipeline: StylizationPipeline,
    fast_home: Path,
    photo: Path,
    shots: Path,
) -> None:
    """Quality / Fast: disabled with the reason shown where the server does not offer fast; where it
    does (random students: fast_home), choosing Fast with the keyboard renders with speed=fast."""
    off = live_server(replace(page_config, fast=False), random_pipeline)
    page, errors = open_page(browser, off.url)
    assert page.locator("#speed-quality").is_checked() and page.locator("#speed-fast").is_disabled()
    assert "Fast is unavailable: fast is turned off" in page.get_attribute("#speed-fast", "title")
    assert "turned off" in page.text_content("#speed-hint") and page.locator("#speed-hint").is_visible()
    page.locator(".panel", has_text="Settings").screenshot(path=str(shots / "page-fast-off.png"))
    assert errors == [], errors
    page.close()
    server = live_server(page_config, random_pipeline)
    page, errors = open_page(browser, server.url)
    assert page.locator("#speed-fast").is_enabled() and page.locator("#speed-hint").is_hidden()
    page.set_input_files("#content-file", str(photo))
    page.wait_for_function(FULL_RENDER, timeout=60_000)
    first = full_renders(page)[-1]
    assert page.get_attribute("#result", "data-speed") == "quality"
    page.focus("#speed-quality")
    page.keyboard.press("ArrowRight")  # a radio group: the arrow keys choose
    assert page.locator("#speed-fast").is_checked()
    page.wait_for_function(
        f"window.shown.some(e => e.kind === 'full' && e.seq > {first['seq']}) "
        "&& document.querySelector('#result').dataset.speed === 'fast'",
        timeout=60_000,
    )
    page.wait_for_function(FULL_RENDER)
    assert ", fast" in page.text_content("#status")
    last = full_renders(page)[-1]
    assert (last["width"], last["height"]) == (first["width"], first["height"])
    assert last["checksum"] != first["checksum"], "fast rendered quality's image"
    assert server.app.state.adain.speeds._fast is not None
    assert errors == [] and page.locator("#error").is_hidden(), errors
    page.close()


def test_error_box_clears_on_the_next_upload(
    browser: Any, live_server: Callable[..., Any], page_config: ServerConfig, photo: Path
) -> None:
    server = live_server(page_config)
    page, _ = open_page(browser, server.url)
    page.click("details summary")
    page.set_input_files("#style-upload-file", str(photo))
    page.fill("#style-upload-name", "!bad name")
    page.click("#style-upload")
    page.wait_for_selector("#error:not([hidden])")
    assert "style name" in page.text_content("#error")
    page.set_input_files("#content-file", str(photo))
    page.wait_for_selector("#error", state="hidden", timeout=2_000)  # at once, not after the render
    page.wait_for_function(FULL_RENDER, timeout=60_000)
    assert page.locator("#error").is_hidden()
    page.close()


def test_bad_upload_keeps_the_photo_and_its_result(
    browser: Any, live_server: Callable[..., Any], page_config: ServerConfig, photo: Path
) -> None:
    server = live_server(page_config)
    page, errors = open_page(browser, server.url)
    page.set_input_files("#content-file", str(photo))
    page.wait_for_function(FULL_RENDER, timeout=60_000)
    preview_src = page.get_attribute("#content-preview", "src")
    result_seq = page.get_attribute("#result", "data-seq")
    for bad, words in (
        ({"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG not really"}, "not an image this browser"),
        ({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}, "not an image file"),
    ):
        page.set_input_files("#content-file", files=[bad])
        page.wait_for_selector("#error:not([hidden])")
        assert words in page.text_content("#error") and bad["name"] in page.text_content("#error")
        assert page.get_attribute("#content-preview", "src") == preview_src
        assert page.evaluate("document.querySelector('#content-preview').naturalWidth") == 451
        assert page.get_attribute("#result", "data-seq") == result_seq and page.locator("#result").is_visible()
        assert page.get_attribute("#download", "aria-disabled") == "false"
        assert page.evaluate(BROKEN_IMAGES) == []
    assert page.text_content("#content-info") == "451×300"
    assert errors == [], errors
    page.close()


def test_spinner_and_progress_while_rendering(
    browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    random_pipeline: StylizationPipeline,
    photo: Path,
) -> None:
    server = live_server(page_config, Slow(random_pipeline, 1.2))
    page, _ = open_page(browser, server.url)
    page.set_input_files("#content-file", str(photo))
    page.wait_for_selector("#busy:not([hidden])", timeout=5_000)
    assert page.get_attribute("#result-stage", "aria-busy") == "true"
    assert page.locator("#result-placeholder").is_hidden()
    page.wait_for_function("/Rendering \\d+ px… \\d+\\.\\d s/.test(document.querySelector('#busy-text').textContent)")
    page.wait_for_function(FULL_RENDER, timeout=60_000)
    assert page.locator("#busy").is_hidden() and page.get_attribute("#result-stage", "aria-busy") == "false"
    # the next full render has an estimate from this one: a progress bar, not an indeterminate one
    page.evaluate(
        "(() => { const s = document.querySelector('#size'); s.value = '128'; "
        "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); })()"
    )
    page.wait_for_function(
        "!document.querySelector('#busy').hidden && document.querySelector('#busy-text').textContent.includes('128 px')",
        timeout=10_000,
    )
    assert not page.evaluate("document.querySelector('#busy').classList.contains('indeterminate')")
    page.wait_for_function("parseFloat(document.querySelector('#busy-bar').style.width) > 0", timeout=10_000)
    page.wait_for_function(FULL_RENDER + " && document.querySelector('#busy').hidden", timeout=60_000)
    page.close()


def test_docs_render_offline(browser: Any, live_server: Callable[..., Any], page_config: ServerConfig) -> None:
    """/docs and /redoc with every request to anywhere but this server refused."""
    server = live_server(page_config)
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    page = context.new_page()
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=60_000)
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert any("/v1/stylize" in path for path in paths) and any("/v1/live" in path for path in paths)
    assert page.locator(".swagger-ui .info .title").text_content().startswith("adain")
    assert elsewhere == [], elsewhere
    page.goto(server.url + "/redoc")
    page.wait_for_selector("text=stylize an image", timeout=60_000)
    # ReDoc's one outside request: the "API docs by Redocly" logo, which it removes when it fails
    assert set(elsewhere) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, elsewhere
    page.wait_for_timeout(200)
    assert page.locator("img[alt='redocly logo']").count() == 0
    context.close()


def test_live_camera(
    camera_browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    default_pipeline: StylizationPipeline,
    shots: Path,
) -> None:
    """Chromium's fake camera: frames reach the server, come back stylized, and the rate is shown."""
    server = live_server(page_config, default_pipeline)
    state = server.app.state.adain
    page, errors = open_page(camera_browser, server.url)
    page.click("#camera")
    page.wait_for_function("window.adainLive.received >= 5", timeout=120_000)
    assert page.get_attribute("#camera", "aria-pressed") == "true" and page.locator("#camera-video").is_visible()
    # the frames shown are stylized: compared with the very frame each was made from
    difference = page.evaluate(
        """() => {
      const input = window.adainLive.shownInput, result = document.querySelector('#result');
      const canvas = document.createElement('canvas');
      canvas.width = input.width; canvas.height = input.height;
      const context = canvas.getContext('2d');
      context.drawImage(result, 0, 0, canvas.width, canvas.height);
      const a = context.getImageData(0, 0, canvas.width, canvas.height).data;
      const b = input.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let sum = 0;
      for (let i = 0; i < a.length; i += 4) sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      return {mean: sum / (3 * a.length / 4), width: result.naturalWidth, height: result.naturalHeight, kind: result.dataset.kind};
    }"""
    )
    assert difference["kind"] == "live" and difference["mean"] > 15, difference
    assert min(difference["width"], difference["height"]) == 192  # the default live size
    # the rate is shown
    page.wait_for_function("Number(document.querySelector('#live-fps').dataset.fps) > 0", timeout=30_000)
    assert re.fullmatch(r"\d+\.\d frames/s", page.text_content("#live-fps")), page.text_content("#live-fps")
    assert re.match(r"Live: \d+\.\d frames/s at 192 px", page.text_content("#status"))
    (session,) = state.live._sessions.values()
    live = page.evaluate("window.adainLive")
    assert session.frames >= live["received"] >= 5 and live["sent"] - live["received"] <= 1  # one in flight
    page.screenshot(path=str(shots / "server-webcam.png"), full_page=True)
    # stop: the camera is released and the session closed
    page.click("#camera")
    page.wait_for_function("document.querySelector('#camera').getAttribute('aria-pressed') === 'false'")
    assert page.evaluate("document.querySelector('#camera-video').srcObject") is None
    deadline = time.monotonic() + 10
    while len(state.live) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(state.live) == 0
    assert errors == [] and page.locator("#error").is_hidden(), errors
    page.close()


#: counts the page's frame requests in flight (the page keeps one at a time)
FRAME_COUNTER = """() => {
  const original = window.fetch;
  window.framesInFlight = 0;
  window.maxFramesInFlight = 0;
  window.fetch = async (...args) => {
    const frame = String(args[0]).endsWith('/frames');
    if (frame) window.maxFramesInFlight = Math.max(window.maxFramesInFlight, ++window.framesInFlight);
    try { return await original(...args); } finally { if (frame) window.framesInFlight -= 1; }
  };
}"""


def test_live_camera_restart_keeps_one_frame_in_flight(
    camera_browser: Any,
    live_server: Callable[..., Any],
    page_config: ServerConfig,
    default_pipeline: StylizationPipeline,
) -> None:
    """Stop and start again while a frame is on its way: the old run's answer is dropped and its
    send loop ends, so the new run still has one frame in flight (two loops ran side by side)."""
    server = live_server(page_config, default_pipeline)
    page, errors = open_page(camera_browser, server.url)
    page.evaluate(FRAME_COUNTER)
    page.click("#camera")
    page.wait_for_function("window.adainLive.received >= 2", timeout=120_000)
    page.wait_for_function("window.framesInFlight === 1", timeout=30_000)  # a frame on its way
    page.click("#camera")
    page.click("#camera")  # at once: the frame sent before the stop is still in flight
    page.wait_for_function("window.adainLive.running && window.adainLive.received >= 3", timeout=120_000)
    assert page.evaluate("window.maxFramesInFlight") == 1
    assert page.evaluate("window.adainLive.sent - window.adainLive.received") <= 1
    page.click("#camera")
    assert page.get_attribute("#live-fps", "data-fps") == "0"  # no stale rate after a stop
    assert errors == [], errors
    page.close()


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
