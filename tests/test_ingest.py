"""Ingest as a batch job: killed halfway it ends, after a re-run, with the index of an uninterrupted run;
the embedding cache spares the encoder; a lost BM25 table is rebuilt from Chroma without embedding."""
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snapshot import snapshot

ROOT = Path(__file__).parent.parent
SMALL = ["000_375d85d319f8f12f.txt", "002_8f95820d40ecf688.txt", "004_a924b13050f0aa6d.txt"]
KB = str(Path(sys.executable).parent / "kb")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small") / "corpus"
    folder.mkdir()
    for name in [*SMALL, "manifest.toml"]:
        shutil.copy(ROOT / "corpus" / name, folder / name)
    return folder


def ingest(index: Path, corpus: Path) -> dict:
    out = subprocess.run([KB, "--index-dir", str(index), "ingest", str(corpus), "--json"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    index = tmp_path_factory.mktemp("reference") / "indexes"
    start = time.monotonic()
    summary = ingest(index, corpus)
    assert summary["chunks_embedded"] == summary["chunks_written"] > 0
    return index, snapshot(index), time.monotonic() - start


# Kill points as shares of an uninterrupted run on this machine: while embedding, while writing, near the end.
@pytest.mark.parametrize("share", [0.6, 0.8, 0.95])
def test_a_killed_ingest_ends_like_an_uninterrupted_one(corpus, reference, tmp_path, share):
    index = tmp_path / "indexes"
    process = subprocess.Popen([KB, "--index-dir", str(index), "ingest", str(corpus)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(share * reference[2])
    process.send_signal(signal.SIGKILL)
    process.wait()
    ingest(index, corpus)
    assert snapshot(index) == reference[1]
    assert ingest(index, corpus)["chunks_written"] == 0  # and it stays done


def test_a_rebuild_takes_every_vector_from_the_cache(corpus, reference, tmp_path):
    index = tmp_path / "indexes"
    shutil.copytree(reference[0], index)
    out = subprocess.run([KB, "--index-dir", str(index), "ingest", str(corpus), "--rebuild", "--json"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["chunks_embedded"] == 0 and summary["chunks_written"] == len(reference[1])
    assert snapshot(index) == reference[1]


def test_a_lost_bm25_table_is_rebuilt_from_chroma(corpus, reference, tmp_path):
    index = tmp_path / "indexes"
    shutil.copytree(reference[0], index)
    (index / "bm25" / "index.npz").unlink()
    (index / "embeddings.sqlite").unlink()  # the encoder would be needed if anything were re-embedded
    summary = ingest(index, corpus)
    assert summary["chunks_embedded"] == 0 and len(summary["unchanged"]) == len(SMALL)
    assert snapshot(index) == reference[1]
