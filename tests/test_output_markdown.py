"""Markdown for pull-request comments: a compact table, problems first, user text inert."""

from __future__ import annotations

import pytest
from _output_samples import ROOT, golden_checks, golden_policy, golden_result, make_result

from govkit.output import render
from govkit.output._markdown import md_text
from govkit.results import Status


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.chdir(ROOT)
    return golden_policy()


def _rows(out: str) -> list[list[str]]:
    rows = [line for line in out.splitlines() if line.startswith("| ")][2:]
    return [[cell.strip() for cell in row.replace("\\|", "\0").split("|")[1:-1]] for row in rows]


def test_verdict_line_and_problems_first(policy):
    out = render(golden_result(policy), "markdown", policy=policy)
    assert out.startswith("### \u274c FAIL govkit: golden-credit\n")
    assert (
        "**Verdict: FAIL**, gate failed: 2 PASS, 1 WARN, 1 FAIL, 1 ERROR, 1 N/A, 1 WAIVED." in out
    )
    rows = _rows(out)
    assert [r[0] for r in rows] == [
        "\u274c FAIL",
        "\U0001f4a5 ERROR",
        "\u26a0\ufe0f WARN",
        "\U0001f3f3\ufe0f WAIVED",
        "\u2796 N/A",
        "\u2705 PASS",
        "\u2705 PASS",
    ]
    assert rows[0][1:] == [
        "four-fifths-sex",
        "0.6612 (95% CI 0.61\u20130.7)",
        "\u2265 0.8",
        "demographic\\_parity\\_ratio by sex is 0.6612; required &gt;= 0.8",
    ]
    assert rows[-1][1:] == ["selection-rate-sex-race", "n/a", "\u2265 0.02", ""]


def test_a_waived_rule_shows_who_waived_it(policy):
    (row,) = [r for r in _rows(render(golden_result(policy), "markdown")) if r[1] == "roc-auc"]
    assert "approved by head-of-risk, expires 2030-01-31" in row[4]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a | b", "a \\| b"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("line\nbreak\r\nand more", "line break and more"),
        ("`code` *b* _i_ [l](u) ~s~", "\\`code\\` \\*b\\* \\_i\\_ \\[l\\](u) \\~s\\~"),
        ("ping @team, mail a@b.org", "ping @\u200bteam, mail a@b.org"),
        ("&amp;", "&amp;amp;"),
    ],
)
def test_user_text_is_inert(text, expected):
    assert md_text(text) == expected


def test_a_long_message_is_cut_to_a_short_cell(policy):
    check = golden_checks()[0].model_copy(update={"message": "word " * 1000})
    (row,) = _rows(render(make_result((check,)), "markdown"))
    assert len(row[4]) <= 300 and row[4].endswith("\u2026")


def test_warnings_only_pass_the_gate_unless_they_fail_it(policy):
    warn = tuple(c for c in golden_checks() if c.status in (Status.PASS, Status.WARN))
    out = render(make_result(warn), "markdown")
    assert out.startswith("### \u26a0\ufe0f WARN govkit: golden-credit")
    assert "**Verdict: WARN**, gate passed:" in out
    strict = render(make_result(warn), "markdown", fail_on_warn=True)
    assert "**Verdict: WARN**, gate failed (warnings fail it: --fail-on-warn):" in strict
