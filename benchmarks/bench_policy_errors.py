"""Bad policy files must be refused with file:line and a hint within 100 ms (issue 3).

Times `load_policy` on each kind of bad policy the issue names (best of 5) and prints the
slowest against the 100 ms target. Run: .venv/bin/python benchmarks/bench_policy_errors.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from govkit.exceptions import PolicyError
from govkit.policy import load_policy

BASE = """schema_version: 1
name: bench
rules:
  - id: r1
    kind: fairness
    metric: demographic_parity_ratio
    sensitive_features: [sex]
    threshold: {min: 0.8}
"""


def cases(folder: Path) -> dict[str, Path]:
    bomb = ["schema_version: 1", "name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    texts = {
        "unknown kind": BASE.replace("kind: fairness", "kind: fairnes"),
        "misspelt metric": BASE.replace("demographic_parity_ratio", "demographic_parity_ration"),
        "wrong type": BASE.replace("{min: 0.8}", "{min: high}"),
        "missing threshold": BASE.replace("    threshold: {min: 0.8}\n", ""),
        "duplicate rule id": BASE + BASE.split("rules:\n")[1],
        "expired waiver format": BASE + "waivers:\n  - {rule: r1, model: m, justification: "
        "long enough text, approver: a, expires: next week}\n",
        "YAML alias bomb": "\n".join(bomb) + "\nrules: *a8\n",
        "!!python/object tag": BASE.replace("name: bench", "name: !!python/object:os.system {}"),
    }
    paths = {}
    for name, text in texts.items():
        p = folder / (name.replace(" ", "_").replace("/", "_") + ".yaml")
        p.write_text(text)
        paths[name] = p
    (folder / "a.yaml").write_text("schema_version: 1\nname: a\nextends: b.yaml\n")
    (folder / "b.yaml").write_text("schema_version: 1\nname: b\nextends: a.yaml\n")
    paths["extends cycle"] = folder / "a.yaml"
    big = folder / "big.yaml"
    with big.open("wb") as fh:
        fh.write(b"# " + b"x" * (50 * 1024 * 1024) + b"\n")
    paths["50 MB file"] = big
    return paths


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        worst = 0.0
        for name, path in cases(Path(tmp)).items():
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                try:
                    load_policy(path)
                except PolicyError:
                    pass
                else:
                    raise SystemExit(f"{name}: was accepted")
                best = min(best, time.perf_counter() - start)
            worst = max(worst, best)
            print(f"{name:<24} {best * 1000:7.2f} ms")
    print(f"slowest {worst * 1000:.2f} ms; target 100 ms; ratio to target {worst / 0.1:.3f}x")


if __name__ == "__main__":
    main()
