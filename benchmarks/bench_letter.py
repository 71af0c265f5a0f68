"""Time a decision letter PDF against WeasyPrint's bare ``render()`` of the same HTML.

Trains the LightGBM credit model of ``tests/test_letter.py`` on 2,000 generated
loans (seeded; not timed), makes one declined decision with LightGBM's own
attributions as the principal reasons and a counterfactual search, then, p50 of
N rounds, the contenders run in turn within each round (fair under a
drifting load on a shared machine), wall and CPU time:

* ``render_letter_pdf(decision, model)`` -- the whole letter: view, HTML,
  layout with the data:-only fetcher, ``write_pdf`` (font subsetting, and the
  tags for screen readers), and the same untagged (``tagged=False``);
* WeasyPrint's bare ``HTML(string=html).render()`` of the same HTML (the
  baseline of issue 6) and ``render().write_pdf()``, with govkit's changes to
  WeasyPrint's drawing switched off (WeasyPrint as it comes);
* the same HTML through the cards' child process (``html_to_pdf``), to show what
  a process per letter would cost (mean of 3);
* a letter with every input at its size limit (the worst case the in-process
  layout can be asked for).

Target (issue 6, benchmark 3): letter PDF p50 <= 2x the bare render() p50.

    .venv/bin/python benchmarks/bench_letter.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_letter import make_decision, model_record, train_credit_model  # noqa: E402

from govkit.decisions import Decision, Reason  # noqa: E402
from govkit.records import ModelVersionRecord  # noqa: E402
from govkit.report import html_to_pdf, render_letter_html, render_letter_pdf  # noqa: E402
from govkit.report._letter import (  # noqa: E402
    MAX_LETTER_CHARS,
    MAX_PROSE_CHARS,
    MAX_REASONS,
    MAX_SHORT_CHARS,
)
from govkit.report._weasy import weasyprint_as_it_comes  # noqa: E402

TARGET_RATIO = 2.0


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, float]]:
    """p50 wall and CPU seconds of each function, run in turn within every round.

    On a shared machine the load drifts; running the contenders round-robin gives
    each the same conditions, so the ratio is fair even when the absolute times move.
    """
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def at_the_limits(
    decision: Decision, model: ModelVersionRecord
) -> tuple[Decision, ModelVersionRecord]:
    """Every printed field long, as many reasons as allowed, just under the total limit."""
    words = "lorem ipsum dolor sit amet consectetur " * 200
    short = words[: MAX_SHORT_CHARS - 1]
    # six paragraphs share what the reasons and the rest of the letter leave of the total
    room = (MAX_LETTER_CHARS - MAX_REASONS * MAX_SHORT_CHARS - 2 * MAX_SHORT_CHARS) // 6
    prose = words[: min(MAX_PROSE_CHARS, room)]
    spec = model.metadata.decision
    assert spec is not None
    spec = spec.model_copy(
        update={
            k: prose
            for k in (
                "score_meaning",
                "significance",
                "consequences",
                "how_to_contest",
                "human_review",
            )
        }
    )
    meta = model.metadata.model_copy(
        update={"decision": spec, "description": prose, "contact": short}
    )
    base = decision.explanation.reasons[0]
    reasons = tuple(
        Reason.model_validate(base.model_dump() | {"rank": i + 1, "text": short})
        for i in range(MAX_REASONS)
    )
    ex = decision.explanation.model_copy(update={"reasons": reasons})
    return decision.model_copy(update={"explanation": ex}), model.model_copy(
        update={"metadata": meta}
    )


def stock(call: Callable[[], object]) -> Callable[[], object]:
    """``call`` on WeasyPrint as it comes: govkit's changes to it (SVG labels as one run,
    text layouts kept for drawing, ...) switched off while it runs."""

    def run() -> object:
        with weasyprint_as_it_comes():
            return call()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args()
    import weasyprint

    start = time.perf_counter()
    decision = make_decision(train_credit_model())
    model = model_record()
    print(
        f"setup (train LightGBM on 2,000 loans, explain one; not timed): "
        f"{time.perf_counter() - start:.2f} s; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    w = time.perf_counter()
    first = render_letter_pdf(decision, model)
    first_s = time.perf_counter() - w
    html = render_letter_html(decision, model)

    n = args.repeats
    t = interleaved(
        {
            "bare": stock(lambda: weasyprint.HTML(string=html).render()),
            "bare_pdf": stock(lambda: weasyprint.HTML(string=html).render().write_pdf()),
            "html": lambda: render_letter_html(decision, model),
            "ours": lambda: render_letter_pdf(decision, model),
            "untagged": lambda: render_letter_pdf(decision, model, tagged=False),
        },
        n,
    )
    assert render_letter_pdf(decision, model) == first
    w = time.perf_counter()
    for _ in range(3):
        html_to_pdf(html)
    child_s = (time.perf_counter() - w) / 3

    big_decision, big_model = at_the_limits(decision, model)
    big_html = render_letter_html(big_decision, big_model)
    big = interleaved(
        {
            "bare": stock(lambda: weasyprint.HTML(string=big_html).render()),
            "ours": lambda: render_letter_pdf(big_decision, big_model),
        },
        3,
    )
    big_pages = len(weasyprint.HTML(string=big_html).render().pages)
    big_pdf = render_letter_pdf(big_decision, big_model)

    bare_s, bare_cpu = t["bare"]
    print(f"letter: HTML {len(html.encode()):,} bytes, PDF {len(first):,} bytes")
    print(f"{f'p50 of {n} interleaved rounds':<46}{'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6}")
    for label, key in (
        ("WeasyPrint bare HTML(string=html).render()", "bare"),
        ("WeasyPrint bare render() + write_pdf()", "bare_pdf"),
        ("govkit render_letter_html", "html"),
        ("govkit render_letter_pdf (in process, tagged)", "ours"),
        ("govkit render_letter_pdf, tagged=False", "untagged"),
    ):
        wall, cpu = t[key]
        print(f"{label:<46}{wall:8.4f} {wall / bare_s:5.2f}x {cpu:8.4f} {cpu / bare_cpu:5.2f}x")
    print(
        f"{'same HTML in a child process (html_to_pdf)':<46}{child_s:8.4f} {child_s / bare_s:5.2f}x"
    )
    print(f"first letter in this process (imports included): {first_s:.3f} s")
    print(
        f"letter at every size limit ({MAX_LETTER_CHARS:,} chars in all at most; "
        f"{big_pages} pages, PDF {len(big_pdf):,} bytes): {big['ours'][0]:.3f} s p50 "
        f"(bare render() {big['bare'][0]:.3f} s, {big['ours'][0] / big['bare'][0]:.2f}x)"
    )
    ratio, ratio_cpu = t["ours"][0] / bare_s, t["ours"][1] / bare_cpu
    print(
        f"ratio letter PDF / bare render(): {ratio:.2f} wall, {ratio_cpu:.2f} CPU "
        f"(target <= {TARGET_RATIO:.1f}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}; "
        f"load average {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
