"""Card figures: drawn from evidence, deterministic, described in words, checked when embedded."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from adult_card import adult_card_inputs, synthetic_adult
from test_card import HOSTILE, make_inputs

from govkit.exceptions import RenderError
from govkit.report import render_card_html
from govkit.report._figures import checked_svg, data_url, label
from govkit.report._plot_fairness import fairness_figure
from govkit.report._view_lineage import lineage_graph
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
    from govkit.report import _plot_fairness
    from govkit.report._plot_spec import FigureSpec

    def broken(check: object, ev: object) -> FigureSpec:
        def build() -> object:
            raise ValueError("no room for the bars")

        return FigureSpec("broken", "alt text", "caption", build)  # type: ignore[arg-type]

    monkeypatch.setattr(_plot_fairness, "fairness_figure", broken)
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
    from govkit.report._plot_fairness import _panels

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


# ------------------------------------------------------------------- compact SVG

_HEAD = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="100pt" height="50pt" viewBox="0 0 100 50">'
)


def test_compact_svg_keeps_the_drawing_with_fewer_nodes() -> None:
    import xml.etree.ElementTree as ET

    from govkit.report._svg import compact_svg

    svg = (
        _HEAD + '<defs><clipPath id="c"><rect x="0" y="0" width="100" height="50"/></clipPath>'
        '</defs><g id="line2d_1"><defs><path id="m1" d="M 0 0 \nL 0 2.5 \n" '
        'style="stroke: #000000; stroke-width: 0.5"/></defs><g><use xlink:href="#m1" '
        'x="10.123456" y="40" style="fill: #000000; stroke: #000000"/></g></g>'
        '<g id="line2d_2"><use xlink:href="#m1" x="20" y="40" '
        'style="fill: #000000; stroke: #000000"/></g><g id="line2d_3"/>'
        '<path d="M 0 0 L 5 5" clip-path="url(#c)" style="fill: none; stroke: #ff0000"/>'
        '<path d="M 1 1 L 6 6" clip-path="url(#c)" style="fill: none; stroke: #ff0000"/>'
        '<path d="M 0 0 L 5 0 L 5 5 z" clip-path="url(#c)" style="fill: #0000ff"/>'
        '<path d="M 10 0 L 15 0 L 15 5 z" style="fill: #0000ff"/>'
        '<path d="M 10 0 L 15 0 L 15 5 z" style="fill: #0000ff"/>'
        '<path d="M 0 0 L 5 0 z" style="fill: #0000ff; fill-opacity: 0.5"/>'
        '<path d="M 0 0 L 5 0 z" style="fill: #0000ff; fill-opacity: 0.5"/>'
        '<g id="text_1"><text x="1.000001" y="2" transform="rotate(-0 1 2)" '
        'style="font-size: 6px">a &lt; b</text></g><g id="line2d_4"><defs>'
        '<path id="m2" d="m 0 0 l 1 1" style="stroke: #000000"/></defs>'
        '<use xlink:href="#m2" x="3" y="3" style="stroke: #000000"/></g></svg>'
    )
    out = compact_svg(svg)
    checked_svg(out)
    assert "style=" not in out and 'id="line2d' not in out and "rotate(" not in out
    root = ET.fromstring(out)
    ns = "{http://www.w3.org/2000/svg}"
    # both copies of marker m1 are one path, moved to where the copies were, coordinates to 0.01
    (ticks,) = [p for p in root.iter(ns + "path") if p.get("stroke-width") == "0.5"]
    assert ticks.get("d") == "M 10.12 40 L 10.12 42.5 M 20 40 L 20 42.5"
    assert ticks.get("fill") == ticks.get("stroke") == "#000000"
    assert not any(p.get("id") == "m1" for p in root.iter(ns + "path"))
    # stroked outlines merge; fills from different shapes and translucent fills do not
    (clipped,) = root.findall(ns + "g")
    assert clipped.get("clip-path") == "url(#c)"
    assert [p.get("d") for p in clipped] == ["M 0 0 L 5 5 M 1 1 L 6 6", "M 0 0 L 5 0 L 5 5 z"]
    assert all(p.get("clip-path") is None for p in clipped)
    assert len([p for p in root if p.get("fill") == "#0000ff"]) == 4
    assert root.find(ns + "text").text == "a < b"  # type: ignore[union-attr]
    assert root.find(ns + "text").get("x") == "1"  # type: ignore[union-attr]
    # a marker with relative commands is left as it was
    assert root.find(ns + "use") is not None and "m2" in out


_TEXT = re.compile(r"<text\b[^>]*>[^<]*</text>")


def _texts(svg: str) -> list[tuple[str, str, str, str, float, float]]:
    """Each text of an SVG: content, size, weight, anchor and where it stands."""
    out = []
    for m in re.finditer(r"<text\b([^>]*)>([^<]*)</text>", svg):
        attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', m[1]))
        for decl in attrs.pop("style", "").split(";"):  # matplotlib writes style="..."
            if ":" in decl:
                key, value = decl.split(":", 1)
                attrs[key.strip()] = value.strip()
        x, y = float(attrs.get("x", 0)), float(attrs.get("y", 0))
        turn = attrs.get("transform", "")
        if turn.startswith("translate("):  # rotated labels stand where they are moved
            x, y = map(float, turn[10:].split(")")[0].split())
        size, weight = attrs["font-size"], attrs.get("font-weight", "")
        out.append((m[2], size, weight, attrs.get("text-anchor", ""), x, y))
    return out


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing")
def test_compacted_plots_print_like_matplotlibs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    from govkit.report._figures import _style, draw_figure, matplotlib_svg
    from govkit.report._html import card_view
    from govkit.report._svg import compact_svg
    from govkit.report._weasy import render_pdf_in_process

    pytest.importorskip("weasyprint")
    specs = {}

    def record(fig_id, spec):  # type: ignore[no-untyped-def]
        specs[fig_id] = spec
        return draw_figure(fig_id, spec)

    inputs = adult_card_inputs(synthetic_adult(n=3000, n_explained=200))
    card_view(inputs.model, **inputs.kwargs(), figures=True, figure_renderer=record)
    assert len(specs) == 9

    def raster(svg: str, name: str) -> np.ndarray:
        page = (
            "<style>@page { size: 8in 5in; margin: 0 }</style>"
            f'<img src="{data_url(svg)}" style="width: 7.5in">'
        )
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(render_pdf_in_process(page))
        subprocess.run(
            ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / name)],
            check=True,
        )
        return np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB"), dtype=int)

    def unmatched(a: np.ndarray, b: np.ndarray) -> int:
        """Pixels of one image with nothing alike within a pixel in the other."""

        def nearest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            best = np.full(x.shape[:2], 765)
            h, w = x.shape[:2]
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    moved = np.full_like(y, 255)
                    moved[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = y[
                        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
                    ]
                    best = np.minimum(best, np.abs(x - moved).sum(-1))
            return best

        return int(((nearest(a, b) > 200) | (nearest(b, a) > 200)).sum())

    for fig_id, spec in specs.items():
        with _style(f"{fig_id}-svg"):
            raw = matplotlib_svg(spec.build())
        small = compact_svg(raw)
        assert small.count("<") < raw.count("<") and len(small) < len(raw)
        # the drawing is the same, up to a pixel (lines snapped on a 0.01 pt rounding)...
        a = raster(_TEXT.sub("", raw), f"{fig_id}-raw")
        b = raster(_TEXT.sub("", small), f"{fig_id}-small")
        assert (a.sum(-1) < 700).mean() > 0.002, fig_id  # not blank
        assert unmatched(a, b) <= 5, fig_id
        # ...and each text is the same text, in the same font, where it was (to 0.01 pt)
        before, after = _texts(raw), _texts(small)
        assert [t[:4] for t in before] == [t[:4] for t in after] and before, fig_id
        for t, u in zip(before, after, strict=True):
            assert abs(t[4] - u[4]) <= 0.005 and abs(t[5] - u[5]) <= 0.005, (fig_id, t, u)


def test_every_figure_is_drawn_at_its_planned_size() -> None:
    from govkit.report._figures import FigurePlan, draw
    from govkit.report._html import card_view

    plan = FigurePlan()
    inputs = adult_card_inputs(synthetic_adult(n=3000, n_explained=200))
    planned = card_view(inputs.model, **inputs.kwargs(), figures=True, figure_renderer=plan.plan)
    plan.draw_all()
    drawn = card_view(inputs.model, **inputs.kwargs(), figures=True, figure_renderer=plan.replay)
    assert [f.width for f in planned.figures] == [f.width for f in drawn.figures]
    assert all(f.error is None and "-placeholder" not in (f.src or "") for f in drawn.figures)
    for p, d in zip(planned.figures, drawn.figures, strict=True):
        assert checked_svg(_svg_of(p.src)) == checked_svg(_svg_of(d.src))

    def wrong_size() -> object:
        from matplotlib.figure import Figure

        return Figure(figsize=(2, 1))

    failed = draw("figure-x-svg", wrong_size, size=(2, 1.5))  # type: ignore[arg-type]
    assert failed.src is None and "its plan said 2 x 1.5 in" in (failed.error or "")


def _svg_of(src: str | None) -> str:
    assert src is not None
    return base64.b64decode(src.split(",", 1)[1]).decode("utf-8")


def test_panel_titles_fit_their_figure_measured_by_matplotlib() -> None:
    # equalized odds by two groups: two panels side by side; the right one's rule line
    # ("highest - 0.1 <= 0, no group can break it") ran off the figure before titles wrapped
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.textpath import TextToPath

    from govkit.report import _figures
    from govkit.report._plot_spec import bold_text_points

    long_names = [("Female / Amer-Indian-Eskimo", 0.6, True), ("Male / White", 0.66, True)]
    check = CheckResult(
        rule_id="equalized-odds",
        check_id="fairness.equalized_odds_difference",
        kind="fairness",
        severity="error",
        status=Status.PASS,
        value=0.06,
        bound=Bound(max=0.1),
        evidence=GroupEvidence(
            sensitive_features=("sex", "race"),
            metric="equalized_odds_difference",
            overall={"true_positive_rate": 0.65, "false_positive_rate": 0.058},
            groups=tuple(
                GroupRow(
                    group=tuple(n.split(" / ")),
                    count=1000,
                    metrics={"true_positive_rate": v, "false_positive_rate": v / 10},
                    judged=j,
                )
                for n, v, j in long_names
            ),
        ),
    )
    spec = fairness_figure(check, check.evidence)
    assert spec is not None
    matplotlib = _figures._matplotlib()
    with matplotlib.rc_context(_figures._STYLE):
        fig = spec.build()
        renderer = FigureCanvasAgg(fig).get_renderer()
        wanted = {ax.get_title(loc="left") for ax in fig.axes}
        titles = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text() in wanted]
        assert len(titles) == 2
        right = titles[1].get_text()
        assert "no group can break it" in right.replace("\n", " ") and "\n" in right  # wrapped
        # the PDF draws plot text unhinted (Pango), so lines are measured as matplotlib's
        # text-to-path does, from where matplotlib places the title
        unhinted = TextToPath()
        for title in titles:
            box = title.get_window_extent(renderer)
            assert box.y1 <= fig.bbox.height  # the extra lines got room above the axes
            for line in title.get_text().split("\n"):
                w, _, _ = unhinted.get_text_width_height_descent(
                    line, title.get_fontproperties(), ismath=False
                )
                assert box.x0 + w <= fig.bbox.width, (line, box.x0 + w, fig.bbox.width)
                # the estimate the titles were wrapped with is the font's own measure
                assert abs(bold_text_points(line, 7.5) - w) <= 0.01 * w
    assert spec.size[1] == fig.get_size_inches()[1]  # planned with the extra line


def _tiny_figure() -> object:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [0, 1])
    return fig


def test_the_objects_the_process_holds_are_frozen_while_a_figure_is_drawn() -> None:
    import gc
    import weakref

    from govkit.report._figures import draw

    assert gc.get_freeze_count() == 0
    held = [object() for _ in range(1000)]  # the caller's objects
    seen: dict[str, object] = {}

    class Node:
        other: object = None

    def build() -> object:
        seen["frozen"] = gc.get_freeze_count()
        # garbage made while drawing is still collected: a young reference cycle
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect(0)
        seen["young garbage collected"] = gone() is None
        return _tiny_figure()

    drawn = draw("frozen", build)
    assert drawn.error is None and drawn.src is not None
    assert seen["frozen"] >= len(held)  # type: ignore[operator]
    assert seen["young garbage collected"] is True
    assert gc.get_freeze_count() == 0  # all given back to the collector


def test_a_figure_that_fails_and_nested_drawings_leave_nothing_frozen() -> None:
    import gc

    from govkit.report._figures import draw

    def failing() -> object:
        raise ValueError("no room")

    assert draw("failing", failing).error == "ValueError: no room"
    assert gc.get_freeze_count() == 0

    during: list[int] = []

    def outer() -> object:
        draw("inner", _tiny_figure)
        during.append(gc.get_freeze_count())  # the inner figure did not unfreeze
        return _tiny_figure()

    assert draw("outer", outer).error is None
    assert during[0] > 0 and gc.get_freeze_count() == 0


def test_a_process_that_froze_its_objects_itself_keeps_them_frozen() -> None:
    import gc

    from govkit.report._figures import draw

    gc.freeze()  # as a pre-forking server does before it forks its workers
    try:
        frozen = gc.get_freeze_count()
        counts: list[int] = []

        def build() -> object:
            counts.append(gc.get_freeze_count())
            return _tiny_figure()

        assert draw("server", build).error is None
        # nothing more frozen while drawing (objects freed meanwhile leave the count), and
        # the server's objects still frozen afterwards
        assert len(counts) == 1 and 0 < counts[0] <= frozen
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
