"""The web page in a real headless Chromium (Debian's package, driven by Playwright; no browser download).

The tests type claims and read verdicts from a real seeded server, watch the page retry a real 429, load it
while the server sheds load and after the server has gone, and save screenshots to
``reports/screenshots/`` (``scripts/test.sh`` installs Chromium on a fresh machine).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, RunningServer, clear_of_rate_window_edge, start_server

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"
# The flags this machine's Chromium needs: no sandbox as root, and no background connections to Google's
# hosts (the network is closed; each refused connection slows the start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Chromium is not installed; scripts/test.sh installs Debian's chromium package as root",
    ),
]

SEED_CLAIM = "The Great Wall of China is visible from space with the naked eye."


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000})  # type: ignore[attr-defined]
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("page-server")
    running = start_server(base / "data", base / "server.log", SEED_ON_EMPTY="true")
    yield running
    running.stop()


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def check(page: object, text: str) -> None:
    page.get_by_label("Claim", exact=True).fill(text)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Check").click()  # type: ignore[attr-defined]


def test_typing_a_claim_shows_the_verdict_its_memory_match_and_the_memory_panel(
    page: object, seeded: RunningServer
) -> None:
    page.goto(seeded.url + "/")  # type: ignore[attr-defined]
    check(page, "did u know the Great Wall of China is visible from space with the naked eye!!!")
    result = page.locator("#results article").first  # type: ignore[attr-defined]
    result.locator(".verdict-word").wait_for()
    assert result.locator(".verdict-word").inner_text() == "False"
    assert "confidence" in result.locator(".confidence").inner_text()
    assert "From memory" in result.locator(".meta").inner_text()
    assert SEED_CLAIM in result.locator("table").inner_text()  # the memory match it came from
    source = result.locator("table a").first  # its source, as a link that opens elsewhere
    assert source.get_attribute("href").startswith("https://") and source.get_attribute("rel")
    page.wait_for_function("document.querySelectorAll('#memory-chart polyline').length >= 3")  # type: ignore[attr-defined]
    numbers = page.locator("#memory-numbers").inner_text()  # type: ignore[attr-defined]
    assert "RSS" in numbers and "anonymous" in numbers and "limit 512 MB" in numbers
    assert "healthy" in page.locator("#server-state").inner_text()  # type: ignore[attr-defined]
    page.locator("#top-claims li .tag").first.wait_for()  # type: ignore[attr-defined]
    page.wait_for_timeout(2500)  # a second /health sample, so the chart has lines  # type: ignore[attr-defined]
    screenshot(page, "page-verdict.png")


def test_several_claims_at_once_and_the_keyboard(page: object, seeded: RunningServer) -> None:
    page.goto(seeded.url + "/")  # type: ignore[attr-defined]
    page.keyboard.press("Tab")  # type: ignore[attr-defined]  # the skip link comes first
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.keyboard.type("Vaccines given to children cause autism.\nThe Eiffel Tower is in Paris.")  # type: ignore[attr-defined]
    page.keyboard.press("Control+Enter")  # type: ignore[attr-defined]
    page.locator("#status.ok").wait_for()  # type: ignore[attr-defined]
    cards = page.locator("#results article")  # type: ignore[attr-defined]
    assert cards.count() == 2, "the server split the text into its two claims"
    assert cards.nth(0).locator(".verdict-word").inner_text() == "False"
    summary = page.locator("#results .summary").inner_text()  # type: ignore[attr-defined]
    assert summary.startswith("This text makes 2 claims: overall ")
    screenshot(page, "page-several-claims.png")
    assert page.locator("#status").inner_text() == "Done."  # type: ignore[attr-defined]


def test_on_phone_width_nothing_overflows(browser: object, seeded: RunningServer) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)  # type: ignore[attr-defined]
    try:
        phone = context.new_page()
        phone.goto(seeded.url + "/")
        check(phone, "Einstein failed math in school.")
        phone.locator("#results .verdict-word").wait_for()
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the phone"
        phone.wait_for_function("document.querySelectorAll('#memory-chart polyline').length >= 3")
        phone.wait_for_timeout(2500)  # a second /health sample draws the lines
        screenshot(phone, "page-phone.png")
    finally:
        context.close()


def test_a_rate_limited_check_says_so_and_retries_by_itself(page: object, tmp_path: Path) -> None:
    # A window wide enough that the second check lands inside it on a slow, shared machine (a cold first
    # check once took more than 3 s in CI), short enough that the page's retry comes within the wait.
    window_s = 12
    server = start_server(
        tmp_path / "data",
        tmp_path / "server.log",
        wait_for="warm",
        RATE_LIMIT_PER_ADDRESS=f"1/{window_s}seconds",
    )
    try:
        page.goto(server.url + "/")  # type: ignore[attr-defined]
        clear_of_rate_window_edge(window_s, needed_s=8)  # two checks either side of an edge both pass
        check(page, "Honey never spoils.")
        page.locator("#status.ok").wait_for()  # type: ignore[attr-defined]
        check(page, "Honey never spoils when sealed.")  # within 12 s of the first: over the limit
        page.locator("#status.warn").wait_for()  # type: ignore[attr-defined]
        assert "Rate limited — retrying in" in page.locator("#status").inner_text()  # type: ignore[attr-defined]
        page.locator("#status.ok").wait_for()  # type: ignore[attr-defined]
        assert page.locator("#results article .verdict-word").count() == 1  # type: ignore[attr-defined]
    finally:
        server.stop()


def test_while_the_server_sheds_load_the_page_says_busy_and_retries(page: object, tmp_path: Path) -> None:
    # 64 MB: below what a loaded model needs, so every /verify is shed with 503 + Retry-After.
    server = start_server(
        tmp_path / "data", tmp_path / "server.log", wait_for="warm", MEMORY_LIMIT_MB="64", RETRY_AFTER_S="5"
    )
    try:
        page.goto(server.url + "/")  # type: ignore[attr-defined]
        page.locator("#server-state.warn").wait_for()  # type: ignore[attr-defined]
        assert "shedding load" in page.locator("#server-state").inner_text()  # type: ignore[attr-defined]
        check(page, "Penguins can fly over the Andes in winter.")
        page.locator("#status.warn").wait_for()  # type: ignore[attr-defined]
        status = page.locator("#status").inner_text()  # type: ignore[attr-defined]
        assert status.startswith("Server busy: ") and "memory" in status and "retrying in" in status
        assert page.locator("#cancel").is_visible()  # type: ignore[attr-defined]
        page.wait_for_timeout(1500)  # type: ignore[attr-defined]
        screenshot(page, "page-shedding.png")
        page.locator("#cancel").click()  # type: ignore[attr-defined]
        page.locator("#status.error").wait_for()  # type: ignore[attr-defined]
        assert "stopped retrying" in page.locator("#results").inner_text()  # type: ignore[attr-defined]
    finally:
        server.stop()


def test_with_the_server_down_the_page_says_it_cannot_reach_it(page: object, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", tmp_path / "server.log")
    page.goto(server.url + "/")  # type: ignore[attr-defined]
    page.locator("#server-state.ok").wait_for()  # type: ignore[attr-defined]
    server.stop()
    check(page, "The Moon is made of cheese.")
    page.locator("#results .error").wait_for()  # type: ignore[attr-defined]
    assert "cannot reach the server" in page.locator("#results .error").inner_text()  # type: ignore[attr-defined]
    page.locator("#server-state.error").wait_for(timeout=15_000)  # type: ignore[attr-defined]
    assert "unreachable" in page.locator("#server-state").inner_text()  # type: ignore[attr-defined]
    screenshot(page, "page-down.png")


# Every visible text node's colour against the first opaque background behind it (WCAG 2 contrast ratio).
CONTRAST_FAILURES_JS = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) failures.push(node.textContent.trim().slice(0, 40) + " " + ratio.toFixed(2));
  }
  return failures;
}"""

UNLABELLED_CONTROLS_JS = """() => [...document.querySelectorAll("input, textarea, select, button")]
  .filter((el) => !(el.labels && el.labels.length) && !el.textContent.trim())
  .filter((el) => !el.getAttribute("aria-label"))
  .map((el) => el.id || el.outerHTML.slice(0, 60))"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_and_labels_meet_wcag_aa(browser: object, seeded: RunningServer, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme)  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        page.goto(seeded.url + "/")
        page.locator("#key-box summary").click()  # the key field is checked too
        check(page, "Vaccines cause autism.\nEinstein failed math in school.")
        page.locator("#status.ok").wait_for()
        page.locator("#top-claims .tag").first.wait_for()
        assert page.evaluate(CONTRAST_FAILURES_JS) == []
        assert page.evaluate(UNLABELLED_CONTROLS_JS) == []
        assert page.evaluate("document.documentElement.lang") == "en"
        # The check can fail: text in the page's own background colour.
        page.evaluate(
            "document.querySelector('.tagline').style.color = getComputedStyle(document.body).backgroundColor"
        )
        assert any(f.startswith("Checks claims against") for f in page.evaluate(CONTRAST_FAILURES_JS))
    finally:
        context.close()
