"""What an auditor sees: the Adult card's pages as pictures, and golden HTML for regressions.

The golden files in ``tests/golden/`` are the cards' HTML, normalised: each plot
(an SVG data: URL whose bytes depend on the matplotlib version) is replaced by a
placeholder, and the govkit version by a token. Regenerate them after an
intended change with ``GOVKIT_REGEN_GOLDEN=1 pytest tests/test_card_visual.py``
and review the diff.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from adult_card import adult_card_inputs, synthetic_adult
from poppler import needs_poppler, pdftotext
from test_card import T0, _bare_model, make_inputs

from govkit import __version__
from govkit.report import render_card_html, render_card_pdf

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("GOVKIT_REGEN_GOLDEN") == "1"
#: Pages of the synthetic Adult card: cover, then model and data, analyses, policy, lineage.
ADULT_PAGES = 9


def normalise(html: str) -> str:
    html = re.sub(
        r'src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"',
        'src="data:image/svg+xml;base64,SVG"',
        html,
    )
    return html.replace(f"govkit {__version__}", "govkit VERSION")


@pytest.fixture(scope="module")
def adult():  # type: ignore[no-untyped-def]
    return adult_card_inputs(synthetic_adult())


@pytest.fixture(scope="module")
def adult_pdf(adult) -> bytes:  # type: ignore[no-untyped-def]
    return render_card_pdf(adult.model, **adult.kwargs())


def _png(pdf: bytes, page: int, tmp_path: Path) -> np.ndarray:
    path = tmp_path / "card.pdf"
    path.write_bytes(pdf)
    out = tmp_path / f"page-{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "60",
            "-f",
            str(page),
            "-l",
            str(page),
            "-png",
            "-singlefile",
            str(path),
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    from PIL import Image

    with Image.open(out.with_suffix(".png")) as image:
        return np.asarray(image.convert("RGB"))


def _assert_not_blank(pixels: np.ndarray, *, ink: float, colour: float) -> None:
    grey = pixels.min(axis=-1)
    assert pixels.std() > 10
    assert (grey < 128).mean() > ink  # text, rules, bars
    assert len(np.unique(grey)) > 32  # anti-aliased text and shapes, not a flat fill
    assert (np.ptp(pixels.astype(int), axis=-1) > 60).mean() > colour


@needs_poppler
def test_adult_card_pages_render_and_are_not_blank(adult_pdf: bytes, tmp_path: Path) -> None:
    info = subprocess.run(["pdfinfo", "-"], input=adult_pdf, capture_output=True, check=True)
    assert re.search(rf"^Pages:\s+{ADULT_PAGES}$", info.stdout.decode(), re.M)
    texts = pdftotext(adult_pdf, "-layout").split("\f")
    # page 1: the cover with verdict and contents
    cover = _png(adult_pdf, 1, tmp_path)
    assert cover.shape[0] > cover.shape[1]  # portrait
    _assert_not_blank(cover, ink=0.002, colour=0.0003)  # the red FAIL badge
    # the fairness page: where the four-fifths plot by sex is
    (fairness,) = [
        n
        for n, t in enumerate(texts, start=1)
        if n > 1 and "Figure 4. demographic_parity_ratio by sex" in t  # page 1 lists it
    ]
    assert 2 < fairness < ADULT_PAGES
    pixels = _png(adult_pdf, fairness, tmp_path)
    _assert_not_blank(pixels, ink=0.01, colour=0.005)
    # the bars are drawn: a good share of the page is the plot's blue or red
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 60)
    red = (pixels[..., 0] > 130) & (pixels[..., 1] < 60) & (pixels[..., 2] < 80)
    assert blue.mean() > 0.003 and red.mean() > 0.0005


@pytest.mark.parametrize("name", ["adult", "hand_built", "bare"])
def test_golden_html(name: str, adult) -> None:  # type: ignore[no-untyped-def]
    if name == "adult":
        html = render_card_html(adult.model, **adult.kwargs())
    elif name == "hand_built":
        inputs = make_inputs()
        html = render_card_html(inputs.model, **inputs.kwargs())
    else:
        html = render_card_html(
            _bare_model(),
            training_lineage=[],
            evaluation_data=None,
            run=None,
            anchor=None,
            generated_at=T0,
        )
    path = GOLDEN / f"card_{name}.html"
    got = normalise(html)
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing {path}; create it with GOVKIT_REGEN_GOLDEN=1"
    want = path.read_text(encoding="utf-8")
    assert got == want, f"{path.name} changed; if intended, regenerate with GOVKIT_REGEN_GOLDEN=1"
