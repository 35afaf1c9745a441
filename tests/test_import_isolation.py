"""Imports flow one way: reading a picture through the public API loads the runtime only.

The applications (livedigits.app), training, synthetic data and evaluation use the runtime; the
runtime imports none of them, and never TensorFlow or Keras. Checked in a fresh interpreter, so that
what other tests imported does not count.
"""
import json
import subprocess
import sys

from conftest import ROOT

WINGS = ("livedigits.app", "livedigits.training", "livedigits.synthetic", "livedigits.evaluation")

READ_A_DRAWN_SEVEN = """
import json, sys
import cv2, numpy as np
import livedigits

seven = np.full((120, 120), 255, np.uint8)
cv2.line(seven, (30, 25), (90, 25), 0, 9)
cv2.line(seven, (90, 25), (50, 100), 0, 9)
digit, _ = livedigits.read_digit(seven)
reading = livedigits.recognize(cv2.cvtColor(seven, cv2.COLOR_GRAY2BGR))
livedigits.draw(seven, reading)
print(json.dumps({"digit": digit, "text": reading.text, "modules": sorted(sys.modules)}))
"""


def test_reading_a_picture_loads_only_the_runtime():
    done = subprocess.run([sys.executable, "-c", READ_A_DRAWN_SEVEN], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["digit"], result["text"]) == (7, "7")  # the picture was really read
    modules = result["modules"]
    wings = [m for m in modules if any(m == w or m.startswith(w + ".") for w in WINGS)]
    frameworks = [m for m in modules if m.split(".")[0] in ("tensorflow", "keras")]
    assert wings == [], wings
    assert frameworks == [], frameworks
    assert "livedigits.pipeline" in modules and "livedigits.segment" in modules
