"""A real S3 endpoint on 127.0.0.1 for the tests and the benchmark: moto's server in its own
process, and a TCP proxy in front of it that can cut the network in the middle of a request.

Stdlib only at import time (tests/conftest.py imports this module for its fixtures).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

# Fake credentials: moto accepts any. Tests grep outputs for them to prove none leak.
FAKE_KEY_ID = "AKIAFAKEKEYID7Q2LEAK"
FAKE_SECRET = "fakeSecretKey/DoNotLeak+9vX2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class MotoServer:
    """`moto_server` as a separate process (its memory is not the client's), restartable on the
    same port. Its state lives in memory: a restart starts from an empty server."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "MotoServer":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as in a crash or a power cut."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class CutProxy:
    """Forwards 127.0.0.1:port to an upstream server until `cut()`: then every connection is
    reset and the port refuses new ones, while the upstream server keeps its state. `cut_on`
    cuts automatically as soon as the client sends those bytes (e.g. b"partNumber=2"), after
    calling `on_cut` (e.g. to kill the server too). `corrupt` ("upload" or "download") flips one
    byte in the middle of the first large packet going that way, as a bad link would. The first
    `throttle` connections get `503 SlowDown`, as S3 answers a client that goes too fast."""

    def __init__(self, upstream_port: int, cut_on: bytes | None = None, port: int | None = None,
                 on_cut=None, corrupt: str | None = None, throttle: int = 0):
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cut_on, self.on_cut, self.corrupt = cut_on, on_cut, corrupt
        self.corrupted = threading.Event()
        self.throttle, self.throttled = throttle, 0
        self.was_cut = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self, cut_on: bytes | None = None) -> "CutProxy":
        self.cut_on = cut_on
        self.was_cut.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        self.was_cut.set()
        if self.on_cut:
            self.on_cut()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
            listener, self._listener = self._listener, None
        for sock in sockets + ([listener] if listener else []):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            if self.throttled < self.throttle:
                self.throttled += 1
                threading.Thread(target=self._slow_down, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()  # upstream is down: the client sees a dropped connection
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close(), upstream.close()
                    return
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    @staticmethod
    def _slow_down(client: socket.socket) -> None:
        with client:
            request = b""
            while b"\r\n\r\n" not in request and (data := client.recv(65536)):
                request += data
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            client.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        tail = b""
        try:
            while data := source.recv(65536):
                if from_client and self.cut_on and self.cut_on in tail + data:
                    self.cut()
                    return
                tail = data[-len(self.cut_on or b""):]
                direction = "upload" if from_client else "download"
                if self.corrupt == direction and len(data) >= 32768 and not self.corrupted.is_set():
                    self.corrupted.set()
                    middle = len(data) // 2
                    data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET)


def new_bucket(endpoint: str) -> str:
    name = f"ct-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_environment(endpoint: str) -> dict[str, str]:
    """boto3's own chain pointed at the test server: no profile files, fast retries."""
    return {
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "2",  # botocore's retries stay on; two attempts keep outages short
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="session")
def moto_server():
    """One moto server process for the whole session (tests use a fresh bucket each)."""
    server = MotoServer().start()
    yield server
    server.kill()


@pytest.fixture
def s3_env(moto_server, monkeypatch):
    """The environment boto3 reads, pointing at the session's server; yields a fresh bucket."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_environment(moto_server.endpoint).items():
        monkeypatch.setenv(name, value)
    return new_bucket(moto_server.endpoint)
