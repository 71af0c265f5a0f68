"""The decision service's input checks: feature validation, the subject key, pseudonyms.

Every bad input names the field and what was expected, and never the value found
(it is a person's data and error messages reach logs and HTTP responses).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math

import pytest

from govkit.exceptions import InputError, InvalidFieldsError
from govkit.service import (
    SUBJECT_KEY_ENV,
    FeatureField,
    generate_subject_key,
    load_subject_key,
    parse_features_json,
    validate_features,
)

FIELDS = (
    FeatureField("age", "integer"),
    FeatureField("income", "number"),
    FeatureField("job", "string"),
    FeatureField("owner", "boolean"),
    FeatureField("code", "any"),
)
GOOD = {"age": 41, "income": 52000.5, "job": "Sales", "owner": False, "code": "x"}
CANARY = "Zyxwvut-canary-4711"


def test_valid_features_come_back_in_model_order():
    shuffled = dict(reversed(list(GOOD.items())))
    assert list(validate_features(FIELDS, shuffled)) == [f.name for f in FIELDS]
    assert validate_features(FIELDS, {**GOOD, "age": 41.0})["age"] == 41.0


@pytest.mark.parametrize(
    "change,field,problem",
    [
        ({"age": "41"}, "features.age", "expected a whole number, got a string"),
        ({"age": 41.5}, "features.age", "expected a whole number, got a fraction"),
        ({"age": True}, "features.age", "expected a whole number, got a boolean"),
        # beyond int64 (was an OverflowError building the model's row: a traceback)
        *[
            (
                {"age": big},
                "features.age",
                "expected a whole number within 64 bits (the model's column), got a larger one",
            )
            for big in (1e20, -1e308, 2**63, -(2**63) - 1)
        ],
        ({"income": math.nan}, "features.income", "expected a finite number, got NaN or infinity"),
        ({"income": math.inf}, "features.income", "expected a finite number, got NaN or infinity"),
        ({"income": None}, "features.income", "expected a finite number, got null"),
        ({"income": [1]}, "features.income", "expected a finite number, got an array"),
        ({"job": 3}, "features.job", "expected a string, got a number"),
        ({"job": {"a": 1}}, "features.job", "expected a string, got an object"),
        ({"owner": "yes"}, "features.owner", "expected true or false, got a string"),
        (
            {"code": -math.inf},
            "features.code",
            "expected a string, number or boolean, got NaN or infinity",
        ),
        ({"extra": 1}, "features.extra", "not an input of this model"),
        # a lone surrogate (JSON's "\\ud800"): no UTF-8 writer, log or database takes it
        (
            {"job": "x\ud800"},
            "features.job",
            "expected a string, got a string that is not valid Unicode text (a lone "
            "surrogate escape such as \\ud800)",
        ),
        ({"\udc00": 1}, "features.\\udc00", "not an input of this model"),
    ],
)
def test_each_bad_feature_is_named_with_what_was_expected(change, field, problem):
    with pytest.raises(InvalidFieldsError) as info:
        validate_features(FIELDS, {**GOOD, **change})
    assert info.value.problems == ((field, problem),)
    assert field in str(info.value) and problem in str(info.value)


def test_missing_features_and_all_problems_are_reported_together():
    with pytest.raises(InvalidFieldsError) as info:
        validate_features(FIELDS, {"age": CANARY, "zz": CANARY})
    fields = [f for f, _ in info.value.problems]
    assert fields == [
        "features.zz",
        "features.age",
        "features.income",
        "features.job",
        "features.owner",
        "features.code",
    ]
    assert dict(info.value.problems)["features.income"] == "missing"
    assert CANARY not in str(info.value)  # values are never echoed


def test_a_value_outside_the_encoders_categories_is_named_with_them():
    """Categories are the model's (its encoder learned them), so they may be listed; the
    value sent is not, and a misspelt one gets the closest category."""
    fields = (
        FeatureField("job", "string", categories=("Sales", "Tech-support")),
        FeatureField("band", "integer", categories=(1, 2, 3)),
        FeatureField("colour", "any", categories=tuple(f"c{i:02}" for i in range(40))),
    )
    good = {"job": "Sales", "band": 2, "colour": "c07"}
    assert validate_features(fields, {**good, "band": 2.0})["band"] == 2.0
    expected = 'not a category the model was trained on; expected one of "Sales", "Tech-support"'
    for value, problem in [
        ("sales", expected + ' (did you mean "Sales"?)'),
        ("tech support", expected + ' (did you mean "Tech-support"?)'),
        (CANARY, expected),
        ("", expected),
    ]:
        with pytest.raises(InvalidFieldsError) as info:
            validate_features(fields, {**good, "job": value})
        assert info.value.problems == (("features.job", problem),)
        assert CANARY not in str(info.value)
    with pytest.raises(InvalidFieldsError) as info:
        validate_features(fields, {**good, "band": 4, "colour": CANARY})
    assert info.value.problems == (
        ("features.band", "not a category the model was trained on; expected one of 1, 2, 3"),
        (
            "features.colour",
            "not a category the model was trained on; expected one of "
            + ", ".join(f'"c{i:02}"' for i in range(30))
            + " and 10 more",
        ),
    )
    # the kind comes first: a string for a whole number is a string, not an unknown category
    with pytest.raises(InvalidFieldsError, match="features.band: expected a whole number, got a"):
        validate_features(fields, {**good, "band": "2"})


def test_the_categories_are_those_of_encoders_that_read_the_column_as_sent():
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
    )

    from govkit.explainers._categories import known_categories

    X = pd.DataFrame(
        {
            "colour": ["red", "blue", "?", "red", "green", "blue"],
            "size": ["S", "M", "L", "M", "S", "L"],
            "name": ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"],
            "x": np.arange(6.0),
        }
    )
    y = [0, 1, 0, 1, 0, 1]
    prepare = ColumnTransformer(
        [
            (
                "colour",
                Pipeline(
                    [
                        ("impute", SimpleImputer(missing_values="?", strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                ["colour"],
            ),
            ("size", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), [1]),
            # values changed before the encoder: what it learned is not what a person sends
            (
                "name",
                Pipeline(
                    [
                        ("lower", FunctionTransformer(lambda f: f.apply(lambda c: c.str.lower()))),
                        ("encode", OneHotEncoder()),
                    ]
                ),
                ["name"],
            ),
            ("x", StandardScaler(), ["x"]),
        ]
    )
    model = Pipeline([("prepare", prepare), ("model", LogisticRegression())]).fit(X, y)
    assert known_categories([prepare], list(X.columns)) == {
        "colour": ("blue", "green", "red", "?"),  # the imputer's marker is accepted too
        "size": ("L", "M", "S"),
    }
    assert known_categories([], list(X.columns)) == {}  # no preprocessing, no categories
    assert model.predict(X).shape == (6,)


def test_features_must_be_an_object():
    with pytest.raises(InvalidFieldsError) as info:
        validate_features(FIELDS, [1, 2])
    assert info.value.problems == (("features", "expected an object, got an array"),)


def test_parse_features_json_points_at_the_syntax_error(tmp_path):
    with pytest.raises(InputError, match=r"row\.json:2:9: not valid JSON"):
        parse_features_json('{"a": 1,\n "b": 2,,}', source="row.json")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_parse_features_json_refuses_non_standard_numbers(token):
    with pytest.raises(InputError, match=f"{token} is not valid JSON"):
        parse_features_json(f'{{"a": {token}}}', source="row.json")


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"a": 1,\n "b": 2,\n "a": 3}', "row.json:3: features.a: given more than once"),
        ('{"a": {"b": 1, "b": 2}}', "row.json:1: features.a.b: given more than once"),
        ('{"a": [{"b": 1}, {"c": 1, "c": 2}]}', "row.json:1: features.a[1].c: given more"),
        # written two ways (an escape): no line, still the path
        ('{"\\u0061": 1, "a": 2}', "row.json: features.a: given more than once"),
    ],
)
def test_parse_features_json_refuses_a_repeated_key(text, message):
    with pytest.raises(InputError) as info:
        parse_features_json(text, source="row.json")
    assert str(info.value).startswith(message)
    assert "JSON keeps only the last" in str(info.value)


def test_parse_features_json_needs_an_object():
    with pytest.raises(InputError, match="expected a JSON object of feature values, got an array"):
        parse_features_json("[1]", source="row.json")


def test_subject_key_from_file_and_environment(tmp_path):
    key = generate_subject_key()
    raw = base64.b64decode(key)
    assert len(raw) == 32
    path = tmp_path / "subject.key"
    path.write_text(key + "\n")
    assert load_subject_key(path) == raw
    assert load_subject_key(environ={SUBJECT_KEY_ENV: raw.hex()}) == raw


@pytest.mark.parametrize("text", ["", "c2hvcnQ=", "not a key at all!", "ab" * 16])
def test_a_malformed_subject_key_is_refused_without_echoing_it(tmp_path, text):
    path = tmp_path / "k"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_subject_key(path)
    assert str(path) in str(info.value) and "at least 32 random bytes" in str(info.value)
    if text:
        assert text not in str(info.value)


def test_no_subject_key_says_where_it_looked(tmp_path):
    with pytest.raises(InputError, match=r"\$GOVKIT_SUBJECT_KEY.*--subject-key-file"):
        load_subject_key(environ={})
    with pytest.raises(InputError, match="subject key file not found"):
        load_subject_key(tmp_path / "missing.key")


def test_pseudonyms_are_keyed_per_tenant(tmp_path):
    from govkit.service import DecisionService
    from govkit.store import Store

    raw = b"k" * 32
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        service = DecisionService(store, subject_key=raw)
        p = service.pseudonym("acme", "alice")
        assert p == hmac.new(raw, b"acme\x00alice", hashlib.sha256).hexdigest()
        assert p != service.pseudonym("other", "alice")
        assert "alice" not in repr(service) and raw.decode() not in repr(service)
        with pytest.raises(InvalidFieldsError, match="subject_id: expected a non-empty string"):
            service.pseudonym("acme", " ")
        with pytest.raises(InvalidFieldsError, match="longer than 256"):
            service.pseudonym("acme", "x" * 257)
        with pytest.raises(InputError, match="needs the subject key"):
            DecisionService(store).pseudonym("acme", "alice")
        with pytest.raises(InputError, match="at least 32 random bytes"):
            DecisionService(store, subject_key=b"short")


def _dict_frame(loaded, clean):
    """The row frame as the general path builds it: one typed column at a time."""
    import numpy as np
    import pandas as pd

    columns = {}
    for f in loaded.fields:
        if f.kind in ("number", "integer") and loaded.dtypes.get(f.name) != "int":
            columns[f.name] = np.array([clean[f.name]], dtype=float)
        elif loaded.dtypes.get(f.name) == "int":
            columns[f.name] = np.array([int(clean[f.name])], dtype=np.int64)
        else:
            columns[f.name] = np.array([clean[f.name]], dtype=object)
    return pd.DataFrame(columns)


@pytest.mark.parametrize(
    ("fields", "dtypes", "one_array"),
    [
        ((FeatureField("age", "integer"), FeatureField("income", "number")), {}, True),
        ((FeatureField("age", "integer"), FeatureField("income", "number")), {"age": "int"}, False),
        (FIELDS, {}, False),
    ],
)
def test_the_row_frame_is_the_same_built_either_way(fields, dtypes, one_array):
    """All-float rows are built from one array (6x faster): the same frame, to the dtype."""
    import pandas as pd

    from govkit.service import DecisionService, _Loaded

    loaded = _Loaded(record=None, explainer=None, fields=fields, dtypes=dtypes)  # type: ignore[arg-type]
    assert (loaded.float_columns is not None) == one_array
    clean = validate_features(fields, {f.name: GOOD[f.name] for f in fields})
    frame = DecisionService._frame(loaded, clean)
    pd.testing.assert_frame_equal(frame, _dict_frame(loaded, clean), check_exact=True)
    assert list(frame.columns) == [f.name for f in fields]
