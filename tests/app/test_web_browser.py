"""The web page end to end in a real headless Chromium (Debian's chromium and chromium-driver):
draw a digit stroke by stroke with pointer events, upload a generated picture, check what the page shows.

Skipped only on a developer machine without Chromium; in CI (CI set) a missing browser is a failure.
Screenshots of the answered page go to test-artifacts/ (web.png, web-phone.png).
"""
import os
import shutil
import tempfile
import threading
from pathlib import Path

import cv2
import pytest

from conftest import ROOT
from livedigits import Recognizer
from livedigits.app.web import create_app
from livedigits.synthetic.scenes import make_scene

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts"
UPLOAD_SEED = 0  # one line of digits on plain paper that the pipeline reads exactly (see test_web.py)
WAIT_S = 30


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    MISSING = None
except ImportError:
    MISSING = "selenium not installed (pip install -r requirements-dev.txt)"
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    MISSING = "Chromium not installed (apt-get install chromium chromium-driver)"
if MISSING and not os.environ.get("CI"):
    pytest.skip(MISSING, allow_module_level=True)
# In CI a missing browser fails every test here (in the browser fixture) instead of skipping them.


# A "7" on the 400 x 400 pad, in pad pixels: the top bar, then the diagonal (two strokes).
SEVEN = [[(130, 100), (270, 100)], [(270, 100), (240, 180), (215, 250), (190, 320)]]
STRAY = [(60, 350), (120, 370)]  # drawn with a finger, then undone


@pytest.fixture(scope="module")
def server():
    """The app on a free loopback port, served from a background thread."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, create_app(Recognizer()), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if MISSING:
        pytest.fail(f"{MISSING}; CI must run the browser tests (.ci/run installs chromium and chromium-driver)")
    profile = tempfile.mkdtemp(prefix="livedigits-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-proxy-server", "--window-size=1280,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to check the console for errors
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, url):
    driver.get(url)
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return driver.find_element(By.ID, "pad")


def draw_stroke(driver, pad, points, kind="mouse"):
    """One stroke through real pointer input (pointerdown, pointermove..., pointerup) of the given kind
    ("mouse", "pen" or "touch").
    Points are in pixels of a 400-pixel pad, scaled to the pad's size on screen."""
    size = pad.size["width"]
    scale = size / 400.0
    # offsets are from the element's centre; several small moves per segment, as a hand would make
    path = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        steps = max(2, int(max(abs(x1 - x0), abs(y1 - y0)) / 10))
        path += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(steps)]
    path.append(points[-1])
    actions = ActionBuilder(driver, mouse=PointerInput(kind, kind), duration=10)  # ms per move
    pointer = actions.pointer_action
    x, y = path[0]
    pointer.move_to(pad, int((x - 200) * scale), int((y - 200) * scale))
    pointer.pointer_down()
    for x, y in path[1:]:
        pointer.move_to(pad, int((x - 200) * scale), int((y - 200) * scale))
    pointer.pointer_up()
    actions.perform()


def answers(driver) -> int:
    return int(driver.find_element(By.ID, "result").get_attribute("data-answers"))


def wait_for_answer(driver, before: int) -> None:
    """Until the page shows an answer newer than ``before``; on an error, fail with the page's message."""
    def done(d):
        state = d.find_element(By.ID, "result").get_attribute("data-state")
        if state == "error":
            raise AssertionError(f"the page shows an error: {d.find_element(By.ID, 'status').text}")
        return answers(d) > before and state == "done"
    WebDriverWait(driver, WAIT_S).until(done)


def shown_text(driver) -> str:
    return driver.find_element(By.ID, "text").text.strip()


def click(driver, element_id):
    driver.find_element(By.ID, element_id).click()


def ink_pixels(driver, region=(0, 0, 400, 400)) -> int:
    """Dark pixels on the pad, read back from the canvas; ``region`` (x0, y0, x1, y1) in 400-pixel pad units."""
    return driver.execute_script("""
        const pad = document.getElementById('pad');
        const k = pad.width / 400, [x0, y0, x1, y1] = arguments[0].map((v) => Math.round(v * k));
        const data = pad.getContext('2d').getImageData(x0, y0, x1 - x0, y1 - y0).data;
        let dark = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 128) dark++;
        return dark;""", list(region))


def test_drawn_digit_is_read(server, browser):
    pad = open_page(browser, server)
    assert ink_pixels(browser) == 0

    # an empty canvas is refused on the page itself: no request, a message
    click(browser, "read")
    assert browser.find_element(By.ID, "result").get_attribute("data-state") == "error"
    assert "empty" in browser.find_element(By.ID, "status").text.lower()
    assert answers(browser) == 0

    for stroke in SEVEN:
        draw_stroke(browser, pad, stroke)
    seven_ink = ink_pixels(browser)
    assert seven_ink > 1000
    draw_stroke(browser, pad, STRAY, kind="touch")  # a finger draws too
    stray_area = (40, 330, 140, 390)
    assert ink_pixels(browser, stray_area) > 500
    click(browser, "undo")  # ...and undo takes that stroke away again
    assert ink_pixels(browser, stray_area) == 0
    # the 7 is redrawn whole (a redraw antialiases a little differently from the stroke drawn live)
    assert abs(ink_pixels(browser) - seven_ink) < 0.03 * seven_ink

    before = answers(browser)
    click(browser, "read")
    wait_for_answer(browser, before)
    assert shown_text(browser) == "7"
    cards = browser.find_elements(By.CSS_SELECTOR, "#digits li")
    assert len(cards) == 1
    assert cards[0].find_element(By.CSS_SELECTOR, ".value").text == "7"
    rows = cards[0].find_elements(By.CSS_SELECTOR, ".row")
    assert len(rows) == 3  # the top-3 bars
    assert rows[0].find_element(By.CSS_SELECTOR, ".label").text == "7"
    assert browser.find_element(By.ID, "annotated").get_attribute("src").startswith("data:image/png;base64,")

    click(browser, "clear")
    assert ink_pixels(browser) == 0

    # everything the page loaded came from the app, and nothing went wrong in its scripts
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map((r) => r.name)")
    assert loaded and all(url.startswith(server) for url in loaded), loaded
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def test_uploaded_picture_is_read_and_screenshots_are_saved(server, browser, mnist, tmp_path):
    scene = make_scene(mnist.x_test, mnist.y_test, seed=UPLOAD_SEED, paper="plain", lines=1, digits_per_line=(4, 6))
    picture = tmp_path / "digits.png"
    assert cv2.imwrite(str(picture), scene.image)

    pad = open_page(browser, server)
    for stroke in SEVEN:  # a drawing on the pad, for the screenshot
        draw_stroke(browser, pad, stroke, kind="pen")
    before = answers(browser)
    browser.find_element(By.ID, "file").send_keys(str(picture))  # choosing a file sends it
    wait_for_answer(browser, before)
    assert shown_text(browser) == scene.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#digits li")) == len(scene.text)

    ARTIFACTS.mkdir(exist_ok=True)
    save_full_page(browser, ARTIFACTS / "web.png")


def test_phone_sized_screen(server, browser, mnist, tmp_path):
    """A 390 x 844 phone at 3 device pixels per CSS pixel: one column, nothing wider than the screen, a sharp
    pad (its backing store in device pixels) drawn on with a finger."""
    scene = make_scene(mnist.x_test, mnist.y_test, seed=UPLOAD_SEED, paper="plain", lines=1, digits_per_line=(4, 6))
    picture = tmp_path / "digits.png"
    assert cv2.imwrite(str(picture), scene.image)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True})
    try:
        pad = open_page(browser, server)
        assert browser.execute_script("return window.innerWidth") == 390
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the phone's screen"
        css_width, pixels = browser.execute_script("const p = document.getElementById('pad'); "
                                                   "return [p.clientWidth, p.width]")
        assert pixels == round(css_width * 3)

        for stroke in SEVEN:
            draw_stroke(browser, pad, stroke, kind="touch")
        before = answers(browser)
        click(browser, "read")
        wait_for_answer(browser, before)
        assert shown_text(browser) == "7"

        before = answers(browser)
        browser.find_element(By.ID, "file").send_keys(str(picture))
        wait_for_answer(browser, before)
        assert shown_text(browser) == scene.text
        ARTIFACTS.mkdir(exist_ok=True)
        save_full_page(browser, ARTIFACTS / "web-phone.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def save_full_page(driver, path: Path) -> None:
    """A screenshot of the whole page, beyond the window's height (Chrome DevTools protocol)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
