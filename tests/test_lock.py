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
