"""Load: N concurrent users asking questions through the app's API (`/vraag`) for a fixed time.

    .venv/bin/kb ingest && .venv/bin/python bench/load.py [--users 20] [--duration 60] [--json]

Without --url it starts `kb serve` on a free port on 127.0.0.1 over --index-dir (default
indexes/) and stops it afterwards; with --url it loads a running app (loopback only). Each user
asks the development-set questions in turn, one at a time, over plain HTTP as Gradio documents
it (POST /gradio_api/call/vraag, then read the event stream); --login NAME:PASSWORD logs each
user in first. An error is any failed request, an error event or an answer without its fields.
Prints requests, errors, throughput and latency (p50/p95/p99/max); --json for scripts.
Bounded: at most --users threads, for --duration seconds, plus at most --timeout for the last
requests.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).parent.parent
QUESTIONS = ROOT / "tests" / "data" / "dev_questions.jsonl"
NO_FILTERS = ["", "", None, None, []]  # /vraag's other inputs: programme line, type, years, earlier questions


def start_server(index_dir: str | None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(Path(sys.executable).parent / "kb"), *(["--index-dir", index_dir] if index_dir else []),
               "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(480):
        try:
            urllib.request.urlopen(url, timeout=2)
            return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.kill()
    sys.exit("kb serve did not start (is the index built? run `kb ingest`)")


def session(url: str, login: str | None) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    if login:
        name, _, password = login.partition(":")
        opener.open(url + "login", data=urllib.parse.urlencode({"username": name, "password": password}).encode())
    return opener


def ask(opener, url: str, question: str, timeout: float) -> dict:
    """One /vraag call as Gradio's HTTP API does it: submit, then read the event stream to its end."""
    request = urllib.request.Request(url + "gradio_api/call/vraag", data=json.dumps({"data": [question, *NO_FILTERS]}).encode(),
                                     headers={"Content-Type": "application/json"})
    event_id = json.load(opener.open(request, timeout=timeout))["event_id"]
    event = None
    with opener.open(f"{url}gradio_api/call/vraag/{event_id}", timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode("utf-8").strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = line.split(":", 1)[1].strip()
                if event == "error":
                    raise RuntimeError(f"error event: {data}")
                result = json.loads(data)[0]
                if not isinstance(result, dict) or "answer" not in result or "citations" not in result:
                    raise RuntimeError(f"unexpected result: {data[:200]}")
                return result
    raise RuntimeError(f"stream ended without a result (last event {event})")


def run(url: str, users: int, duration: float, questions: list[str], login: str | None = None,
        timeout: float = 60.0) -> dict:
    """Run the load; the figures as a dict (latencies in seconds)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + duration

    def user(n: int) -> None:
        try:
            opener = session(url, login)
        except OSError as exc:
            with lock:
                errors.append(f"login: {exc}")
            return
        i = n  # users start at different questions
        while time.monotonic() < deadline:
            question = questions[i % len(questions)]
            i += users
            t0 = time.perf_counter()
            try:
                ask(opener, url, question, timeout)
            except Exception as exc:  # every failure counts, whatever its kind
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + timeout + 30)
    elapsed = time.monotonic() - start
    latencies.sort()
    return {"users": users, "duration_s": round(elapsed, 1), "requests": len(latencies) + len(errors),
            "answered": len(latencies), "errors": len(errors), "error_examples": sorted(set(errors))[:5],
            "throughput_per_s": round(len(latencies) / elapsed, 2), "p50_s": _pct(latencies, 50),
            "p95_s": _pct(latencies, 95), "p99_s": _pct(latencies, 99),
            "max_s": round(latencies[-1], 3) if latencies else None}


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app on this machine; default: start `kb serve`")
    parser.add_argument("--index-dir", help="index for the app this script starts (default indexes/)")
    parser.add_argument("--users", type=int, default=20, help="concurrent users (default 20)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--login", help="NAME:PASSWORD, when the app asks for a login")
    parser.add_argument("--timeout", type=float, default=60, help="seconds one request may take (default 60)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.url and urllib.parse.urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("--url must be on this machine (127.0.0.1/localhost): a load test is not aimed at others' servers")
    if not 1 <= args.users <= 200 or not 0 < args.duration <= 3600:
        sys.exit("--users must be 1..200 and --duration 0..3600 seconds")
    questions = [json.loads(l)["question"] for l in QUESTIONS.read_text(encoding="utf-8").splitlines() if l.strip()]
    process, url = (None, args.url.rstrip("/") + "/") if args.url else start_server(args.index_dir)
    try:
        try:
            ask(session(url, args.login), url, questions[0], args.timeout)  # warm-up, not counted
        except (OSError, RuntimeError) as exc:
            sys.exit(f"the app at {url} did not answer ({exc}); does it need --login NAME:PASSWORD?")
        figures = run(url, args.users, args.duration, questions, args.login, args.timeout)
    finally:
        if process:
            process.terminate()
            process.wait(timeout=30)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        print(f"{figures['users']} users, {figures['duration_s']} s: {figures['requests']} requests, "
              f"{figures['errors']} errors, {figures['throughput_per_s']} answers/s; latency p50 {figures['p50_s']} s, "
              f"p95 {figures['p95_s']} s, p99 {figures['p99_s']} s, max {figures['max_s']} s")
        for example in figures["error_examples"]:
            print(f"  error: {example}")
    sys.exit(1 if figures["errors"] else 0)


if __name__ == "__main__":
    main()
