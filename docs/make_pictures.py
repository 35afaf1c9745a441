#!/usr/bin/env python3
"""Rebuild the README's pictures from the current model and overlay.

    python docs/make_pictures.py --mnist path/to/mnist     # or LIVEDIGITS_MNIST=path/to/mnist
    python docs/make_pictures.py --only overlay            # the annotated sample only (needs no MNIST)

- docs/overlay.jpg: samples/squared_sideways.jpg read by the shipped model and drawn by livedigits.draw,
  as `livedigits samples/squared_sideways.jpg --save DIR` writes it.
- docs/web.png: the web page (`livedigits serve`) in headless Chromium (Debian's chromium and
  chromium-driver, and selenium), with a 7 drawn on the pad and a generated picture of MNIST test
  digits uploaded: the answer, the digit cards and the footer with the model card's accuracy.
"""
from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from livedigits import Recognizer, draw  # noqa: E402
from livedigits.sources import load_picture  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402

SAMPLE = ROOT / "samples" / "squared_sideways.jpg"
UPLOAD = dict(seed=0, paper="plain", lines=1, digits_per_line=(4, 6))  # the browser test's upload
SEVEN = [[(130, 100), (270, 100)], [(270, 100), (240, 180), (215, 250), (190, 320)]]  # pad pixels of 400
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT_S = 60


def overlay_picture(recognizer: Recognizer, out: Path) -> str:
    image = load_picture(SAMPLE)  # turned upright from its EXIF orientation
    reading = recognizer.recognize(image)
    cv2.imwrite(str(out), draw(image, reading), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return reading.text.replace("\n", " / ")


def web_picture(recognizer: Recognizer, mnist, out: Path) -> str:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from werkzeug.serving import make_server

    from livedigits.app.web import create_app
    from livedigits.synthetic.scenes import make_scene

    scene = make_scene(mnist.x_test, mnist.y_test, **UPLOAD)
    work = Path(tempfile.mkdtemp(prefix="livedigits-pictures-"))
    picture = work / "digits.png"
    cv2.imwrite(str(picture), scene.image)
    httpd = make_server("127.0.0.1", 0, create_app(recognizer), threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--hide-scrollbars", "--window-size=1280,1000", f"--user-data-dir={work / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        browser.get(f"http://127.0.0.1:{httpd.server_port}/")
        wait = WebDriverWait(browser, WAIT_S)
        wait.until(lambda b: b.execute_script("return document.readyState") == "complete")
        # the 7, stroke by stroke, as pen pointer events on the pad
        browser.execute_script("""
            const pad = document.getElementById('pad'), box = pad.getBoundingClientRect();
            const at = ([x, y]) => ({clientX: box.left + x * box.width / 400, clientY: box.top + y * box.height / 400});
            for (const stroke of arguments[0]) {
              const send = (type, point) => pad.dispatchEvent(new PointerEvent(type, {
                pointerId: 7, pointerType: 'pen', button: 0, buttons: 1, bubbles: true, ...at(point)}));
              send('pointerdown', stroke[0]);
              for (let i = 1; i < stroke.length; i++)
                for (let k = 1; k <= 8; k++)
                  send('pointermove', stroke[i - 1].map((v, j) => v + (stroke[i][j] - v) * k / 8));
              send('pointerup', stroke[stroke.length - 1]);
            }""", SEVEN)
        browser.find_element(By.ID, "file").send_keys(str(picture))  # choosing a file sends it
        wait.until(lambda b: b.find_element(By.ID, "result").get_attribute("data-state") == "done")
        text = browser.find_element(By.ID, "text").text.strip()
        footer = browser.find_element(By.TAG_NAME, "footer").text.strip()
        # a viewport as tall as the page, so that one screenshot holds all of it, footer included
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 1280, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
        out.write_bytes(base64.b64decode(browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]))
    finally:
        browser.quit()
        httpd.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    if text != scene.text:
        raise SystemExit(f"the page read {text!r}, the picture holds {scene.text!r}: not a picture for the README")
    return f"{text}; footer: {footer}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_mnist_option(parser)
    parser.add_argument("--only", choices=("overlay", "web"), help="make one of the two pictures")
    args = parser.parse_args(argv)
    recognizer = Recognizer()
    if args.only in (None, "overlay"):
        print("docs/overlay.jpg:", overlay_picture(recognizer, HERE / "overlay.jpg"))
    if args.only in (None, "web"):
        print("docs/web.png:", web_picture(recognizer, load_mnist_for(parser, args.mnist), HERE / "web.png"))


if __name__ == "__main__":
    main()
