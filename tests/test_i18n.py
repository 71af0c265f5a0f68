"""Message catalogs: another locale's catalog is used, missing ids fall back (region ->
language -> English), every shipped locale is complete, and numbers follow the locale."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import pytest
import yaml
from _decision_helpers import credit_data, credit_metadata, lgbm_classifier
from babel import numbers

from govkit import _i18n
from govkit._i18n import available_locales, messages
from govkit._resources import resource_dir
from govkit.exceptions import InputError
from govkit.explainers import DecisionExplainer

pytest.importorskip("lightgbm")

SHIPPED = Path(str(resource_dir("templates"))) / "locales"

FRENCH = {
    "label": "votre {description}",
    "reason_first_raised": "{label} ({value}) a le plus augmenté le score.",
    "reason_first_lowered": "{label} ({value}) a le plus diminué le score.",
    # every other id is left out: it must come from English
}


@pytest.fixture
def catalogs(tmp_path, monkeypatch):
    """A templates folder with the shipped English catalogs plus a French and a fr-CA one."""
    templates = tmp_path / "templates"
    shutil.copytree(SHIPPED / "en", templates / "locales" / "en")
    (templates / "locales" / "fr").mkdir()
    (templates / "locales" / "fr" / "reasons.yaml").write_text(
        yaml.safe_dump(FRENCH, allow_unicode=True), encoding="utf-8"
    )
    (templates / "locales" / "fr-CA").mkdir()
    (templates / "locales" / "fr-CA" / "reasons.yaml").write_text(
        'label: "ton {description}"\n', encoding="utf-8"
    )
    monkeypatch.setattr(_i18n, "resource_dir", lambda kind: templates)
    _i18n._load.cache_clear()
    yield templates
    _i18n._load.cache_clear()


def test_a_second_locale_is_used_and_missing_ids_fall_back(catalogs):
    assert available_locales() == ("en", "fr", "fr-CA")
    french = messages("fr", "reasons")
    english = messages("en", "reasons")
    assert french["label"] == "votre {description}"
    assert french["reason_raised"] == english["reason_raised"]  # not translated: English
    assert set(french) == set(english)
    canadian = messages("fr-CA", "reasons")
    assert canadian["label"] == "ton {description}"  # the region's own
    assert canadian["reason_first_lowered"] == FRENCH["reason_first_lowered"]  # its language's
    assert canadian["value_missing"] == english["value_missing"]  # then English
    assert messages("fr-BE", "reasons")["label"] == "votre {description}"  # no folder: French


def test_explanations_in_another_locale(catalogs):
    X, y = credit_data(1_500)
    model = lgbm_classifier(n_estimators=20).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    row = X.iloc[[0]]
    ex = explainer.explain(row, locale="fr")
    assert ex.locale == "fr"
    first, *rest = ex.reasons
    verb = "augmenté" if first.effect == "raised" else "diminué"
    assert first.label.startswith("votre ")
    assert first.text == f"V{first.label[1:]} ({first.display_value}) a le plus {verb} le score."
    for r in rest:  # ids French leaves out are English sentences around French labels
        assert r.text.endswith(" the score.") and r.label.startswith("votre ")
    income = next((r for r in ex.reasons if r.feature == "income"), None)
    if income is not None:  # French number formatting from Babel (whole amount: no ",00")
        full = numbers.format_currency(income.value, "USD", locale="fr")
        assert income.display_value == full.replace(",00", "")
    english = explainer.explain(row)
    assert english.attributions == ex.attributions and english.score == ex.score
    assert english.reasons[0].text.endswith("the score the most.")


def test_unknown_locale_is_english(catalogs):
    X, y = credit_data(600)
    model = lgbm_classifier(n_estimators=10).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    ex = explainer.explain(X.iloc[[0]], locale="xx")
    assert ex.locale == "xx"
    assert all(r.label.startswith("your ") for r in ex.reasons)


@pytest.mark.parametrize("locale", ["", "english", "en/../fr", "EN", 7, None])
def test_malformed_locales_are_refused(locale):
    with pytest.raises(InputError, match="locale must look like 'en' or 'pt-BR'"):
        messages(locale, "reasons")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_shipped_locale_has_every_english_id():
    english = {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in SHIPPED.glob("en/*.yaml")
    }
    assert "reasons" in english
    for folder in SHIPPED.iterdir():
        if not folder.is_dir() or folder.name == "en":
            continue
        assert re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", folder.name), folder.name
        for domain, ids in english.items():
            path = folder / f"{domain}.yaml"
            assert path.is_file(), f"{folder.name} has no {domain}.yaml"
            own = yaml.safe_load(path.read_text(encoding="utf-8"))
            missing = set(ids) - set(own)
            assert not missing, f"{folder.name}/{domain}.yaml lacks {sorted(missing)}"
            for key, template in own.items():
                assert key in ids, f"{folder.name}/{domain}.yaml: unknown id {key!r}"
                assert _placeholders(template) == _placeholders(ids[key]), (folder.name, key)


def test_english_templates_are_well_formed():
    for path in SHIPPED.glob("en/*.yaml"):
        for key, template in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            assert isinstance(template, str), (path.name, key)
            _placeholders(template)  # raises on a malformed {field}
