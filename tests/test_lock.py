"""One writer per index: a second `kb ingest` stops at once with a clear message (kb.lock)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.config import Config
from kb.errors import IndexLocked
from kb.lock import write_lock
from serving import start, stop

ROOT = Path(__file__).parent.parent
HOLD = ("import sys, time; from kb.config import Config; from kb.lock import write_lock\n"
        "with write_lock(Config.load(index_dir=sys.argv[1]), 'kb ingest (test)'):\n"
        "    print('held', flush=True); time.sleep(60)\n")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the write lock of tmp_path/indexes: (Popen, config)."""
    index = tmp_path / "indexes"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(index)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == "held"
    yield process, Config.load(index_dir=index)
    process.kill()
    process.wait()


def test_a_second_ingest_stops_at_once_naming_the_lock_and_the_pid(holder, kb_main):
    process, config = holder
    import kb.api  # noqa: F401 - imported beforehand, so the time below is the command's own

    start = time.monotonic()
    code, out, err = kb_main("--index-dir", config.index_dir, "ingest", ROOT / "corpus" / "004_a924b13050f0aa6d.txt")
    assert code == 2 and time.monotonic() - start < 5  # before any model is loaded
    assert str(config.index_dir / ".write.lock") in err and f"proces {process.pid}" in err
    assert "wordt al bijgewerkt" in err and "Traceback" not in err
    assert not (config.index_dir / "chroma").exists()  # nothing was written


def test_the_lock_is_released_when_its_holder_dies(holder):
    process, config = holder
    with pytest.raises(IndexLocked):
        with write_lock(config):
            pass
    process.send_signal(signal.SIGKILL)
    process.wait()
    with write_lock(config) as path:  # the kernel dropped the flock; the file left behind is harmless
        assert path.read_text().split()[0] == str(os.getpid())
    assert path.read_text() == ""


def test_an_app_serving_an_embedded_index_refuses_a_writer_by_name(corpus_index, kb_main):
    """Embedded Chroma caches its index in the serving process, which would fail after another process
    wrote: `kb serve` holds a shared lock, and `kb ingest` stops at once naming it."""
    serve, _ = start(corpus_index.index_dir)
    try:
        code, _, err = kb_main("--index-dir", corpus_index.index_dir, "ingest", ROOT / "corpus")
        assert code == 2 and f"proces {serve.pid} (kb serve)" in err and "KB_CHROMA_URL" in err, err
    finally:
        stop(serve)
    from kb.lock import _readers

    assert _readers(corpus_index.index_dir / ".readers") == []  # a marker left by a killed app is not named
    assert not list((corpus_index.index_dir / ".readers").iterdir())  # and is cleared away
    with write_lock(corpus_index):  # and the writer may go ahead now
        pass


def test_a_reader_cannot_start_while_a_writer_holds_the_index(holder):
    process, config = holder
    from kb.lock import read_lock

    with pytest.raises(IndexLocked, match=f"proces {process.pid} \\(kb ingest \\(test\\)\\)"):
        with read_lock(config):
            pass


def test_the_holder_may_take_the_lock_again(tmp_path):
    config = Config.load(index_dir=tmp_path / "indexes")
    with write_lock(config) as path:
        with write_lock(config):  # e.g. a sync command that holds the lock and calls KnowledgeBase.ingest
            assert path.read_text().split()[0] == str(os.getpid())
        assert path.read_text()  # still held after the inner block
    assert path.read_text() == ""
