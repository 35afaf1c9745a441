"""The web app: draw digits on a canvas or upload a picture in a browser, or POST pictures to a JSON API.

    livedigits serve [--host 127.0.0.1] [--port 5000]     (or: python -m livedigits.app.web)

    GET  /                 the page (canvas, upload, answer); everything it loads comes from this app
    POST /api/recognize    a picture as a multipart file field ``image``, or JSON {"image": "data:image/png;base64,..."}
                           -> {"text", "digits": [{x, y, w, h, digit, confidence, line,
                               top3: [{digit, probability}, ...]}], "image": annotated PNG data URL, "width", "height"}
    POST /api/digit        a picture of ONE digit (a box, a cell, a drawing), sent the same ways
                           -> {"digit": 0-9 or null when it holds no digit, "confidence",
                               "not_a_digit": probability, "probabilities": [ten digits]}
    GET  /api/health       {"status": "ok", "model": name, "test_accuracy": ..., ...}

It reads with the same Recognizer as the command (no recognition of its own). Bad input is answered with
HTTP 400 or 413 and {"error": "..."}; what a user sends is decoded in memory and never written to disk.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import io
import json
import os
import re
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
from flask import Flask, Request, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..classify import NOT_A_DIGIT, NUM_DIGITS, ModelError
from ..overlay import draw
from ..pipeline import DEFAULT_MIN_CONFIDENCE, Reading, Recognizer, digit_from_probabilities
from ..sources import is_truncated
from .cli import _probability, number_in  # the same checks as the command line

PROG = "livedigits serve"
MODEL_ENV = "LIVEDIGITS_MODEL"  # the same default for --model as the other commands
MAX_PICTURE_BYTES = 10 * 1024 * 1024  # the "10 MB" users are told about: the picture file itself
# The request body may be larger than the picture: a data URL is base64 (4/3 of the bytes) in JSON.
MAX_REQUEST_BYTES = MAX_PICTURE_BYTES * 4 // 3 + 64 * 1024
MAX_PIXELS = 50_000_000  # a small file can declare a huge picture (a "decompression bomb"); 50 MP is plenty
BLANK_STD = 2.0          # grey-level spread below which a picture has no ink at all (an empty canvas)
ANSWER_MAX_SIDE = 1600   # the annotated picture sent back is scaled down to this; boxes stay in input pixels
DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w-]+=[^;,]*)*;base64,", re.IGNORECASE)


class BadPicture(Exception):
    """Input the API refuses; ``status`` is 400 (unusable) or 413 (too large)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class InMemoryRequest(Request):
    """Werkzeug spools uploads over 500 KB to a temporary file; keep every upload in memory instead
    (the size is capped by MAX_CONTENT_LENGTH, and nothing a user sends may touch the disk)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


# -- the app ---------------------------------------------------------------------------------------

def create_app(recognizer: Recognizer | None = None) -> Flask:
    """The Flask app around one Recognizer (the shipped model when None), loaded here, once."""
    recognizer = recognizer if recognizer is not None else Recognizer()
    # LiteRT interpreters are not thread-safe: the server stays threaded (pages and health answer while
    # a picture is read) but one picture is read at a time.
    lock = threading.Lock()
    model = model_info(recognizer)

    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES  # a data URL may also come as a plain form field
    app.json.sort_keys = False  # keep text before digits, as in the JSONL records

    @app.get("/")
    def index():
        return render_template("index.html", max_bytes=MAX_PICTURE_BYTES, model=model)

    @app.get("/api/health")
    def health():
        return jsonify(status="ok", **model)

    @app.post("/api/recognize")
    def recognize():
        try:
            image = decode_picture(picture_bytes(request))
        except BadPicture as err:
            return jsonify(error=str(err)), err.status
        with lock:
            reading = recognizer.recognize(image)
        return jsonify(answer(image, reading))

    @app.post("/api/digit")
    def digit():
        try:
            image = decode_picture(picture_bytes(request), allow_blank=True)
        except BadPicture as err:
            return jsonify(error=str(err)), err.status
        with lock:
            probabilities = recognizer.digit_probabilities(image)
        return jsonify(digit_answer(probabilities))

    @app.after_request
    def security_headers(response):
        # The page may load nothing from elsewhere (users may be offline; nothing leaks to third parties).
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                    "base-uri 'none'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if not request.path.startswith("/api/"):
            return err
        if err.code == 413:
            message = f"the request is too large: pictures may be at most {MAX_PICTURE_BYTES // (1024 * 1024)} MB"
        else:
            message = err.description or err.name
        response = err.get_response()  # keeps headers such as Allow for 405
        response.data = json.dumps({"error": message})
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(err: Exception):
        # A bug, not the user's fault: log it with its traceback, answer JSON without details.
        app.logger.exception("error while answering %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return jsonify(error="internal error while reading the picture"), 500
        return "internal error", 500

    return app


def model_info(recognizer: Recognizer) -> dict:
    """Name and MNIST test accuracy from the model card beside the model file, when it describes that file."""
    path = Path(getattr(recognizer.classifier, "path", "") or "")
    info = {"model": path.stem or "unknown", "model_file": path.name or None, "test_accuracy": None,
            "min_confidence": recognizer.min_confidence}
    try:
        card = json.loads((path.parent / "model_card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return info
    if path.name in (card.get("files") or {}).values():
        info["model"] = card.get("name") or info["model"]
        info["test_accuracy"] = (card.get("test") or {}).get("tflite_accuracy")
    return info


# -- input -----------------------------------------------------------------------------------------

def picture_bytes(req: Request) -> bytes:
    """The picture's encoded bytes from a multipart upload (field ``image``, else the only file), or a
    data URL in JSON {"image": ...} or in a form field ``image``."""
    if req.files:
        upload = req.files.get("image") or next(iter(req.files.values()))
        data = upload.read(MAX_PICTURE_BYTES + 1)
        if len(data) > MAX_PICTURE_BYTES:
            raise BadPicture(f"the picture is larger than {MAX_PICTURE_BYTES // (1024 * 1024)} MB", 413)
        return data
    if req.is_json:
        body = req.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("image"), str):
            raise BadPicture('expected JSON {"image": "data:image/png;base64,..."}')
        return from_data_url(body["image"])
    if isinstance(req.form.get("image"), str):
        return from_data_url(req.form["image"])
    raise BadPicture('no picture: send a multipart file field "image" or JSON {"image": "data:image/png;base64,..."}')


def from_data_url(text: str) -> bytes:
    """Bytes of a base64 data URL (or of bare base64)."""
    text = text.strip()
    match = DATA_URL.match(text)
    if match:
        text = text[match.end():]
    elif text.startswith("data:"):
        raise BadPicture("the data URL is not base64 (expected data:image/png;base64,...)")
    if len(text) > MAX_PICTURE_BYTES * 4 // 3 + 4:
        raise BadPicture(f"the picture is larger than {MAX_PICTURE_BYTES // (1024 * 1024)} MB", 413)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadPicture("the picture's base64 is damaged") from None


def decode_picture(data: bytes, allow_blank: bool = False) -> np.ndarray:
    """BGR uint8 picture from encoded bytes, decoded in memory; transparency is put on white paper.
    A blank picture is refused unless ``allow_blank`` (for one digit, "no digit" is an answer)."""
    if not data:
        raise BadPicture("the picture is empty (0 bytes)")
    if len(data) > MAX_PICTURE_BYTES:
        raise BadPicture(f"the picture is larger than {MAX_PICTURE_BYTES // (1024 * 1024)} MB", 413)
    declared = declared_size(data)
    if declared and declared[0] * declared[1] > MAX_PIXELS:
        raise BadPicture(f"the picture is {declared[0]}x{declared[1]} pixels; at most "
                         f"{MAX_PIXELS // 1_000_000} megapixels are read", 413)
    buffer = np.frombuffer(data, np.uint8)
    if is_truncated(buffer):  # decoders fill a cut-off JPEG with grey instead of failing
        raise BadPicture("the picture is truncated (the file ends before the picture does)")
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # applies EXIF orientation
        unchanged = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if image is not None else None
    except cv2.error:
        image = None
    if image is None:
        raise BadPicture("not a picture that can be read (PNG, JPEG, WebP, BMP, TIFF ...), or a damaged one")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise BadPicture(f"the picture has more than {MAX_PIXELS // 1_000_000} megapixels", 413)
    image = on_white(image, unchanged)
    if not allow_blank and float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).std()) < BLANK_STD:
        raise BadPicture("no digits found: the picture is blank (an empty canvas?); draw or upload some digits")
    return image


def on_white(image: np.ndarray, unchanged: np.ndarray | None) -> np.ndarray:
    """A drawing on a transparent background (a PNG from most drawing apps) as ink on white: IMREAD_COLOR
    drops the alpha channel and shows the transparent part as whatever colour it hides, often black."""
    if unchanged is None or unchanged.ndim != 3 or unchanged.shape[2] != 4 or unchanged.shape[:2] != image.shape[:2]:
        return image  # no alpha (or EXIF turned the picture: then keep OpenCV's colour decode)
    scale = 65535.0 if unchanged.dtype == np.uint16 else 255.0
    alpha = unchanged[..., 3:4].astype(np.float32) / scale
    if alpha.min() >= 0.99:
        return image
    colour = unchanged[..., :3].astype(np.float32) * (255.0 / scale)
    return (colour * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, read before decoding, so that a small file declaring an
    enormous picture is refused before it takes the memory; None for other formats (checked after decoding)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 9 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame: its size
            return int.from_bytes(data[position + 7:position + 9], "big"), \
                int.from_bytes(data[position + 5:position + 7], "big")
        position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return None


# -- output ----------------------------------------------------------------------------------------

def digit_answer(probabilities: np.ndarray) -> dict:
    """The answer for a picture of one digit, as ``Recognizer.read_digit`` gives it, with the
    probabilities behind it."""
    digit, confidence = digit_from_probabilities(probabilities)
    digits = probabilities[:NUM_DIGITS] / max(float(probabilities[:NUM_DIGITS].sum()), 1e-6)
    return {"digit": digit, "confidence": round(confidence, 4),
            "not_a_digit": round(float(probabilities[NOT_A_DIGIT]), 4),
            "probabilities": [round(float(p), 4) for p in digits]}


def answer(image: np.ndarray, reading: Reading) -> dict:
    """The JSON answer: the JSONL record's text and digits (each with its top 3), and the annotated picture."""
    digits = []
    for d in reading.digits:
        record = d.as_dict()
        record["confidence"] = round(float(d.confidence), 4)
        record["top3"] = [{"digit": int(digit), "probability": round(float(p), 4)} for digit, p in d.top3]
        digits.append(record)
    annotated = draw(image, reading)
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest > ANSWER_MAX_SIDE:  # a phone photo as PNG would be tens of MB for the browser to show
        factor = ANSWER_MAX_SIDE / longest
        annotated = cv2.resize(annotated, (round(width * factor), round(height * factor)),
                               interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", annotated, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("cannot encode the annotated picture as PNG")
    return {"text": reading.text, "digits": digits,
            "image": "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii"),
            "width": int(width), "height": int(height)}


# -- command line ----------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Serve the livedigits web page and JSON API.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s: this computer only; 0.0.0.0 for everyone "
                        "on the network)")
    p.add_argument("--port", type=number_in(int, 0, 65535, "a port from 0 to 65535"), default=5000, help="port (default %(default)s; 0 picks a free one)")
    p.add_argument("--model", metavar="PATH", default=os.environ.get(MODEL_ENV) or None,
                   help=f".tflite or .keras model (default: ${MODEL_ENV}, else the shipped models/digits.tflite)")
    p.add_argument("--min-confidence", metavar="P", type=_probability, default=DEFAULT_MIN_CONFIDENCE,
                   help="drop digits read with a lower confidence (0-1, default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``livedigits serve``; returns the exit status (2 for a bad model or an unusable address)."""
    from werkzeug.serving import make_server  # only the command needs a server; tests use the app

    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # bad uploads are answered, not logged
    try:
        app = create_app(Recognizer(args.model, min_confidence=args.min_confidence))
    except ModelError as err:
        print(f"livedigits: error: {err}", file=sys.stderr)
        return 2
    try:
        # werkzeug reports an unusable address in several lines and exits; say it in one line instead
        with contextlib.redirect_stderr(io.StringIO()):
            server = make_server(args.host, args.port, app, threaded=True)
    except (SystemExit, OSError, OverflowError) as err:
        why = getattr(err, "strerror", None) or ("address in use or not available" if isinstance(err, SystemExit)
                                                 else err)
        print(f"livedigits: error: cannot listen on {args.host}:{args.port} ({why}); pick another --port or --host",
              file=sys.stderr)
        return 2
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"livedigits: serving on http://{shown}:{server.server_port}/  (Ctrl-C to stop)", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("livedigits: note: reachable from other computers; anyone who can reach it can send pictures",
              file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nlivedigits: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
