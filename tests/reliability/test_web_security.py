"""Other web sites may not use the local server (issue 14, item 2): a request for another host name (DNS
rebinding: a site's own name made to resolve to this computer) and a POST from another site's page are
refused with 403 and a JSON error; the server's own page, curl and scripts are answered."""
import io

import cv2
import numpy as np
import pytest

from livedigits import Recognizer
from livedigits.app.web import HostPolicy, create_app, split_host

from .web_server import request, served, upload


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


@pytest.fixture(scope="module")
def client(recognizer):
    return create_app(recognizer).test_client()  # as `serve` binds by default: 127.0.0.1


def seven() -> bytes:
    image = np.full((200, 200, 3), 255, np.uint8)
    cv2.polylines(image, [np.array([(60, 50), (140, 50), (90, 160)], np.int32)], False, (0, 0, 0), 12)
    return cv2.imencode(".png", image)[1].tobytes()


def post(client, headers: dict | None = None):
    return client.post("/api/recognize", data={"image": (io.BytesIO(seven()), "seven.png")},
                       content_type="multipart/form-data", headers=headers or {})


def assert_refused(answer, *words):
    assert answer.status_code == 403, answer.data[:200]
    assert answer.is_json
    assert all(word in answer.json["error"] for word in words), answer.json


# -- Host ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example",
                                  "localhost.evil.example:5000", "192.168.1.20:5000", "[::2]:5000"])
@pytest.mark.parametrize("path", ["/", "/api/health", "/static/app.js"])
def test_foreign_host_is_refused(client, host, path):
    assert_refused(client.get(path, headers={"Host": host}), "host name", "--allow-host")


def test_foreign_host_cannot_post_either(client):
    assert_refused(post(client, {"Host": "evil.example:5000"}), "host name")


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "LocalHost:5000", "127.0.0.1:5000", "[::1]:5000",
                                  "localhost.:5000"])
def test_loopback_names_are_answered(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("bound, allowed, answered, refused", [
    ("127.0.0.1", [], ["localhost", "127.0.0.1", "::1"], ["evil.example", "10.0.0.1", "0.0.0.0"]),
    ("localhost", [], ["localhost", "127.0.0.1", "::1"], ["evil.example"]),
    ("::1", [], ["localhost", "::1"], ["evil.example"]),
    ("192.168.1.5", [], ["192.168.1.5"], ["localhost", "192.168.1.6", "evil.example"]),
    ("0.0.0.0", [], ["localhost", "192.168.1.5", "10.1.2.3", "fe80::1"], ["evil.example", "printer.lan"]),
    ("::", [], ["127.0.0.1", "2001:db8::1"], ["evil.example"]),
    ("127.0.0.1", ["Digits.Example.", "proxy"], ["digits.example", "proxy", "localhost"], ["evil.example"]),
    ("127.0.0.1", ["*"], ["anything.example", "localhost"], []),
], ids=["loopback", "localhost", "ipv6-loopback", "one-address", "every-address", "every-ipv6",
        "allowed-names", "star"])
def test_host_policy(bound, allowed, answered, refused):
    policy = HostPolicy(bound, allowed)
    assert all(policy.allows(split_host(name)[0]) for name in answered)
    assert not any(policy.allows(split_host(name)[0]) for name in refused)


def test_every_address_answers_this_computers_name():
    import socket

    name = socket.gethostname()
    assert HostPolicy("0.0.0.0").allows(split_host(name)[0])
    assert HostPolicy("0.0.0.0").allows(split_host(name.split(".")[0] + ".local:5000")[0])
    assert not HostPolicy("127.0.0.1").allows(split_host(name + ".evil.example")[0])


@pytest.mark.parametrize("raw, parsed", [("example.org:5000", ("example.org", 5000)), ("[::1]:80", ("::1", 80)),
                                         ("[::1]", ("::1", None)), ("EXAMPLE.org.", ("example.org", None)),
                                         ("host:port", ("host", None)), ("::1", ("::1", None))])
def test_host_header_parsing(raw, parsed):
    assert split_host(raw) == parsed


# -- Origin ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example", "http://localhost:8080",
                                    "https://localhost", "null", "http://localhost.evil.example", "garbage",
                                    "http://[::1"])
def test_post_from_another_site_is_refused(client, origin):
    assert_refused(post(client, {"Origin": origin}), "may not send pictures")


def test_post_from_another_site_is_refused_on_the_one_digit_api_too(client):
    answer = client.post("/api/digit", data={"image": (io.BytesIO(seven()), "seven.png")},
                         headers={"Origin": "http://evil.example"})
    assert_refused(answer, "may not send pictures")


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://localhost"}, {"Origin": "http://localhost:80"},
                                     {"Host": "127.0.0.1:5000", "Origin": "http://127.0.0.1:5000"},
                                     {"Host": "[::1]:5000", "Origin": "http://[::1]:5000"}],
                         ids=["no-origin (curl)", "own-origin", "own-origin-with-port", "own-ip-origin", "ipv6"])
def test_post_from_the_servers_own_page_or_a_script_is_answered(client, headers):
    answer = post(client, headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["text"] == "7"


def test_allowed_host_may_post_from_its_own_pages(recognizer):
    client = create_app(recognizer, HostPolicy("127.0.0.1", ["digits.example"])).test_client()
    assert post(client, {"Host": "digits.example", "Origin": "https://digits.example"}).status_code == 200
    assert post(client, {"Origin": "https://digits.example"}).status_code == 200  # behind a proxy: Host differs
    assert_refused(post(client, {"Origin": "https://evil.example"}))


# -- the real server -------------------------------------------------------------------------------

def test_real_server_refuses_other_sites_and_answers_its_own():
    with served("--allow-host", "digits.example") as (_, port):
        own = f"127.0.0.1:{port}"
        assert request(port, "GET", "/", headers={"Host": own})[0] == 200
        assert request(port, "GET", "/api/health", headers={"Host": f"localhost:{port}"})[0] == 200
        assert request(port, "GET", "/api/health", headers={"Host": f"digits.example:{port}"})[0] == 200
        status, answer, _ = request(port, "GET", "/", headers={"Host": f"rebound.example:{port}"})
        assert status == 403 and "rebound.example" in answer["error"]
        status, answer, _ = upload(port, seven(), headers={"Origin": "http://evil.example"})
        assert status == 403 and "evil.example" in answer["error"]
        status, answer, _ = upload(port, seven(), headers={"Origin": f"http://{own}"})
        assert status == 200 and answer["text"] == "7"
        status, answer, _ = upload(port, seven())  # curl: no Origin
        assert status == 200 and answer["text"] == "7"
