"""The web app's JSON API through Flask's test client: good pictures from the scene generator, checked
against their ground truth, and every kind of bad input (answered 400/413 with JSON, never a 500)."""
import base64
import io
import re
import tempfile
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import ROOT
from livedigits import Reading, Recognizer
from livedigits.app import web
from livedigits.app.web import MAX_PICTURE_BYTES, create_app
from livedigits.synthetic.scenes import blank_scene, make_scene

# One line of 4-6 digits on plain paper: seeds whose text the pipeline reads exactly (checked once
# with Recognizer.recognize; the API must give the same answer as the recognizer itself).
SCENE = dict(paper="plain", lines=1, digits_per_line=(4, 6))
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


@pytest.fixture(scope="module")
def client(recognizer):
    return create_app(recognizer).test_client()


@pytest.fixture(scope="module")
def scenes(mnist):
    return [make_scene(mnist.x_test, mnist.y_test, seed=seed, **SCENE) for seed in SEEDS]


def png(image) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def upload(client, data: bytes, name="picture.png"):
    return client.post("/api/recognize", data={"image": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def drawing(strokes, size=400, width=16, background=255):
    """A canvas-like picture: black strokes on white (as the page sends it)."""
    image = np.full((size, size, 3), background, np.uint8)
    for points in strokes:
        cv2.polylines(image, [np.array(points, np.int32)], False, (0, 0, 0), width, cv2.LINE_AA)
    return image


SEVEN = [[(140, 110), (260, 110), (180, 300)]]


def iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def assert_json_error(response, status):
    assert response.status_code == status, response.data[:300]
    assert response.is_json
    assert isinstance(response.json["error"], str) and response.json["error"]


# -- good pictures ---------------------------------------------------------------------------------

def test_health_names_the_model_and_its_test_accuracy(client):
    import json
    card = json.loads((ROOT / "models" / "model_card.json").read_text())
    answer = client.get("/api/health")
    assert answer.status_code == 200
    assert answer.json["status"] == "ok"
    assert answer.json["model"] == card["name"]
    assert answer.json["test_accuracy"] == card["test"]["tflite_accuracy"]


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_uploaded_scene_is_read_as_its_ground_truth(client, scenes, index):
    scene = scenes[index]
    answer = upload(client, png(scene.image))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["text"] == scene.text
    assert (body["width"], body["height"]) == (scene.image.shape[1], scene.image.shape[0])
    assert len(body["digits"]) == len(scene.digits)
    for got, truth in zip(body["digits"], sorted(scene.digits, key=lambda t: (t.line, t.x))):
        assert got["digit"] == truth.digit
        assert got["line"] == truth.line
        assert iou((got["x"], got["y"], got["w"], got["h"]), (truth.x, truth.y, truth.w, truth.h)) > 0.5


def test_answer_schema_matches_the_jsonl_records(client, scenes, recognizer):
    scene = scenes[0]
    body = upload(client, png(scene.image)).json
    reading = recognizer.recognize(scene.image)
    # the command's JSONL record: text and digits as Digit.as_dict(), here with top3 added
    assert body["text"] == reading.text
    assert [{k: v for k, v in d.items() if k != "top3"} for d in body["digits"]] == \
        [d.as_dict() for d in reading.digits]
    for digit in body["digits"]:
        assert set(digit) == {"x", "y", "w", "h", "digit", "confidence", "line", "top3"}
        top3 = digit["top3"]
        assert len(top3) == 3 and all(set(t) == {"digit", "probability"} for t in top3)
        assert top3[0]["digit"] == digit["digit"]
        assert top3[0]["probability"] == pytest.approx(digit["confidence"], abs=1e-4)
        assert [t["probability"] for t in top3] == sorted((t["probability"] for t in top3), reverse=True)
        assert all(round(t["probability"], 4) == t["probability"] for t in top3)
        assert round(digit["confidence"], 4) == digit["confidence"]


def test_annotated_picture_is_a_png_data_url(client, scenes):
    scene = scenes[1]
    body = upload(client, png(scene.image)).json
    match = re.match(r"data:image/png;base64,(.+)$", body["image"], re.DOTALL)
    assert match
    annotated = cv2.imdecode(np.frombuffer(base64.b64decode(match.group(1)), np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape == scene.image.shape
    assert not np.array_equal(annotated, scene.image)  # boxes and labels were drawn on it


def test_json_data_url_gives_the_same_answer_as_multipart(client, scenes):
    data = png(scenes[2].image)
    by_file = upload(client, data).json
    by_json = client.post("/api/recognize", json={"image": data_url(data)})
    assert by_json.status_code == 200
    assert by_json.json == by_file


def test_jpeg_upload_and_bare_base64_are_read(client, scenes):
    scene = scenes[0]
    jpeg = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    assert upload(client, jpeg, "photo.jpg").json["text"] == scene.text
    bare = client.post("/api/recognize", json={"image": base64.b64encode(jpeg).decode()})
    assert bare.json["text"] == scene.text


def test_drawn_digit_is_read_with_its_top3(client):
    body = client.post("/api/recognize", json={"image": data_url(png(drawing(SEVEN)))}).json
    assert body["text"] == "7"
    assert body["digits"][0]["top3"][0]["digit"] == 7


def test_one_digit_api_reads_a_drawn_digit(client):
    body = client.post("/api/digit", json={"image": data_url(png(drawing(SEVEN)))}).json
    assert body["digit"] == 7 and body["confidence"] > 0.5
    assert len(body["probabilities"]) == 10 and body["not_a_digit"] < 0.5


@pytest.mark.parametrize("image", [np.full((64, 64, 3), 255, np.uint8), np.zeros((30, 40, 3), np.uint8)],
                         ids=["white", "black"])
def test_one_digit_api_says_no_digit_for_a_blank_picture(client, image):
    answer = client.post("/api/digit", data={"image": (io.BytesIO(png(image)), "blank.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200
    assert answer.json["digit"] is None and answer.json["not_a_digit"] == 1.0


def test_one_digit_api_refuses_what_is_not_a_picture(client):
    assert_json_error(client.post("/api/digit", json={"image": data_url(b"not a picture")}), 400)


def test_transparent_drawing_is_read_as_ink_on_white(client):
    # black strokes on a transparent background: dropping alpha would give black on black
    bgra = np.zeros((400, 400, 4), np.uint8)
    bgra[..., 3] = 255 - drawing(SEVEN)[..., 0]
    body = upload(client, png(bgra)).json
    assert body["text"] == "7"


def test_ink_without_digits_is_an_empty_answer_not_an_error(client):
    answer = upload(client, png(blank_scene(1, paper="ruled")))
    assert answer.status_code == 200
    assert answer.json["text"] == "" and answer.json["digits"] == []


def test_page_and_assets_come_from_the_app_only(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<canvas id="pad"' in html and 'type="file"' in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") or a.startswith("data:") for a in assets), assets
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for path in ("/static/app.js", "/static/style.css"):
        asset = client.get(path)
        assert asset.status_code == 200
        text = asset.get_data(as_text=True)
        assert not re.search(r"https?://|@import|//cdn", text), path
        asset.close()


# -- bad input -------------------------------------------------------------------------------------

def test_picture_over_10_mb_is_413(client):
    big = b"\x89PNG\r\n\x1a\n" + bytes(MAX_PICTURE_BYTES + 1)
    assert_json_error(upload(client, big), 413)


def test_request_body_over_the_limit_is_413(client):
    answer = client.post("/api/recognize", json={"image": "data:image/png;base64," + "A" * (15 * 1024 * 1024)})
    assert_json_error(answer, 413)
    answer = client.post("/api/recognize", data=bytes(15 * 1024 * 1024), content_type="application/octet-stream")
    assert_json_error(answer, 413)


def test_huge_declared_size_is_refused_before_decoding(client):
    data = bytearray(png(drawing(SEVEN)))
    data[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")  # IHDR width, height
    assert_json_error(upload(client, bytes(data)), 413)


@pytest.mark.parametrize("data, name", [
    (b"hello, this is not a picture", "notes.txt"),
    (b"%PDF-1.4\n" + bytes(2000), "scan.pdf"),
    (b"\x89PNG\r\n\x1a\n" + bytes(500), "zeros.png"),
    (b"", "empty.png"),
], ids=["text", "pdf", "png-garbage", "empty-file"])
def test_not_a_picture_is_400(client, data, name):
    assert_json_error(upload(client, data, name), 400)


def test_truncated_pictures_are_400(client, scenes):
    image = scenes[0].image
    for data in (png(image), cv2.imencode(".jpg", image)[1].tobytes()):
        assert_json_error(upload(client, data[: len(data) * 2 // 3]), 400)


def test_corrupt_picture_is_400(client, scenes):
    data = bytearray(png(scenes[0].image))
    data[200:4000] = bytes(len(data[200:4000]))  # damaged pixel data, intact length and end marker
    assert_json_error(upload(client, bytes(data)), 400)


@pytest.mark.parametrize("image", [
    np.full((400, 400, 3), 255, np.uint8),  # the empty canvas as the page sends it
    np.zeros((400, 400, 4), np.uint8),       # a fully transparent picture
    np.full((300, 500, 3), 90, np.uint8),    # one flat colour
], ids=["white-canvas", "transparent", "flat-grey"])
def test_blank_picture_is_400(client, image):
    answer = client.post("/api/recognize", json={"image": data_url(png(image))})
    assert_json_error(answer, 400)
    assert "blank" in answer.json["error"]


@pytest.mark.parametrize("kwargs", [
    {},
    {"json": {"picture": "x"}},
    {"json": ["not", "an", "object"]},
    {"json": {"image": 42}},
    {"json": {"image": "data:image/png;base64,@@not base64@@"}},
    {"json": {"image": "data:image/png,plain-text-not-base64"}},
    {"data": b"{broken json", "content_type": "application/json"},
    {"data": {"other": "field"}, "content_type": "multipart/form-data"},
], ids=["no-body", "no-image-key", "json-list", "image-not-string", "bad-base64", "not-base64-url",
        "broken-json", "form-without-image"])
def test_malformed_requests_are_400(client, kwargs):
    assert_json_error(client.post("/api/recognize", **kwargs), 400)


def test_wrong_method_and_unknown_api_route_answer_json(client):
    wrong = client.get("/api/recognize")
    assert_json_error(wrong, 405)
    assert "POST" in wrong.headers["Allow"]
    assert_json_error(client.get("/api/nothing-here"), 404)


def test_internal_error_is_json_without_details(recognizer, scenes):
    class Broken:
        classifier = recognizer.classifier
        min_confidence = 0.5

        def recognize(self, image):
            raise RuntimeError("secret internals")

    app = create_app(Broken())
    app.logger.disabled = True  # the traceback is logged on purpose; keep the test output clean
    answer = app.test_client().post("/api/recognize", data={"image": (io.BytesIO(png(scenes[0].image)), "a.png")})
    assert_json_error(answer, 500)
    assert "secret" not in answer.json["error"]


# -- what the server does with what it is sent -----------------------------------------------------

def test_uploads_are_never_written_to_disk(client, scenes, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an upload was written to disk")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    monkeypatch.setattr(cv2, "imwrite", refuse)
    # several MB: werkzeug would spool anything over 500 KB to a temporary file by default
    noisy = scenes[0].image.copy()
    noisy = cv2.resize(noisy, None, fx=3, fy=3)
    noisy = cv2.add(noisy, np.random.default_rng(0).integers(0, 12, noisy.shape, dtype=np.uint8))
    data = png(noisy)
    assert len(data) > 2 * 1024 * 1024
    assert upload(client, data).status_code == 200


def test_model_is_loaded_once_not_per_request(monkeypatch, recognizer):
    built = []

    def counting_recognizer(*args, **kwargs):
        built.append(1)
        return recognizer

    monkeypatch.setattr(web, "Recognizer", counting_recognizer)
    client = create_app().test_client()
    for _ in range(3):
        client.post("/api/recognize", json={"image": data_url(png(drawing(SEVEN)))})
        client.get("/api/health")
    assert len(built) == 1


def test_one_picture_is_read_at_a_time(recognizer):
    # LiteRT interpreters are not thread-safe: concurrent requests must take turns on the recognizer
    class Watching:
        classifier = recognizer.classifier
        min_confidence = 0.5
        inside = overlaps = 0

        def recognize(self, image):
            self.inside += 1
            self.overlaps += self.inside > 1
            time.sleep(0.05)
            self.inside -= 1
            return Reading()

    watching = Watching()
    app = create_app(watching)
    body = {"image": data_url(png(drawing(SEVEN)))}
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(app.test_client().post("/api/recognize", json=body)
                                                             .status_code)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 4
    assert watching.overlaps == 0


# -- the command -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--port", "99999"], ["--port", "http"], ["--min-confidence", "2"],
                                  ["--model", "/no/such/model.tflite"]])
def test_serve_refuses_bad_arguments_with_status_2(argv, capsys):
    assert web.main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_serve_says_in_one_line_when_the_port_is_taken(monkeypatch, recognizer, capsys):
    import socket
    monkeypatch.setattr(web, "Recognizer", lambda *args, **kwargs: recognizer)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert web.main(["--port", str(taken.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot listen on 127.0.0.1" in err
