"""The real web server for the reliability tests: ``livedigits serve`` in a process of its own, and a
plain HTTP client for it (http.client: no proxy from the environment gets in the way)."""
import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def served(*options: str, startup_s: float = 90.0):
    """Starts ``livedigits serve --port 0 OPTIONS`` and yields (process, port); its stderr goes to a
    file (a pipe nobody reads could fill up and stop the server), read back as ``process.log()``."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([sys.executable, "-m", "livedigits", "serve", "--port", "0", *options],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})

        def read_log() -> str:
            log.seek(0)
            return log.read()

        process.log = read_log
        try:
            deadline = time.monotonic() + startup_s
            while not (match := re.search(r"serving on http://\S+:(\d+)/", read_log())):
                assert process.poll() is None, f"the server exited: {read_log()}"
                assert time.monotonic() < deadline, f"the server did not start: {read_log()}"
                time.sleep(0.1)
            yield process, int(match.group(1))
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def multipart(fields: dict[str, tuple[str, bytes] | str]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type; a tuple value is a file (name, bytes)."""
    boundary = "livedigits-test-boundary"
    body = b""
    for name, value in fields.items():
        if isinstance(value, tuple):
            head = f'Content-Disposition: form-data; name="{name}"; filename="{value[0]}"\r\n' \
                   "Content-Type: application/octet-stream"
            data = value[1]
        else:
            head, data = f'Content-Disposition: form-data; name="{name}"', value.encode()
        body += f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            timeout: float = 120.0) -> tuple[int, dict | str, dict]:
    """(status, the JSON answer (or the text when it is not JSON), the response headers)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    try:
        return response.status, json.loads(text), answer_headers
    except ValueError:
        return response.status, text, answer_headers


def upload(port: int, data: bytes, name: str = "picture.png", path: str = "/api/recognize",
           headers: dict | None = None) -> tuple[int, dict | str, dict]:
    body, kind = multipart({"image": (name, data)})
    return request(port, "POST", path, body, {"Content-Type": kind, **(headers or {})})
