"""Fuzzing the web API (issue 14, "Also deliver"): arbitrary multipart and JSON bodies, and picture
decoding over arbitrary and mutated bytes of every format. Whatever arrives is answered 200, 400 or 413
with JSON (never a 500), and a picture is decoded only when its header declares at least the size it
decodes to. Each run is bounded (a few seconds); cases found are kept as examples."""
import base64
import json

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from livedigits import Recognizer
from livedigits.app.picture_headers import HeaderError, Refused, read_header
from livedigits.app.web import BadPicture, create_app, decode_picture

FAST = settings(max_examples=60, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client():
    app = create_app(Recognizer())
    app.logger.disabled = True  # a 500 would log its traceback: the assertion says enough
    return app.test_client()


def samples() -> dict[str, bytes]:
    """Small valid pictures of every format the server reads, to mutate."""
    image = np.full((24, 32, 3), 255, np.uint8)
    cv2.putText(image, "7", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    bgra = np.dstack([image, np.where(image[..., 0] < 128, 255, 0).astype(np.uint8)])
    out = {ext: cv2.imencode(ext, image[..., 0] if ext in (".pgm", ".pbm") else image)[1].tobytes()
           for ext in (".png", ".jpg", ".gif", ".webp", ".bmp", ".tif", ".ppm", ".pgm", ".pbm", ".ras")}
    out["alpha.png"] = cv2.imencode(".png", bgra)[1].tobytes()
    out["alpha.webp"] = cv2.imencode(".webp", bgra, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    out[".pfm"] = cv2.imencode(".pfm", image.astype(np.float32) / 255)[1].tobytes()
    out[".hdr"] = cv2.imencode(".hdr", image.astype(np.float32) / 255)[1].tobytes()
    out[".jp2"] = cv2.imencode(".jp2", cv2.resize(image, (96, 72)))[1].tobytes()
    return out


SAMPLES = samples()
SIGNATURES = [data[:16] for data in SAMPLES.values()] + [b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8X", b"II+\x00",
                                                          b"P7\n", b"\x00\x00\x00\x0cjP  \r\n\x87\n"]


@st.composite
def mutated(draw) -> bytes:
    """A sample picture with some bytes changed, inserted, removed or cut off, header included."""
    data = bytearray(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(data) - 1)) if draw(st.booleans()) else draw(st.integers(0, min(64, len(data) - 1)))
        action = draw(st.sampled_from(["set", "insert", "delete", "cut", "big"]))
        if action == "set":
            data[where] = draw(st.integers(0, 255))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and len(data) > 1:
            del data[where]
        elif action == "cut":
            del data[max(1, where):]
        elif action == "big" and where + 4 <= len(data):  # a large number where a size may be
            data[where:where + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\xff\xff", b"\x7f\xff\x00\x00",
                                                          b"\x00\x01\x00\x00", b"\x00\x00\x00\x00"]))
    return bytes(data)


any_bytes = st.one_of(st.binary(max_size=300), st.builds(lambda head, tail: head + tail,
                                                         st.sampled_from(SIGNATURES), st.binary(max_size=300)))


def check_decoding(data: bytes) -> None:
    """Either a refusal (BadPicture) or a BGR picture no larger than its header declared."""
    try:
        header = read_header(data)
    except (HeaderError, Refused):
        header = None
    try:
        image = decode_picture(data, allow_blank=True)
    except BadPicture as err:
        assert err.status in (400, 413) and str(err)
        event(f"refused {err.status}")
        return
    event(f"decoded {header.format if header else None}")
    assert header is not None
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= header.pixels, (header, image.shape)


@FAST
@given(any_bytes)
@example(b"II*\x00\x08\x00\x00\x00\xff\xff")  # an IFD claiming 65535 entries in 10 bytes
@example(b"GIF89a\x10\x00\x10\x00\x80\x00\x00")  # a colour table flag with no table
@example(b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00")  # an extended WebP cut in its header
def test_decoding_arbitrary_bytes(data):
    check_decoding(data)


@settings(FAST, max_examples=150)
@given(mutated())
@example(b"Pf\n32 24\n-1\n" + bytes(32 * 24 * 4))  # a grey PFM: IMREAD_COLOR gives it one channel only
def test_decoding_mutated_pictures(data):
    check_decoding(data)


def test_every_sample_decodes():
    for name, data in SAMPLES.items():
        assert decode_picture(data, allow_blank=True).shape[:2] in ((24, 32), (72, 96)), name


# -- the API ---------------------------------------------------------------------------------------

def assert_answered(answer) -> None:
    assert answer.status_code in (200, 400, 413), (answer.status_code, answer.data[:300])
    assert answer.is_json
    if answer.status_code != 200:
        assert isinstance(answer.json["error"], str) and answer.json["error"]


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
part_content = st.one_of(st.binary(max_size=200), mutated(), st.sampled_from(list(SAMPLES.values())))


@st.composite
def multipart_bodies(draw) -> tuple[bytes, str]:
    """Multipart bodies, well-formed or not: any field names, file names, headers, contents, boundaries."""
    boundary = draw(st.sampled_from(["b0undary", "x", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a" * 70]))
    body = b""
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.one_of(st.just("image"), text))
        head = f'Content-Disposition: form-data; name="{name}"'
        if draw(st.booleans()):
            head += f'; filename="{draw(text)}"'
        if draw(st.booleans()):
            head += f"\r\nContent-Type: {draw(st.sampled_from(['image/png', 'text/plain', '', 'x/y; q=1']))}"
        body += f"--{boundary}\r\n{head}\r\n\r\n".encode("utf-8", "surrogatepass") + draw(part_content) + b"\r\n"
    if draw(st.booleans()):
        body += f"--{boundary}--\r\n".encode()
    if draw(st.booleans()):  # damage it
        cut = draw(st.integers(0, max(0, len(body))))
        body = body[:cut] + draw(st.binary(max_size=20))
    kind = draw(st.sampled_from([f"multipart/form-data; boundary={boundary}", "multipart/form-data",
                                 f"multipart/form-data; boundary={boundary}x", "multipart/mixed; boundary=x"]))
    return body, kind


@FAST
@given(multipart_bodies(), st.sampled_from(["/api/recognize", "/api/digit"]))
def test_api_answers_any_multipart_body(client, body_and_kind, path):
    body, kind = body_and_kind
    assert_answered(client.post(path, data=body, content_type=kind))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=12)
image_strings = st.one_of(
    text,
    st.builds(lambda data: "data:image/png;base64," + base64.b64encode(data).decode(), part_content),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(["data:", "data:image/png;base64,", "data:;base64,",
                                                                   "data:image/png,", "DATA:IMAGE/PNG;BASE64,"]), text),
)


@FAST
@given(st.one_of(json_values, st.dictionaries(st.just("image"), st.one_of(image_strings, json_values), min_size=1)),
       st.sampled_from(["/api/recognize", "/api/digit"]))
@example({"image": "data:image/png;base64,===="}, "/api/recognize")
@example({"image": "data:image/png;base64,"}, "/api/digit")
def test_api_answers_any_json_body(client, body, path):
    assert_answered(client.post(path, data=json.dumps(body), content_type="application/json"))


@FAST
@given(st.binary(max_size=400), st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                                 "text/plain", "image/png", "multipart/form-data; boundary=z"]))
def test_api_answers_any_raw_body(client, body, kind):
    assert_answered(client.post("/api/recognize", data=body, content_type=kind))
