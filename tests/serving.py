"""`kb serve` as its own process on a free 127.0.0.1 port, for the tests that talk to the app over HTTP."""
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
KB = str(Path(sys.executable).parent / "kb")


def start(index_dir: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """(process, url) once the app answers; a login page (an HTTP error for /config) counts as up."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([KB, "--index-dir", str(index_dir), "serve", "--port", str(port), *map(str, args)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url + "config", timeout=2)
            return process, url
        except urllib.error.HTTPError:
            return process, url  # up, and asking for a login
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail(f"kb serve did not start: {process.stdout.read()}")
            time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a client connection still open keeps uvicorn waiting
        process.kill()
        process.wait()


@contextmanager
def serving(index_dir: Path, *args: str, env: dict | None = None):
    """The app's URL while it runs; stopped afterwards."""
    process, url = start(index_dir, *args, env=env)
    try:
        yield url
    finally:
        stop(process)
