"""Write the recorded-decision files the policy-pack examples audit (deterministic).

Both files hold the same 3,000 people from the UCI Adult test split (CC BY 4.0) and a
simple screening score (years of education + 0.5 x hours per week / 10) that predicts whether the
person earns over USD 50K (the `income` column is the observed outcome, so error rates per
group can be audited too). They differ in how the score becomes a decision:

* decisions_single_threshold.csv: one cut-off for everyone (top 25% of scores) — the
  historical gaps in the data come straight through, and the four-fifths rule fails;
* decisions_group_thresholds.csv: the top 25% *within each sex x race group* (by rank) — a
  group-aware threshold (what fairlearn's ThresholdOptimizer does for demographic
  parity), so selection rates are equal up to rounding and the four-fifths rule passes.

Run: python examples/policies/make_decisions.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "credit"))

import numpy as np  # noqa: E402
from adult import load_adult  # noqa: E402


def main() -> None:
    df = load_adult("test").sample(n=3000, random_state=7).reset_index(drop=True)
    score = df["education-num"] + 0.5 * df["hours-per-week"] / 10
    out = df[["sex", "race", "income"]].copy()
    out["score"] = (score / score.max()).round(6)
    single = out.copy()
    single["decision"] = (score >= score.quantile(0.75)).map({True: ">50K", False: "<=50K"})
    grouped = out.copy()
    groups = [df["sex"], df["race"]]
    rank = score.groupby(groups).rank(method="first", ascending=False)
    size = score.groupby(groups).transform("size")
    grouped["decision"] = (rank <= np.ceil(0.25 * size)).map({True: ">50K", False: "<=50K"})
    single.to_csv(HERE / "decisions_single_threshold.csv", index=False)
    grouped.to_csv(HERE / "decisions_group_thresholds.csv", index=False)


if __name__ == "__main__":
    main()
