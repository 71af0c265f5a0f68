"""Card figures: drawn from evidence, deterministic, described in words, checked when embedded."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from adult_card import adult_card_inputs, synthetic_adult
from test_card import HOSTILE, make_inputs

from govkit.exceptions import RenderError
from govkit.report import render_card_html
from govkit.report._figures import checked_svg, label
from govkit.report._plots import fairness_figure
from govkit.report._view import lineage_graph
from govkit.results import Bound, CheckResult, GroupEvidence, GroupRow, Status

pytest.importorskip("matplotlib")

_IMG = re.compile(r'<img class="plot-img" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')


def _svgs(html: str) -> list[str]:
    return [base64.b64decode(b).decode("utf-8") for b in _IMG.findall(html)]


class _Figures(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str]] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self._caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.hrefs.append(a["href"][1:])
        if tag == "figure":
            self.figures.append({"id": a["id"], "caption": ""})
        if tag == "img" and self.figures:
            self.figures[-1]["alt"] = a.get("alt", "")
        if tag == "figcaption":
            self._caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._caption = False

    def handle_data(self, data: str) -> None:
        if self._caption:
            self.figures[-1]["caption"] += data


@pytest.fixture(scope="module")
def adult_html() -> str:
    inputs = adult_card_inputs(synthetic_adult())
    return render_card_html(inputs.model, **inputs.kwargs())


def test_adult_card_has_every_plot_numbered_with_alt_text(adult_html: str) -> None:
    parsed = _Figures()
    parsed.feed(adult_html)
    titles = [f["caption"] for f in parsed.figures]
    expected = [
        "Confusion matrix, ROC curve, calibration",
        "ROC and calibration by sex",
        "ROC and calibration by race",
        "demographic_parity_ratio by sex",
        "demographic_parity_ratio by race",
        "equalized_odds_difference by sex",
        "selection_rate by sex × race",
        "Feature importance",
        "Data lineage graph",
    ]
    assert len(titles) == len(expected)
    for n, (caption, title) in enumerate(zip(titles, expected, strict=True), start=1):
        assert caption.startswith(f"Figure {n}. {title}"), caption
    for f in parsed.figures:
        assert len(f["alt"]) > 40  # says what the plot shows, in words
    # the numbers behind the bars are in the alt text, not only in the picture
    fairness = parsed.figures[3]["alt"]
    assert re.search(r"Female 0\.\d+", fairness) and "Threshold line at 0.8 × highest" in fairness
    # every figure is listed in the contents, and every internal link has a target
    assert {f"figure-{n}" for n in range(1, 10)} <= set(parsed.hrefs)
    assert set(parsed.hrefs) <= set(parsed.ids)
    assert len(parsed.ids) == len(set(parsed.ids))


def test_rules_link_to_their_figures(adult_html: str) -> None:
    rules = adult_html[adult_html.index('<section id="policy-evaluation">') :]
    assert re.search(r'See <a class="figref" href="#figure-4">Figure 4</a>', rules)
    assert re.search(r'<a class="figref" href="#figure-1">Figure 1</a>', rules)


def test_plots_are_checked_svg_without_dates_or_external_references(adult_html: str) -> None:
    svgs = _svgs(adult_html)
    assert len(svgs) == 9
    for svg in svgs:
        checked_svg(svg)  # raises on anything but a self-contained drawing
        assert "<metadata" not in svg and "dc:date" not in svg and "<?xml" not in svg
        assert "<image" not in svg  # vector only, no embedded bitmaps
    # text stays text, in the card's font
    assert any("DejaVu Sans" in s and "<text" in s for s in svgs)


def test_plots_are_deterministic(adult_html: str) -> None:
    again = adult_card_inputs(synthetic_adult())
    assert render_card_html(again.model, **again.kwargs()) == adult_html


def test_card_stays_small_with_every_plot(adult_html: str) -> None:
    assert len(adult_html.encode()) < 2_000_000


def test_hostile_labels_are_text_inside_the_plots() -> None:
    hostile = make_inputs(HOSTILE)
    joined = "\n".join(_svgs(render_card_html(hostile.model, **hostile.kwargs())))
    assert joined and "<script" not in joined and "<img" not in joined
    assert "&lt;script&gt;" in joined  # escaped as XML text by matplotlib
    maths = make_inputs("$\\frac{1}{0}$ \x00\x07&")
    joined = "\n".join(_svgs(render_card_html(maths.model, **maths.kwargs())))
    assert "$\\frac{1}{0}$ &amp;" in joined  # printed, not parsed as mathtext
    assert "\x00" not in joined and "\x07" not in joined


@pytest.mark.parametrize(
    "svg,problem",
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "script"),
        ('<svg xmlns="http://www.w3.org/2000/svg" onload="x()"></svg>', "event handler"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            '<use xlink:href="file:///etc/passwd#x"/></svg>',
            "outside itself",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><path style="fill: url(http://x/y)"/></svg>',
            "outside itself",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(#a);</style></svg>',
            "style loads",
        ),
        ('<!DOCTYPE svg [<!ENTITY e "x">]><svg xmlns="http://www.w3.org/2000/svg"/>', "DOCTYPE"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>', "foreignObject"),
        ("<svg><unclosed></svg>", "well-formed"),
    ],
)
def test_svg_check_refuses_anything_but_a_drawing(svg: str, problem: str) -> None:
    with pytest.raises(RenderError, match=problem):
        checked_svg(svg)


def test_a_figure_that_cannot_be_drawn_is_reported_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from govkit.report import _plots

    def broken(check: object, ev: object) -> _plots.FigureSpec:
        def build() -> object:
            raise ValueError("no room for the bars")

        return _plots.FigureSpec("broken", "alt text", "caption", build)  # type: ignore[arg-type]

    monkeypatch.setattr(_plots, "fairness_figure", broken)
    inputs = make_inputs()
    html = render_card_html(inputs.model, **inputs.kwargs())
    assert "This figure could not be drawn (ValueError: no room for the bars)" in html
    assert "the numbers are in the table" in html


def test_labels_are_one_short_line() -> None:
    assert label("a\nb\tc\x00d") == "a b cd"
    assert label("x" * 50, 10) == "x" * 9 + "…"


def _group_check(check_id: str, bound: Bound, rows: list[tuple[str, float, bool]]) -> CheckResult:
    return CheckResult(
        rule_id="r",
        check_id=check_id,
        kind="fairness",
        severity="error",
        status=Status.FAIL,
        value=0.5,
        bound=bound,
        evidence=GroupEvidence(
            sensitive_features=("g",),
            metric=check_id.split(".")[1],
            overall={"selection_rate": 0.3},
            groups=tuple(
                GroupRow(group=(n,), count=100, metrics={"selection_rate": v}, judged=j)
                for n, v, j in rows
            ),
        ),
    )


@pytest.mark.parametrize(
    "check_id,bound,line_text,outside",
    [
        # four-fifths: a group breaks the rule when its rate is below 0.8 x the highest
        ("fairness.demographic_parity_ratio", Bound(min=0.8), "0.8 × highest = 0.32", "a"),
        ("fairness.demographic_parity_difference", Bound(max=0.1), "highest − 0.1 = 0.3", "a"),
        ("fairness.selection_rate", Bound(min=0.25), "≥ 0.25", "a"),
    ],
)
def test_fairness_threshold_lines(
    check_id: str, bound: Bound, line_text: str, outside: str
) -> None:
    from govkit.report._plots import _panels

    check = _group_check(check_id, bound, [("a", 0.2, True), ("b", 0.4, True), ("c", 0.01, False)])
    assert isinstance(check.evidence, GroupEvidence)
    (panel,) = _panels(check, check.evidence, [g.judged for g in check.evidence.groups])
    assert panel.line_text == line_text
    out = [g.group[0] for g, o in zip(check.evidence.groups, panel.outside, strict=True) if o]
    assert out == [outside]  # the small unjudged group "c" is never flagged
    spec = fairness_figure(check, check.evidence)
    assert spec is not None and "1 of 3 groups outside the bound" in spec.alt


def test_lineage_graph_nodes_and_edges() -> None:
    inputs = make_inputs()
    train, clean, raw = inputs.lineage
    graph = lineage_graph(inputs.model, train, inputs.evaluation, inputs.lineage)
    kinds = {n.title: n.kind for n in graph.nodes}
    assert kinds == {
        "credit-income@4": "model",
        "adult-train@2": "dataset",
        "adult-test@2": "evaluation",
        "adult-clean@3": "dataset",
        "census-extra@1": "missing",
        "adult-raw@1": "dataset",
        "https://archive.ics.uci.edu/dataset/2/adult": "source",
    }
    edges = {(e.src_title, e.dst_title, e.dashed) for e in graph.edges}
    assert ("adult-train@2", "credit-income@4", False) in edges
    assert ("adult-test@2", "credit-income@4", True) in edges
    assert ("adult-clean@3", "adult-test@2", False) in edges  # shared ancestor, drawn once
    assert ("https://archive.ics.uci.edu/dataset/2/adult", "adult-raw@1", False) in edges


def test_cards_without_figures_do_not_load_matplotlib() -> None:
    code = (
        "import sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_card import make_inputs\n"
        "from govkit.report import render_card_html, card_markdown, card_json\n"
        "i = make_inputs()\n"
        "render_card_html(i.model, **i.kwargs(), figures=False)\n"
        "card_markdown(i.model, **i.kwargs()); card_json(i.model, **i.kwargs())\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib loaded'\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_drift_and_comparison_evidence_are_shown() -> None:
    import numpy as np
    import pandas as pd

    from govkit.checks._drift_stats import psi
    from govkit.report import card_markdown
    from govkit.results import ComparisonEvidence, DriftEvidence, FeatureDrift, MetricComparison

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "hours": rng.normal(40, 5, 2000)})
    cur = ref.assign(age=ref["age"] + 8)
    ev = DriftEvidence(
        statistic="population_stability_index",
        reference="adult-train@2",
        features=tuple(
            FeatureDrift(feature=f, value=psi(ref[f], cur[f]).statistic) for f in ("age", "hours")
        ),
    )
    ev = ev.model_copy(
        update={
            "features": tuple(
                f.model_copy(update={"passed": (f.value or 0) <= 0.2}) for f in ev.features
            )
            + (FeatureDrift(feature="tiny", value=None, judged=False),)
        }
    )
    drift = CheckResult(
        rule_id="psi",
        check_id="drift.population_stability_index",
        kind="drift",
        severity="warning",
        status=Status.WARN,
        value=max(f.value or 0 for f in ev.features),
        bound=Bound(max=0.2),
        evidence=ev,
    )
    comparison = CheckResult(
        rule_id="champion",
        check_id="comparison.champion_challenger",
        kind="comparison",
        severity="error",
        status=Status.FAIL,
        evidence=ComparisonEvidence(
            champion="credit-income@3",
            challenger="credit-income@4",
            comparisons=(
                MetricComparison(
                    metric="roc_auc",
                    champion=0.91,
                    challenger=0.88,
                    worsening=0.03,
                    allowed=0.01,
                    ok=False,
                ),
            ),
        ),
    )
    inputs = make_inputs()
    assert inputs.run is not None
    run = inputs.run.model_copy(update={"checks": (*inputs.run.checks, drift, comparison)})
    html = render_card_html(inputs.model, **inputs.kwargs(run=run))
    assert "Drift per feature (rule psi)" in html
    assert "population_stability_index" in html and "adult-train@2" in html
    assert "outside the bound" in html and "not judged" in html
    assert "Champion and challenger" in html and "too much worse" in html
    (svg,) = [s for s in _svgs(html) if "population stability index" in s]
    assert "age" in svg and "✗" in svg
    text = card_markdown(inputs.model, **inputs.kwargs(run=run))
    assert "### Drift (population\\_stability\\_index, rule psi)" in text
    assert "| roc\\_auc | 0.91 | 0.88 | 0.03 | 0.01 | ✗ too much worse |" in text


def test_waivers_and_intervals_are_shown_in_the_policy_section() -> None:
    from datetime import date

    from govkit.report import card_json, card_markdown
    from govkit.results import Interval, Waiver

    inputs = make_inputs()
    assert inputs.run is not None
    waived = inputs.run.checks[1].model_copy(
        update={
            "status": Status.WAIVED,
            "unmet_status": Status.FAIL,
            "waiver": Waiver(
                rule_id="dp-ratio-sex",
                model="credit-income@4",
                justification="Remediation retrain scheduled; human review of every decline.",
                approver="Chief Risk Officer",
                expires=date(2025, 6, 30),
            ),
            "interval": Interval(
                low=0.29, high=0.37, level=0.95, resamples=1000, judged_on="upper"
            ),
        }
    )
    run = inputs.run.model_copy(
        update={"checks": (inputs.run.checks[0], waived, *inputs.run.checks[2:])}
    )
    html = render_card_html(inputs.model, **inputs.kwargs(run=run))
    policy = html[html.index('<section id="policy-evaluation">') :]
    assert 'class="status status-waived"><span aria-hidden="true">≈</span> WAIVED' in policy
    assert "Waived (would be FAIL):</span> Remediation retrain scheduled" in policy
    assert "approved by Chief Risk Officer for credit-income@4, until 2025-06-30" in policy
    assert "95% CI 0.29 to 0.37 (1,000 resamples; judged on the upper end)" in policy
    assert "1 WAIVED" in policy
    text = card_markdown(inputs.model, **inputs.kwargs(run=run))
    assert "- **dp-ratio-sex** waived (would be FAIL): Remediation retrain scheduled" in text
    assert "until 2025-06-30" in text
    assert "approved by Chief Risk Officer" in card_json(inputs.model, **inputs.kwargs(run=run))
