"""Offline settings for every test, and a guard that fails the run if anything reaches past this machine."""
import os
import sys

import pytest

for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                   "ANONYMIZED_TELEMETRY": "False"}.items():
    os.environ[key] = value

LOOPBACK = ("localhost", "127.0.0.1", "::1", "None")
_outbound: list[str] = []


def _audit(event, args):
    # Record every attempt, from any test in this process, to resolve or connect to another host.
    if event == "socket.connect" and len(args) > 1 and isinstance(args[1], tuple):
        host = str(args[1][0])
        if not (host.startswith("127.") or host in LOOPBACK):
            _outbound.append(host)
    if event == "socket.getaddrinfo" and args and str(args[0]) not in LOOPBACK:
        _outbound.append(str(args[0]))


sys.addaudithook(_audit)  # installed before any test module imports kb, chromadb or a model


@pytest.fixture
def outbound() -> list[str]:
    return _outbound


@pytest.fixture(scope="session", autouse=True)
def no_network_for_the_whole_run():
    yield
    assert _outbound == [], f"network access outside this machine: {sorted(set(_outbound))}"


@pytest.fixture
def kb_main(monkeypatch, capsys):
    """Run `kb ARGS...` as the console script does, error handling included: (exit code, stdout, stderr)."""
    from kb.cli import main

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["kb", *map(str, args)])
        with pytest.raises(SystemExit) as stop:
            main()
        out = capsys.readouterr()
        return stop.value.code, out.out, out.err

    return run


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory):
    """The shipped corpus, indexed once per test run with the real model and an embedded Chroma: its Config."""
    from pathlib import Path

    from kb.api import KnowledgeBase
    from kb.config import Config

    root = Path(__file__).parent.parent
    config = Config.load(index_dir=tmp_path_factory.mktemp("corpus-index") / "indexes", corpus_dir=root / "corpus")
    summary = KnowledgeBase(config).ingest([root / "corpus"], progress=False)
    assert len(summary.added) == 5 and not summary.failed, summary
    return config
