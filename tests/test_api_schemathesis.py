"""schemathesis against the API's own OpenAPI spec, over real HTTP, with a real API key.

Generated requests (valid and invalid: positive and negative modes) for every operation
must never get a 5xx, every status must be declared in the spec for that operation, and
every response body must match its declared schema. The server is uvicorn on loopback
in front of the real DecisionService (SQLite, LightGBM). Examples are bounded so the
file runs in seconds; hypothesis derandomised so a failure reproduces.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from api_helpers import FEATURES, MODEL, build_world, serve  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    response_schema_conformance,
    status_code_conformance,
)

from govkit.api import create_app  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
BOUNDED = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("api-schemathesis"))
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def server(world):
    with serve(create_app(world.service)) as url:
        yield url


# The spec as the app serves it (it depends on no backend state); the test below checks
# the live server serves exactly this document.
SPEC = create_app(None).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


def test_the_server_serves_the_spec_under_test(api_schema):
    assert api_schema.raw_schema == SPEC


@schema.parametrize()
@BOUNDED
def test_every_operation_conforms_to_the_spec(case, world, server):
    case.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)


@schema.include(method="POST", path="/v1/models/{name}/versions/{version}/decisions").parametrize()
@BOUNDED
def test_generated_decisions_on_the_real_model_conform(case, world, server):
    """The decision route with the registered model: the backend sees generated features."""
    case.path_parameters = {"name": MODEL, "version": 1}
    response = case.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)
    if case.method.upper() != "POST":  # negative mode also tries other methods
        assert response.status_code == 405, response.text
    elif response.status_code == 201:
        assert set(response.json()["attributions"]) == set(FEATURES)
    else:
        assert response.status_code in (413, 415, 422), response.text


def test_a_valid_decision_conforms(world, server, api_schema):
    """One certainly-valid request through schemathesis' own response validation."""
    operation = api_schema["/v1/models/{name}/versions/{version}/decisions"]["POST"]
    case = operation.Case(
        path_parameters={"name": MODEL, "version": 1},
        body={"features": world.row(0), "subject_id": "schemathesis-subject"},
        media_type="application/json",
    )
    response = case.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)
    assert response.status_code == 201
    decision_id = response.json()["decision_id"]
    read = api_schema["/v1/decisions/{decision_id}"]["GET"]
    for fmt in ("json", "html", "pdf"):
        case = read.Case(path_parameters={"decision_id": decision_id}, query={"format": fmt})
        got = case.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)
        assert got.status_code == 200
    erase = api_schema["/v1/subjects/{subject_id}"]["DELETE"]
    case = erase.Case(path_parameters={"subject_id": "schemathesis-subject"})
    erased = case.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)
    assert erased.json() == {"subject_erased": True, "decisions_erased": 1}
    # the same erasure with the id in the body: a second subject's decision, then POST
    case = operation.Case(
        path_parameters={"name": MODEL, "version": 1},
        body={"features": world.row(1), "subject_id": "schemathesis-posted"},
        media_type="application/json",
    )
    assert case.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)
    posted = api_schema["/v1/erasures"]["POST"].Case(
        body={"subject_id": "schemathesis-posted"}, media_type="application/json"
    )
    erased = posted.call_and_validate(base_url=server, headers=world.auth("all"), checks=CHECKS)
    assert erased.json() == {"subject_erased": True, "decisions_erased": 1}
