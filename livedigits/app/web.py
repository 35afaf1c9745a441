"""The web app: draw digits on a canvas or upload a picture in a browser, or POST pictures to a JSON API.

    livedigits serve [--host 127.0.0.1] [--port 5000] [--threads 4] [--allow-host NAME]
                                                      (or: python -m livedigits.app.web)

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

Reliability: a picture's size is read from its header (picture_headers) and it is decoded only when that
fits the memory budget, one picture at a time (decoding, reading and drawing share one lock), so that
the server stays under 300 MB whatever it is sent. Requests for another host name (DNS rebinding) and
POSTs from another site's page are refused with 403. The command serves with waitress, a production
WSGI server.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import ctypes
import io
import ipaddress
import json
import logging
import os
import re
import socket
import sys
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
from flask import Flask, Request, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..classify import NOT_A_DIGIT, NUM_DIGITS, ModelError
from ..overlay import draw
from ..pipeline import DEFAULT_MIN_CONFIDENCE, Reading, Recognizer, digit_from_probabilities
from ..sources import is_truncated
from .cli import _probability, number_in  # the same checks as the command line
from .picture_headers import Header, HeaderError, Refused, read_header

PROG = "livedigits serve"
MODEL_ENV = "LIVEDIGITS_MODEL"  # the same default for --model as the other commands
MAX_PICTURE_BYTES = 10 * 1024 * 1024  # the "10 MB" users are told about: the picture file itself
# The request body may be larger than the picture: a data URL is base64 (4/3 of the bytes) in JSON.
MAX_REQUEST_BYTES = MAX_PICTURE_BYTES * 4 // 3 + 64 * 1024
# A small file can declare a huge picture (a "decompression bomb"): its header says how large, and the
# picture is decoded only when both limits hold. The memory budget (bytes per pixel of each format's
# decoder, measured, in picture_headers) keeps the server's peak under 300 MB: it settles at about 175 MB
# after serving large pictures, and OpenCV decoding into numpy takes twice the picture (6.5 bytes per
# pixel for a colour JPEG or PNG: 20 MP is 130 MB). Formats that take more per pixel (16-bit, alpha,
# GIF, TIFF strips) are read up to fewer pixels.
MAX_PIXELS = 20_000_000
DECODE_BUDGET = 130_000_000
MAX_FORM_PARTS = 100     # a picture needs one or two parts; werkzeug's default of 1000 is refused as "too large"
CHUNK_PIXELS = 1 << 18   # transparency is put on white this many pixels at a time (bounded float buffers)
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

def create_app(recognizer: Recognizer | None = None, hosts: HostPolicy | None = None) -> Flask:
    """The Flask app around one Recognizer (the shipped model when None), loaded here, once. ``hosts``
    says which Host names it answers (default: this computer's loopback names, as ``serve`` binds)."""
    recognizer = recognizer if recognizer is not None else Recognizer()
    hosts = hosts if hosts is not None else HostPolicy("127.0.0.1")
    # LiteRT interpreters are not thread-safe, and a decoded picture can take 130 MB: the server stays
    # threaded (pages and health answer while a picture is read) but one picture is decoded, read and
    # drawn at a time.
    lock = threading.Lock()
    model = model_info(recognizer)

    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES  # a data URL may also come as a plain form field
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    app.json.sort_keys = False  # keep text before digits, as in the JSONL records

    @app.before_request
    def same_site_only():
        refusal = hosts.refusal(request)
        if refusal:
            return jsonify(error=refusal), 403
        return None

    @app.get("/")
    def index():
        return render_template("index.html", max_bytes=MAX_PICTURE_BYTES, model=model)

    @app.get("/api/health")
    def health():
        return jsonify(status="ok", **model)

    @app.post("/api/recognize")
    def recognize():
        try:
            with lock:  # the body's copies and the full-size picture live only in here
                image = decode_picture(picture_bytes(request))
                reading = recognizer.recognize(image)
                shown = annotated(image, reading)
                height, width = image.shape[:2]
                del image
        except BadPicture as err:
            return jsonify(error=str(err)), err.status
        return jsonify(answer(reading, shown, width, height))

    @app.post("/api/digit")
    def digit():
        try:
            with lock:
                image = decode_picture(picture_bytes(request), allow_blank=True)
                probabilities = recognizer.digit_probabilities(image)
                del image
        except BadPicture as err:
            return jsonify(error=str(err)), err.status
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
        message = err.description or err.name
        if err.code == 413:
            message = too_large_message(request)
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


TOO_LARGE = f"the request is too large: pictures may be at most {MAX_PICTURE_BYTES // (1024 * 1024)} MB"


def too_large_message(req: Request) -> str:
    """What a 413 from werkzeug means: a body over the limit, or (within the limit, so it can only be
    the number of parts) a multipart form with too many parts."""
    if req.mimetype == "multipart/form-data" and (req.content_length or 0) <= MAX_REQUEST_BYTES:
        return (f"the form has too many parts (at most {MAX_FORM_PARTS}): send the picture as one "
                'file field "image"')
    return TOO_LARGE


# -- which sites may use it ------------------------------------------------------------------------

LOOPBACK = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class HostPolicy:
    """The Host names a server answers and the Origins it accepts POSTs from.

    A web page on another site can make the browser send requests here: with a name of its own that
    resolves to this computer (DNS rebinding: the Host header is that name) or straight to this address
    (a cross-site POST: the Origin header is that site). Answered are: the bound address; when bound to
    loopback, localhost, 127.0.0.1 and [::1]; when bound to every address (0.0.0.0, ::), any IP address
    and this computer's name (also NAME.local); and the names given with --allow-host ("*": any).
    POSTs are answered when they carry no Origin (curl, scripts) or the server's own origin (or an
    allowed name)."""

    def __init__(self, bound: str, allowed: tuple[str, ...] | list[str] = ()):
        self.extra = {normal_host(name) for name in allowed}
        self.names = {normal_host(bound)} | self.extra
        self.any_address = False
        address = ip_or_none(normal_host(bound))
        if normal_host(bound) == "localhost" or (address is not None and address.is_loopback):
            self.names |= set(LOOPBACK)
        elif not bound or (address is not None and address.is_unspecified):
            self.any_address = True
            name = normal_host(socket.gethostname())
            self.names |= set(LOOPBACK) | {name, name.split(".")[0] + ".local"}  # and its mDNS name

    def allows(self, host: str) -> bool:
        return "*" in self.extra or host in self.names or (self.any_address and ip_or_none(host) is not None)

    def refusal(self, req: Request) -> str | None:
        """Why this request is refused, or None."""
        raw = req.environ.get("HTTP_HOST")
        if raw is None:  # HTTP/1.0 without Host: not a browser, so no rebinding
            return None
        host, port = split_host(raw)
        if not self.allows(host):
            return (f"this server does not answer for the host name {raw!r} (a protection against other web "
                    f"sites); start it with --allow-host {host or 'NAME'} to allow that name")
        origin = req.headers.get("Origin")
        if req.method in SAFE_METHODS or origin is None:
            return None
        try:
            parts = urlsplit(origin)
            theirs = (parts.scheme, normal_host(parts.hostname or ""), parts.port or DEFAULT_PORTS.get(parts.scheme))
        except ValueError:
            theirs = None
        scheme = req.scheme
        if theirs == (scheme, host, port or DEFAULT_PORTS.get(scheme)) or (theirs and theirs[1] in self.extra) \
                or "*" in self.extra:
            return None
        return (f"a page on {origin[:100]!r} may not send pictures here (only pages of this server may); "
                f"start it with --allow-host to allow another site's name")


DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_host(name: str) -> str:
    """A host name or address as compared: lower case, no brackets around IPv6, no final dot."""
    return name.strip().lower().strip("[]").rstrip(".")


def split_host(raw: str) -> tuple[str, int | None]:
    """("example.org", 5000) from the Host header "example.org:5000"; "[::1]:5000" -> ("::1", 5000)."""
    raw = raw.strip()
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    else:
        host, port = raw, ""
    return normal_host(host), int(port) if port.isdigit() and len(port) <= 5 else None


def ip_or_none(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


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
    The header is read first: unknown formats are refused, and so are pictures whose declared size
    (in pixels, or in the memory its decoder needs) is over the limits. A blank picture is refused
    unless ``allow_blank`` (for one digit, "no digit" is an answer)."""
    if not data:
        raise BadPicture("the picture is empty (0 bytes)")
    if len(data) > MAX_PICTURE_BYTES:
        raise BadPicture(f"the picture is larger than {MAX_PICTURE_BYTES // (1024 * 1024)} MB", 413)
    header = checked_header(data)
    buffer = np.frombuffer(data, np.uint8)
    if is_truncated(buffer):  # decoders fill a cut-off JPEG with grey instead of failing
        raise BadPicture("the picture is truncated (the file ends before the picture does)")
    try:
        image = as_bgr(decode(buffer, header))
    except cv2.error:
        image = None
    if image is None:
        raise BadPicture(f"the {header.format} picture is damaged and cannot be read")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:  # a decoder that disagrees with its header
        raise BadPicture(f"the picture has more than {MAX_PIXELS // 1_000_000} megapixels", 413)
    if not allow_blank and float(cv2.meanStdDev(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))[1][0, 0]) < BLANK_STD:
        raise BadPicture("no digits found: the picture is blank (an empty canvas?); draw or upload some digits")
    return image


def checked_header(data: bytes) -> Header:
    """The picture's header, when the picture may be decoded: a format OpenCV reads, at most MAX_PIXELS,
    and no more than DECODE_BUDGET bytes to decode (formats with float or 16-bit samples, or several
    buffers, take more per pixel: their limit in pixels is lower)."""
    try:
        header = read_header(data)
    except HeaderError as err:
        raise BadPicture(f"{err}; it cannot be read") from None
    except Refused as err:
        raise BadPicture(str(err)) from None
    if header is None:
        raise BadPicture("not a picture that can be read (PNG, JPEG, WebP, GIF, BMP, TIFF ...), or a damaged one")
    if header.pixels > MAX_PIXELS or header.decode_bytes > DECODE_BUDGET:
        allowed = min(MAX_PIXELS, DECODE_BUDGET / header.bytes_per_pixel)
        raise BadPicture(f"the picture is {header.width}x{header.height} pixels; {header.format} pictures like this "
                         f"one are read up to {allowed / 1e6:.1f} megapixels", 413)
    return header


def decode(buffer: np.ndarray, header: Header) -> np.ndarray | None:
    """The picture as BGR, transparency on white, with as few full-size copies at a time as the header
    allows: IMREAD_COLOR applies the EXIF orientation but drops alpha (the transparent part shows as
    whatever colour it hides, often black); IMREAD_UNCHANGED keeps alpha but not the orientation."""
    if not header.alpha:
        return cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if not header.oriented:
        flat = on_white(cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED))
        return flat if flat is not None else cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    flat = on_white(cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)) if image is not None else None
    # a turned picture keeps its colour decode (its alpha channel is not turned)
    return flat if flat is not None and flat.shape == image.shape else image


def as_bgr(image: np.ndarray | None) -> np.ndarray | None:
    """8-bit BGR, whatever IMREAD_COLOR gave (a grey PFM comes back with one channel); None when the
    decoder gave something else than 8-bit values."""
    if image is None or image.dtype != np.uint8 or image.size == 0:
        return None
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else image


def on_white(unchanged: np.ndarray | None) -> np.ndarray | None:
    """A picture with an alpha channel (a drawing on a transparent background, as most drawing apps save
    it) as BGR on white paper; None when it has no alpha or no transparent pixel. Made a few rows at a
    time: float copies of the whole picture would take 20 bytes per pixel."""
    if unchanged is None or unchanged.ndim != 3 or unchanged.shape[2] != 4:
        return None
    scale = 1.0 if unchanged.dtype.kind == "f" else 65535.0 if unchanged.dtype == np.uint16 else 255.0
    if float(unchanged[..., 3].min()) >= 0.99 * scale:
        return None
    flat = np.empty(unchanged.shape[:2] + (3,), np.uint8)
    rows = max(1, CHUNK_PIXELS // unchanged.shape[1])
    for top in range(0, unchanged.shape[0], rows):
        part = unchanged[top:top + rows]
        alpha = np.clip(part[..., 3:4].astype(np.float32) / scale, 0.0, 1.0)
        colour = np.clip(part[..., :3].astype(np.float32) * (255.0 / scale), 0.0, 255.0)
        flat[top:top + rows] = (colour * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return flat


# -- output ----------------------------------------------------------------------------------------

def digit_answer(probabilities: np.ndarray) -> dict:
    """The answer for a picture of one digit, as ``Recognizer.read_digit`` gives it, with the
    probabilities behind it."""
    digit, confidence = digit_from_probabilities(probabilities)
    digits = probabilities[:NUM_DIGITS] / max(float(probabilities[:NUM_DIGITS].sum()), 1e-6)
    return {"digit": digit, "confidence": round(confidence, 4),
            "not_a_digit": round(float(probabilities[NOT_A_DIGIT]), 4),
            "probabilities": [round(float(p), 4) for p in digits]}


def annotated(image: np.ndarray, reading: Reading) -> np.ndarray:
    """The picture with the reading drawn on it, at most ANSWER_MAX_SIDE pixels long (a phone photo as
    PNG would be tens of MB for the browser to show). A large picture is shrunk first and the boxes
    with it: drawing on a full-size copy would take another 3 bytes per pixel."""
    height, width = image.shape[:2]
    factor = ANSWER_MAX_SIDE / max(height, width)
    if factor >= 1:
        return draw(image, reading)
    # at least one pixel: a 2 x 12000 strip would otherwise shrink to no rows (an OpenCV assertion)
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    fy, fx = small.shape[0] / height, small.shape[1] / width
    scaled = Reading([replace(d, x=int(d.x * fx), y=int(d.y * fy), w=max(1, round(d.w * fx)),
                              h=max(1, round(d.h * fy))) for d in reading.digits])
    return draw(small, scaled)


def answer(reading: Reading, shown: np.ndarray, width: int, height: int) -> dict:
    """The JSON answer: the JSONL record's text and digits (each with its top 3, boxes in the input
    picture's pixels), the annotated picture ``shown`` as a PNG data URL, and the input's size."""
    digits = []
    for d in reading.digits:
        record = d.as_dict()
        record["confidence"] = round(float(d.confidence), 4)
        record["top3"] = [{"digit": int(digit), "probability": round(float(p), 4)} for digit, p in d.top3]
        digits.append(record)
    ok, png = cv2.imencode(".png", shown, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("cannot encode the annotated picture as PNG")
    return {"text": reading.text, "digits": digits,
            "image": "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii"),
            "width": int(width), "height": int(height)}


# -- command line ----------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Serve the livedigits web page and JSON API "
                                "(with waitress, a production WSGI server).")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s: this computer only; 0.0.0.0 for everyone "
                        "on the network)")
    p.add_argument("--port", type=number_in(int, 0, 65535, "a port from 0 to 65535"), default=5000, help="port (default %(default)s; 0 picks a free one)")
    p.add_argument("--threads", type=number_in(int, 1, 64, "a number of threads from 1 to 64"), default=4,
                   help="threads answering requests (default %(default)s); pictures are still read one at a time")
    p.add_argument("--allow-host", metavar="NAME", action="append", default=[],
                   help="also answer requests for this host name, and POSTs from pages on it (repeatable; e.g. "
                        "the name of a reverse proxy; '*' allows any). By default only the address listened on "
                        "(and localhost, or this computer's name and IP addresses) is answered: a protection "
                        "against other web sites")
    p.add_argument("--model", metavar="PATH", default=os.environ.get(MODEL_ENV) or None,
                   help=f".tflite or .keras model (default: ${MODEL_ENV}, else the shipped models/digits.tflite)")
    p.add_argument("--min-confidence", metavar="P", type=_probability, default=DEFAULT_MIN_CONFIDENCE,
                   help="drop digits read with a lower confidence (0-1, default %(default)s)")
    return p


def return_freed_memory() -> None:
    """glibc keeps freed blocks of up to 32 MB for reuse, in a pool per thread: with a few threads reading
    large pictures, the server's resident memory would creep up request after request (from 180 to
    300 MB in six large pictures). Blocks of 256 KB and more are given back to the system when freed."""
    try:
        ctypes.CDLL(None).mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD (fixed: no longer raised as blocks are freed)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def make_server(app: Flask, host: str, port: int, threads: int):
    """A waitress server on one address (``host`` resolved to its first address: "localhost" would
    otherwise listen twice, on two different free ports for --port 0). Request bodies stay in memory up
    to the limit and larger ones are refused before they are read; its own errors are answered in JSON."""
    from waitress.server import create_server

    family, _, _, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                   flags=socket.AI_PASSIVE)[0]
    server = create_server(app, host=address[0], port=port, threads=threads, ident="livedigits",
                           ipv4=family == socket.AF_INET, ipv6=family == socket.AF_INET6,
                           max_request_body_size=MAX_REQUEST_BYTES + 1,  # waitress refuses ">= this"
                           inbuf_overflow=MAX_REQUEST_BYTES + 1024 * 1024,  # never spooled to a temporary file
                           outbuf_overflow=64 * 1024 * 1024, connection_limit=64, channel_timeout=60,
                           clear_untrusted_proxy_headers=True)
    server.channel_class = json_error_channel()
    return server


def json_error_channel():
    """waitress's connection class, answering the errors it finds itself (a body over the limit, a broken
    request) as {"error": ...} like the app does."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class JsonErrorTask(ErrorTask):
        def execute(self):
            error = self.request.error
            message = TOO_LARGE if error.code == 413 else f"{error.reason.lower()}: {error.body}"
            body = json.dumps({"error": message}).encode("utf-8")
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):
        error_task_class = JsonErrorTask

    return JsonErrorChannel


def main(argv: list[str] | None = None) -> int:
    """``livedigits serve``; returns the exit status (2 for a bad model or an unusable address)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return_freed_memory()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # bad uploads are answered, not logged
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth": requests wait their turn
    try:
        app = create_app(Recognizer(args.model, min_confidence=args.min_confidence),
                         HostPolicy(args.host, args.allow_host))
    except ModelError as err:
        print(f"livedigits: error: {err}", file=sys.stderr)
        return 2
    try:
        server = make_server(app, args.host, args.port, args.threads)
    except (OSError, ValueError, OverflowError) as err:
        why = getattr(err, "strerror", None) or err
        print(f"livedigits: error: cannot listen on {args.host}:{args.port} ({why}); pick another --port or --host",
              file=sys.stderr)
        return 2
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"livedigits: serving on http://{shown}:{server.effective_port}/  (Ctrl-C to stop)", file=sys.stderr)
    if args.host not in LOOPBACK:
        print("livedigits: note: reachable from other computers; anyone who can reach it can send pictures",
              file=sys.stderr)
    try:
        server.run()  # until Ctrl-C: waitress catches it and stops its threads
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("\nlivedigits: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
