"""Card exports: Hugging Face card metadata and Model Card Toolkit JSON, valid by their specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from adult_card import adult_card_inputs, synthetic_adult
from test_card import T0, _bare_model, make_inputs

from govkit.report import card_json, card_markdown

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = Path(__file__).parent / "schemas"

# Hugging Face publishes no JSON schema for model card metadata. This one is written from
# the specification in hub-docs `modelcard.md` (the annotated `model-index` block and the
# list of top-level keys), as parsed by huggingface_hub.repocard_data.model_index_to_eval_results:
# task.type, dataset.type, dataset.name, metric.type and metric.value are required.
HF_METADATA_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "language": {"type": ["string", "array"]},
        "license": {"type": "string", "pattern": "^[a-z0-9.-]+$"},
        "license_name": {"type": "string", "pattern": "^[a-z0-9.-]+$"},
        "license_link": {"type": "string"},
        "library_name": {"type": "string"},
        "pipeline_tag": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "datasets": {"type": "array", "items": {"type": "string"}},
        "metrics": {"type": "array", "items": {"type": "string"}},
        "base_model": {"type": ["string", "array"]},
        "model-index": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "results"],
                "properties": {
                    "name": {"type": "string"},
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["task", "dataset", "metrics"],
                            "additionalProperties": False,
                            "properties": {
                                "task": {
                                    "type": "object",
                                    "required": ["type"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "type": {"type": "string"},
                                        "name": {"type": "string"},
                                    },
                                },
                                "dataset": {
                                    "type": "object",
                                    "required": ["type", "name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "type": {"type": "string"},
                                        "name": {"type": "string"},
                                        "config": {"type": "string"},
                                        "split": {"type": "string"},
                                        "revision": {"type": "string"},
                                        "args": {},
                                    },
                                },
                                "metrics": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["type", "value"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "type": {"type": "string"},
                                            "value": {"type": "number"},
                                            "name": {"type": "string"},
                                            "config": {"type": "string"},
                                            "args": {},
                                            "verified": {"type": "boolean"},
                                            "verifyToken": {"type": "string"},
                                        },
                                    },
                                },
                                "source": {
                                    "type": "object",
                                    "required": ["name", "url"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "url": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def _mct_validator() -> Any:
    schema = json.loads((SCHEMAS / "model_card_toolkit_v0.0.2.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def adult():  # type: ignore[no-untyped-def]
    return adult_card_inputs(synthetic_adult(n=6000, n_explained=200))


def test_markdown_front_matter_is_hugging_face_metadata(adult) -> None:  # type: ignore[no-untyped-def]
    text = card_markdown(adult.model, **adult.kwargs())
    meta, body = _front_matter(text)
    jsonschema.validate(meta, HF_METADATA_SCHEMA)
    assert body.lstrip().startswith("# Model card: credit-income@3")
    assert meta["library_name"] == "sklearn" and meta["pipeline_tag"] == "tabular-classification"
    assert meta["license"] == "other" and meta["license_name"].startswith("apache-2.0")
    (entry,) = meta["model-index"]
    assert entry["name"] == "credit-income@3"
    (result,) = entry["results"]
    assert result["dataset"] == {
        "type": "adult-test",
        "name": "adult-test@1",
        "revision": adult.run.data_fingerprint,
    }
    metrics = {(m["type"], m["name"]): m["value"] for m in result["metrics"]}
    checks = {c.rule_id: c for c in adult.run.checks}
    assert metrics[("accuracy", "accuracy (rule accuracy)")] == checks["accuracy"].value
    assert metrics[("roc_auc", "roc_auc (rule roc-auc)")] == checks["roc-auc"].value
    name = "demographic_parity_ratio by race (rule four-fifths-race)"
    assert metrics[("demographic_parity_ratio", name)] == checks["four-fifths-race"].value
    assert all(m["verified"] is False for m in result["metrics"])  # self-reported


def test_markdown_parses_with_huggingface_hub(adult) -> None:  # type: ignore[no-untyped-def]
    hub = pytest.importorskip("huggingface_hub")
    from huggingface_hub.repocard_data import model_index_to_eval_results

    text = card_markdown(adult.model, **adult.kwargs())
    card = hub.ModelCard(text)
    assert card.data.library_name == "sklearn"
    assert (
        "policy-fail" in card.data.tags
        or "policy-warn" in card.data.tags
        or ("policy-pass" in card.data.tags)
    )
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert name == "credit-income@3"
    assert {r.metric_type for r in results} >= {"accuracy", "roc_auc", "demographic_parity_ratio"}
    assert all(r.task_type == "tabular-classification" for r in results)
    assert card.text.lstrip().startswith("# Model card: credit-income@3")


def test_known_licences_map_to_hub_identifiers() -> None:
    inputs = make_inputs()  # license "Apache-2.0"
    meta, _ = _front_matter(card_markdown(inputs.model, **inputs.kwargs()))
    assert meta["license"] == "apache-2.0" and "license_name" not in meta
    jsonschema.validate(meta, HF_METADATA_SCHEMA)


def test_front_matter_can_be_left_out() -> None:
    inputs = make_inputs()
    text = card_markdown(inputs.model, **inputs.kwargs(), front_matter=False)
    assert text.startswith("# Model card: credit-income@4\n")


def test_bare_model_exports_are_valid() -> None:
    kwargs: dict[str, Any] = {
        "training_lineage": [],
        "evaluation_data": None,
        "run": None,
        "anchor": None,
        "generated_at": T0,
    }
    meta, _ = _front_matter(card_markdown(_bare_model(), **kwargs))
    jsonschema.validate(meta, HF_METADATA_SCHEMA)
    assert "model-index" not in meta and "license" not in meta
    data = json.loads(card_json(_bare_model(), **kwargs))
    _mct_validator().validate(data)
    model = _bare_model()
    assert data["model_details"] == {
        "name": "bare",
        "version": {"name": "1", "date": "2025-03-14"},
        "citations": [
            {
                "style": "govkit model artifact",
                "citation": f"bare@1: {model.artifact_format} artifact, SHA-256 "
                f"{model.artifact_sha256}",
            }
        ],
    }


def test_json_follows_the_model_card_toolkit_schema(adult) -> None:  # type: ignore[no-untyped-def]
    text = card_json(adult.model, **adult.kwargs())
    data = json.loads(text)
    _mct_validator().validate(data)
    assert data["schema_version"] == "0.0.2"
    details = data["model_details"]
    assert details["owners"][0]["name"] == "credit-risk-ml@example.org"
    assert details["version"] == {"name": "3", "date": "2025-03-14"}
    assert details["references"] == [{"reference": "https://archive.ics.uci.edu/dataset/2/adult"}]
    anchor, artifact = details["citations"]
    assert "audit sequence 42" in anchor["citation"]
    assert "f6" * 32 in anchor["citation"]
    assert "verdict FAIL" in anchor["citation"]  # the overall verdict (it was absent)
    assert artifact == {
        "style": "govkit model artifact",
        "citation": f"credit-income@3: skops artifact, SHA-256 {adult.model.artifact_sha256}",
    }
    params = data["model_parameters"]
    assert [d["name"] for d in params["data"]] == ["adult-train@1", "adult-test@1"]
    assert params["data"][0]["sensitive"] == {"sensitive_data": ["sex", "race"]}
    perf = data["quantitative_analysis"]["performance_metrics"]
    assert {"type": "accuracy", "value": f"{adult.run.checks[4].value:.4g}"} in perf
    sliced = [p for p in perf if p.get("slice") == "sex=Female"]
    assert {p["type"] for p in sliced} >= {"selection_rate", "true_positive_rate"}
    considerations = data["considerations"]
    assert considerations["users"][0]["description"].startswith("Data scientists")
    limits = [x["description"] for x in considerations["limitations"]]
    assert any(
        x.startswith("Policy rule four-fifths-sex (fairness.demographic_parity_ratio) FAIL")
        for x in limits
    )
    assert any(x.startswith("Out of scope: Automated credit") for x in limits)
    # deterministic and small: aggregates only
    assert card_json(adult.model, **adult.kwargs()) == text
    assert len(text) < 50_000


def test_json_of_the_hand_built_card_is_valid() -> None:
    inputs = make_inputs()
    data = json.loads(card_json(inputs.model, **inputs.kwargs()))
    _mct_validator().validate(data)
    perf = data["quantitative_analysis"]["performance_metrics"]
    assert {"type": "demographic_parity_ratio", "value": "0.3312", "slice": "across sex"} in perf
