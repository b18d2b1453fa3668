"""Time from pressing Enter to a complete answer in the chat, in headless Chromium, on a running app.

    .venv/bin/kb ingest && .venv/bin/python bench/ui_latency.py [--questions 30] [--url http://127.0.0.1:7860/]

Without --url it starts `kb serve` on a free port over indexes/ and stops it afterwards. The first
question warms the app up and is not counted. Prints median, p95 and the range; --json for scripts.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from load import start_server  # bench/load.py: kb serve on a free port, once it answers
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def measure(url: str, questions: list[str]) -> list[float]:
    seconds = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#kb-filter-type")
        box = "#kb-question textarea"
        for turn, question in enumerate(questions, 1):
            page.click("#kb-clear")  # every question starts a new conversation: no follow-up rewriting
            page.wait_for_function("() => document.querySelectorAll('#kb-chat .bot-row').length === 0")
            page.fill(box, question)
            start = time.perf_counter()
            page.press(box, "Enter")
            page.wait_for_function("() => document.querySelectorAll('#kb-chat .bot-row').length === 1 "
                                   "&& !document.querySelector('#kb-question textarea').value", polling="raf")
            seconds.append(time.perf_counter() - start)
        browser.close()
    return seconds[1:]  # the first call warms up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app; default: start `kb serve` over indexes/")
    parser.add_argument("--questions", type=int, default=30, help="how many dev-set questions (default 30)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    lines = (ROOT / "tests/data/dev_questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(l)["question"] for l in lines if l.strip()][: args.questions + 1]
    process, url = (None, args.url) if args.url else start_server(None)
    try:
        seconds = sorted(measure(url, questions))
    finally:
        if process:
            process.terminate()
    figures = {"questions": len(seconds), "median_s": round(statistics.median(seconds), 3),
               "p95_s": round(seconds[max(0, round(0.95 * len(seconds)) - 1)], 3),
               "min_s": round(seconds[0], 3), "max_s": round(seconds[-1], 3)}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"Enter -> complete answer, {figures['questions']} questions: median {figures['median_s']:.3f} s, "
              f"p95 {figures['p95_s']:.3f} s, range {figures['min_s']:.3f}-{figures['max_s']:.3f} s")


if __name__ == "__main__":
    main()
