"""The production server and odd requests (issue 14, items 3-5): `livedigits serve` runs on waitress
with a thread pool (pages answer while a picture is read) and stops on Ctrl-C; its own errors are JSON
too; extreme strips are read (never an HTTP 500); a form of thousands of parts is told so."""
import io
import json
import re
import signal
import socket
import threading
import time

import cv2
import numpy as np
import pytest

from livedigits import Recognizer
from livedigits.app import web
from livedigits.app.web import MAX_FORM_PARTS, MAX_REQUEST_BYTES, create_app

from .web_server import multipart, request, served, upload


@pytest.fixture(scope="module")
def client():
    app = create_app(Recognizer())
    app.logger.disabled = True  # a 500 would be logged with its traceback; the tests check the answer
    return app.test_client()


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def digits_page(width=2400, height=1600) -> bytes:
    page = np.full((height, width, 3), 255, np.uint8)
    for i in range(40):
        cv2.putText(page, str(i % 10), (60 + 230 * (i % 10), 200 + 350 * (i // 10)), cv2.FONT_HERSHEY_SIMPLEX,
                    6, (0, 0, 0), 18)
    return png(page)


# -- item 3: waitress --------------------------------------------------------------------------------

def test_serve_runs_on_waitress_and_stops_on_ctrl_c():
    with served("--threads", "2") as (process, port):
        status, answer, headers = request(port, "GET", "/api/health")
        assert status == 200 and answer["status"] == "ok"
        assert headers["server"] == "livedigits"  # waitress's ident; Werkzeug's server says "Werkzeug/..."
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
        assert "livedigits: stopped" in process.log()
        assert "Traceback" not in process.log()


def test_pages_answer_while_a_picture_is_read():
    with served("--threads", "4") as (_, port):
        big = digits_page(4800, 3200)
        done = []
        reader = threading.Thread(target=lambda: done.append(upload(port, big)[0]))
        reader.start()
        time.sleep(0.05)
        started = time.monotonic()
        health = request(port, "GET", "/api/health")[0]
        waited = time.monotonic() - started
        still_reading = reader.is_alive()
        reader.join()
    assert health == 200 and done == [200]
    assert still_reading or waited < 0.5, waited


def test_concurrent_requests_all_get_their_own_answer():
    pages = {str(d): png(cv2.putText(np.full((160, 160, 3), 255, np.uint8), str(d), (40, 125),
                                     cv2.FONT_HERSHEY_SIMPLEX, 4, (0, 0, 0), 12)) for d in (1, 4, 7)}
    with served("--threads", "4") as (_, port):
        answers = {}

        def read(digit: str) -> None:
            answers[digit] = [upload(port, pages[digit], path="/api/digit") for _ in range(5)]

        threads = [threading.Thread(target=read, args=(digit,)) for digit in pages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for digit, replies in answers.items():
        assert [status for status, _, _ in replies] == [200] * 5
        assert all(answer["digit"] == int(digit) for _, answer, _ in replies), (digit, replies)


def raw_exchange(port: int, head: bytes) -> tuple[int, dict]:
    """Sends a request's head only (no body) and reads the answer: a server that reads what it refuses
    would wait for the body instead."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < content_length(reply):
            more = connection.recv(65536)
            if not more:
                break
            reply += more
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.split(b"\r\n\r\n", 1)[1])


def content_length(reply: bytes) -> int:
    match = re.search(rb"(?i)content-length:\s*(\d+)", reply)
    return int(match.group(1)) if match else 1 << 30


def test_servers_own_errors_are_json():
    with served() as (_, port):
        # over the limit: refused by waitress from the head alone, in the app's words
        status, answer = raw_exchange(port, b"POST /api/recognize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                            b"application/json\r\nContent-Length: %d\r\n\r\n" % (MAX_REQUEST_BYTES + 1))
        assert status == 413 and "at most 10 MB" in answer["error"]
        status, answer = raw_exchange(port, b"POST /api/recognize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                            b"Transfer-Encoding: gzip, chunked\r\n\r\n")
        assert status in (400, 501) and answer["error"]


def test_server_keeps_bodies_in_memory_and_refuses_oversized_ones_unread():
    app = create_app(Recognizer())
    server = web.make_server(app, "127.0.0.1", 0, threads=3)
    try:
        assert server.adj.threads == 3
        assert server.adj.max_request_body_size == MAX_REQUEST_BYTES + 1
        assert server.adj.inbuf_overflow > MAX_REQUEST_BYTES  # never spooled to a temporary file
        assert server.adj.outbuf_overflow >= 16 * 1024 * 1024
        assert int(server.effective_port) > 0
    finally:
        server.close()


@pytest.mark.parametrize("argv", [["--threads", "0"], ["--threads", "65"], ["--threads", "many"]])
def test_serve_refuses_bad_thread_counts(argv, capsys):
    assert web.main(argv) == 2
    assert "--threads" in capsys.readouterr().err


# -- item 4: extreme strips ------------------------------------------------------------------------

STRIPS = [(2, 6000), (6000, 2), (1, 6000), (6000, 1), (2, 12000), (12000, 2), (1, 20000), (3, 9000)]


@pytest.mark.parametrize("shape", STRIPS, ids=[f"{h}x{w}" for h, w in STRIPS])
@pytest.mark.parametrize("path", ["/api/recognize", "/api/digit"])
def test_noise_strip_gets_an_answer_not_a_500(client, shape, path):
    noise = np.random.default_rng(sum(shape)).integers(0, 256, shape + (3,), dtype=np.uint8)
    answer = client.post(path, data={"image": (io.BytesIO(png(noise)), "strip.png")})
    assert answer.status_code in (200, 400), answer.json
    if answer.status_code == 200 and path == "/api/recognize":
        assert (answer.json["width"], answer.json["height"]) == (shape[1], shape[0])
        preview = cv2.imdecode(np.frombuffer(__import__("base64").b64decode(answer.json["image"].split(",")[1]),
                                             np.uint8), cv2.IMREAD_COLOR)
        assert preview is not None and max(preview.shape[:2]) <= web.ANSWER_MAX_SIDE
    else:
        assert answer.json.get("error") or answer.json.get("probabilities")


def test_strip_with_digits_keeps_its_boxes_in_input_pixels(client):
    strip = np.full((120, 9000, 3), 255, np.uint8)
    for i, x in enumerate(range(100, 9000, 1000)):
        cv2.putText(strip, str(i), (x, 100), cv2.FONT_HERSHEY_SIMPLEX, 3, (0, 0, 0), 8)
    answer = client.post("/api/recognize", data={"image": (io.BytesIO(png(strip)), "strip.png")})
    assert answer.status_code == 200
    assert answer.json["text"] == "012345678"
    assert max(d["x"] + d["w"] for d in answer.json["digits"]) > 8000  # not the shrunk preview's pixels


# -- item 5: forms of many parts -------------------------------------------------------------------

def test_form_of_5000_parts_is_told_so(client):
    body, kind = multipart({f"field{i}": "x" for i in range(5000)})
    answer = client.post("/api/recognize", data=body, content_type=kind)
    assert answer.status_code == 413
    assert "too many parts" in answer.json["error"] and "10 MB" not in answer.json["error"]


def test_form_at_the_parts_limit_is_read(client):
    fields = {f"field{i}": "x" for i in range(MAX_FORM_PARTS - 1)}
    fields["image"] = ("seven.png", png(cv2.putText(np.full((160, 160, 3), 255, np.uint8), "7", (40, 125),
                                                    cv2.FONT_HERSHEY_SIMPLEX, 4, (0, 0, 0), 12)))
    body, kind = multipart(fields)
    answer = client.post("/api/recognize", data=body, content_type=kind)
    assert answer.status_code == 200 and answer.json["text"] == "7"


def test_form_of_5000_parts_on_the_real_server():
    body, kind = multipart({f"field{i}": "x" for i in range(5000)})
    with served() as (_, port):
        status, answer, _ = request(port, "POST", "/api/recognize", body, {"Content-Type": kind})
    assert status == 413 and "too many parts" in answer["error"]
