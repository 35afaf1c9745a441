"""Decompression bombs on the web API (issue 14, item 1): every format's declared size is read from its
header before anything is decoded, pictures are decoded one at a time, and the real server's peak
memory stays under 300 MB, for the issue's bombs (a 185 KB GIF of 16000 x 16000, a WebP, three TIFFs
at once) and for the largest pictures it accepts."""
import io
import struct
import threading
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from livedigits import Reading, Recognizer
from livedigits.app import web
from livedigits.app.picture_headers import HeaderError, read_header
from livedigits.app.web import DECODE_BUDGET, MAX_PIXELS, create_app

from .web_bombs import gif_bomb, png_bomb, tiff_bomb, webp_bomb
from .web_server import peak_memory_mb, served, upload

PEAK_MB = 300


@pytest.fixture(scope="module")
def client():
    return create_app(Recognizer()).test_client()


def post(client, data: bytes, name="picture"):
    return client.post("/api/recognize", data={"image": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def page(width: int, height: int, channels: int = 3) -> np.ndarray:
    """Digits written on white paper (transparent paper for 4 channels), cheap at any size."""
    small = np.full((max(1, height // 8), max(1, width // 8), channels), 255, np.uint8)
    if channels == 4:
        small[..., 3] = 0
    for i in range(12):
        cv2.putText(small, str(i % 10), (8 + 40 * (i % 6), 40 + 50 * (i // 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    1.4, (0, 0, 0, 255)[:channels], 3)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def encoded(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return data.tobytes()


def pil_encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk (CRC not checked by the header reader)."""
    return struct.pack(">I", len(body)) + kind + body + bytes(4)


# -- the header reader against the decoders --------------------------------------------------------

PICTURE = page(37 * 8, 23 * 8)[::8, ::8].copy()  # 37 x 23, digits on white
BGRA = np.dstack([PICTURE, np.full(PICTURE.shape[:2], 128, np.uint8)])
LARGER = cv2.resize(PICTURE, (74, 46))  # JPEG 2000 wants more pixels than its resolution levels
FRAMES = [Image.new("RGB", (37, 23), "white"), Image.new("RGB", (37, 23), "black")]

FILES = {
    "png": lambda: encoded(".png", PICTURE),
    "png 16-bit grey": lambda: encoded(".png", PICTURE[..., 0].astype(np.uint16) * 257),
    "png with alpha": lambda: encoded(".png", BGRA),
    "png palette + tRNS": lambda: pil_encoded(Image.fromarray(PICTURE).convert("P"), "PNG", transparency=0),
    "apng": lambda: pil_encoded(FRAMES[0], "PNG", save_all=True, append_images=FRAMES[1:]),
    "jpeg": lambda: encoded(".jpg", PICTURE),
    "jpeg progressive": lambda: encoded(".jpg", PICTURE, cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
    "jpeg grey": lambda: encoded(".jpg", PICTURE[..., 0]),
    "gif": lambda: encoded(".gif", PICTURE),
    "gif animated, transparent": lambda: pil_encoded(FRAMES[0], "GIF", save_all=True, append_images=FRAMES[1:],
                                                     transparency=0),
    "webp lossy": lambda: encoded(".webp", PICTURE),
    "webp lossless": lambda: encoded(".webp", PICTURE, cv2.IMWRITE_WEBP_QUALITY, 101),
    "webp with alpha": lambda: encoded(".webp", BGRA, cv2.IMWRITE_WEBP_QUALITY, 101),
    "webp animated": lambda: pil_encoded(FRAMES[0], "WEBP", save_all=True, append_images=FRAMES[1:]),
    "bmp": lambda: encoded(".bmp", PICTURE),
    "bmp grey": lambda: encoded(".bmp", PICTURE[..., 0]),
    "tiff": lambda: encoded(".tif", PICTURE),
    "tiff 16-bit with alpha": lambda: encoded(".tif", BGRA.astype(np.uint16) * 257),
    "tiff big-endian (bomb builder)": lambda: tiff_bomb(37, 23, little_endian=False),
    "bigtiff": lambda: pil_encoded(Image.fromarray(PICTURE), "TIFF", big_tiff=True),
    "ppm": lambda: encoded(".ppm", PICTURE),
    "pgm": lambda: encoded(".pgm", PICTURE[..., 0]),
    "pbm": lambda: encoded(".pbm", PICTURE[..., 0]),
    "ppm 16-bit": lambda: encoded(".ppm", PICTURE.astype(np.uint16) * 257),
    "pfm": lambda: encoded(".pfm", PICTURE.astype(np.float32) / 255),
    "sun raster": lambda: encoded(".ras", PICTURE),
    "hdr": lambda: encoded(".hdr", PICTURE.astype(np.float32) / 255),
    "jpeg 2000": lambda: encoded(".jp2", LARGER),
}


@pytest.mark.parametrize("name", list(FILES))
def test_header_size_is_the_decoded_size(name):
    data = FILES[name]()
    header = read_header(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None, name
    assert (header.width, header.height) == (decoded.shape[1], decoded.shape[0]), header
    if decoded.ndim == 3 and decoded.shape[2] == 4:
        assert header.alpha, "a picture with alpha must be decoded with it"
    assert 0 < header.decode_bytes <= 40 * header.pixels


def test_jpeg2000_codestream_without_its_box_is_read():
    jp2 = FILES["jpeg 2000"]()
    codestream = jp2[jp2.index(b"\xff\x4f\xff\x51"):]
    assert cv2.imdecode(np.frombuffer(codestream, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (46, 74)
    assert (read_header(codestream).width, read_header(codestream).height) == (74, 46)


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.4\n" + bytes(100), bytes(1000), b"\x00\x00\x01\x00" + bytes(50)],
                         ids=["empty", "text", "pdf", "zeros", "ico"])
def test_unknown_formats_have_no_header(data):
    assert read_header(data) is None


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(4), b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(6),
                                  b"GIF89a\x01", b"II*\x00\xff\xff\x00\x00", b"RIFF\x10\x00\x00\x00WEBPVP8 ",
                                  b"P6\n# no size\n", b"#?RADIANCE\nno resolution line"],
                         ids=["png", "jpeg-without-frame", "gif", "tiff-ifd-outside", "webp", "ppm", "hdr"])
def test_cut_off_headers_are_errors_not_guesses(data):
    with pytest.raises(HeaderError):
        read_header(data)


# -- bombs are refused before decoding -------------------------------------------------------------

def small(ext: str) -> bytearray:
    return bytearray(encoded(ext, PICTURE))


def jpeg_declaring(width: int, height: int) -> bytes:
    data = small(".jpg")
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    data = small(".bmp")
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def jp2_declaring(width: int, height: int) -> bytes:
    data = bytearray(encoded(".jp2", LARGER))
    at = data.index(b"\xff\x4f\xff\x51")
    data[at + 8:at + 16] = struct.pack(">II", width, height)
    return bytes(data)


def apng_declaring(width: int, height: int) -> bytes:
    data = small(".png")
    at = data.index(b"IDAT") - 4
    frame = struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 1, 0, 0)
    return bytes(data[:at]) + chunk(b"acTL", struct.pack(">II", 1, 0)) + chunk(b"fcTL", frame) + bytes(data[at:])


def webp_canvas(width: int, height: int) -> bytes:
    inner = webp_bomb(37, 23)[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little") \
        + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + inner
    return b"RIFF" + struct.pack("<I", len(body)) + body


def bigtiff_declaring(width: int, height: int) -> bytes:
    entries = struct.pack("<HHQQ", 256, 16, 1, width) + struct.pack("<HHQQ", 257, 16, 1, height)
    return b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + struct.pack("<Q", 2) + entries + bytes(8) + bytes(64)


def gif_frame_beyond_screen() -> bytes:
    data = bytearray(gif_bomb(16000, 16000))
    data[6:10] = struct.pack("<HH", 10, 10)  # a 10 x 10 screen; the frame still declares 16000 x 16000
    return bytes(data)


BOMBS = {
    "gif 16000x16000 (185 KB)": (gif_bomb, "16000x16000"),
    "gif frame larger than its screen": (gif_frame_beyond_screen, "16000x16000"),
    "webp lossless 16383x16383": (webp_bomb, "16383x16383"),
    "webp extended canvas": (lambda: webp_canvas(16384, 16384), "16384x16384"),
    "tiff 13000x13000 little-endian": (tiff_bomb, "13000x13000"),
    "tiff 13000x13000 big-endian": (lambda: tiff_bomb(little_endian=False), "13000x13000"),
    "tiff 100x100 of 4096 samples": (lambda: tiff_bomb(100, 100, samples=4096), "100x100"),
    "bigtiff": (lambda: bigtiff_declaring(30000, 30000), "30000x30000"),
    "png 20000x20000": (png_bomb, "20000x20000"),
    "apng frame": (lambda: apng_declaring(16000, 16000), "16000x16000"),
    "jpeg": (lambda: jpeg_declaring(20000, 20000), "20000x20000"),
    "bmp": (lambda: bmp_declaring(30000, -30000), "30000x30000"),
    "ppm": (lambda: b"P6\n# a comment\n30000 30000\n255\n" + bytes(100), "30000x30000"),
    "pam": (lambda: b"P7\nWIDTH 30000\nHEIGHT 30000\nDEPTH 4\nMAXVAL 255\nENDHDR\n" + bytes(100), "30000x30000"),
    "pfm": (lambda: b"PF\n3000 3000\n-1.0\n" + bytes(100), "3000x3000"),
    "hdr": (lambda: b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 3000 +X 4000\n" + bytes(100), "4000x3000"),
    "sun raster": (lambda: struct.pack(">8I", 0x59A66A95, 30000, 30000, 24, 0, 1, 0, 0) + bytes(100), "30000x30000"),
    "jpeg 2000": (lambda: jp2_declaring(30000, 30000), "30000x30000"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_is_refused_from_its_header(client, monkeypatch, name):
    build, size = BOMBS[name]
    data = build()
    assert len(data) < 2 * 1024 * 1024

    def must_not_decode(*args, **kwargs):
        raise AssertionError("decoded a picture over the limits")

    monkeypatch.setattr(cv2, "imdecode", must_not_decode)
    answer = post(client, data)
    assert answer.status_code == 413, answer.json
    assert f"the picture is {size} pixels" in answer.json["error"] and "megapixels" in answer.json["error"]


def test_avif_is_refused_its_real_size_is_only_known_when_decoded(client):
    avif = encoded(".avif", PICTURE)
    answer = post(client, avif)
    assert answer.status_code == 400
    assert "AVIF" in answer.json["error"] and "PNG, JPEG" in answer.json["error"]


def test_limits_hold_on_the_largest_accepted_pictures():
    # a colour photo at the pixel limit fits the memory budget; formats taking more per pixel get fewer
    assert read_header(encoded(".jpg", page(64, 48))).bytes_per_pixel * MAX_PIXELS <= DECODE_BUDGET
    rgba16 = read_header(encoded(".png", page(64, 48, 4).astype(np.uint16) * 257))
    assert rgba16.bytes_per_pixel * MAX_PIXELS > DECODE_BUDGET


def test_pictures_are_decoded_one_at_a_time(monkeypatch, client):
    # a decoded picture can take 130 MB: concurrent requests must take turns (the same lock as reading)
    inside, overlaps, real = [0], [0], cv2.imdecode

    def slow_decode(buffer, flags):
        inside[0] += 1
        overlaps[0] += inside[0] > 1
        time.sleep(0.05)
        inside[0] -= 1
        return real(buffer, flags)

    monkeypatch.setattr(cv2, "imdecode", slow_decode)
    data = encoded(".png", page(320, 240))
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(post(client, data).status_code)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 4 and overlaps[0] == 0


def test_transparent_16_bit_picture_is_put_on_white(client):
    ink = np.zeros((200, 200, 4), np.uint16)
    cv2.line(ink, (100, 30), (100, 170), (0, 0, 0, 65535), 14)  # a black "1" on a transparent background
    answer = post(client, encoded(".png", ink))
    assert answer.status_code == 200, answer.json
    assert answer.json["text"] == "1"


# -- the real server's memory ----------------------------------------------------------------------

def test_server_peak_memory_stays_under_300_mb():
    largest_photo = encoded(".jpg", page(5472, 3648), cv2.IMWRITE_JPEG_QUALITY, 90)  # 19.96 MP
    largest_drawing = encoded(".png", page(4800, 3150, 4))  # 15.1 MP with alpha: the PNG-with-alpha limit
    with served("--threads", "4") as (process, port):
        started = peak_memory_mb(process.pid)
        for data in (gif_bomb(), webp_bomb(), png_bomb()):
            status, answer, _ = upload(port, data)
            assert status == 413 and "pixels" in answer["error"], answer
        answers = []
        tiffs = [threading.Thread(target=lambda i=i: answers.append(upload(port, tiff_bomb(little_endian=i != 1))))
                 for i in range(3)]
        for thread in tiffs:
            thread.start()
        for thread in tiffs:
            thread.join()
        assert [status for status, _, _ in answers] == [413] * 3, answers
        after_bombs = peak_memory_mb(process.pid)
        for data in (largest_photo, largest_drawing):
            status, answer, _ = upload(port, data)
            assert status == 200 and len(answer["digits"]) >= 10, answer if status != 200 else answer["text"]
        peak = peak_memory_mb(process.pid)
    print(f"server peak memory: started {started:.0f} MB, after the bombs {after_bombs:.0f} MB, "
          f"after the largest pictures {peak:.0f} MB")
    assert after_bombs < started + 30, (started, after_bombs)
    assert peak < PEAK_MB, (started, after_bombs, peak)
