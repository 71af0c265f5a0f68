"""The sentences of a decision letter, built from a decision and its model's metadata.

Everything a letter says is decided here, in Python, as plain text: which
sentences, which generic sentence stands in for missing metadata, how numbers
and dates read in the locale. The template only lays the result out and
escapes it. Every value read from the decision or the metadata goes through
:class:`_Writer`, which bounds its size (the limits below) and counts the text
the letter prints, so the layout that follows is bounded too.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sized
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from govkit import __version__, _i18n
from govkit.decisions import Counterfactual, Decision, DecisionExplanation
from govkit.exceptions import InputError, RenderError
from govkit.records import DecisionSpec, ModelMetadata, ModelVersionRecord

__all__ = [
    "LetterView",
    "LetterMeta",
    "DataGroup",
    "letter_view",
    "MAX_SHORT_CHARS",
    "MAX_PROSE_CHARS",
    "MAX_REASONS",
    "MAX_FEATURES",
    "MAX_LETTER_CHARS",
]

#: The longest short value a letter prints (a name, label, outcome, reason sentence, contact).
MAX_SHORT_CHARS = 1_000
#: The longest paragraph a letter prints (how to contest, what the score means, ...).
MAX_PROSE_CHARS = 5_000
#: The most reasons (and the most counterfactual changes) a letter lists.
MAX_REASONS = 20
#: The most input features of one decision (their data categories are listed).
MAX_FEATURES = 500
#: All printed text of one letter together (about a dozen pages).
MAX_LETTER_CHARS = 50_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORMATTER = string.Formatter()

# Estimator class names (lower case, first match wins) -> catalog id of the model type.
_MODEL_KINDS = (
    (re.compile(r"gradientboosting|lgbm|lightgbm|xgb|catboost|booster"), "gradient_boosting"),
    (re.compile(r"randomforest|extratrees"), "random_forest"),
    (re.compile(r"decisiontree"), "decision_tree"),
    (re.compile(r"logisticregression"), "logistic"),
    (re.compile(r"svc$|svr$|svm"), "support_vector"),
    (re.compile(r"linear|ridge|lasso|elasticnet|sgd"), "linear"),
    (re.compile(r"mlp"), "neural_network"),
    (re.compile(r"kneighbors"), "nearest_neighbours"),
    (re.compile(r"nb$|naivebayes"), "naive_bayes"),
)
# Explanation methods (DecisionExplanation.method) as they are known in the literature.
_METHODS = {
    "tree": "SHAP (tree)",
    "lightgbm-native": "SHAP (tree, LightGBM)",
    "xgboost-native": "SHAP (tree, XGBoost)",
    "linear": "SHAP (linear)",
    "permutation": "SHAP (permutation)",
    "kernel": "SHAP (kernel)",
}


@dataclass(frozen=True, slots=True)
class LetterMeta:
    """What the HTML head says about the letter, and WeasyPrint copies into the PDF."""

    title: str
    author: str
    subject: str
    keywords: str
    created: str  # W3C date-time of the decision


@dataclass(frozen=True, slots=True)
class DataGroup:
    category: str | None  # "Financial situation:"; None: no feature declares a category
    items: str  # labels joined by the catalog's separator


@dataclass(frozen=True, slots=True)
class LetterView:
    """Everything one letter says, as plain sentences (escaped by the template)."""

    lang: str
    meta: LetterMeta
    controller_name: str | None
    title: str
    date: str
    reference: str
    outcome: str
    favourable: bool
    decision_sentence: str
    made_on: str
    unreliable: bool
    reasons_intro: str
    reasons: tuple[str, ...]
    other_reasons: tuple[str, ...]
    data_intro: str
    data_groups: tuple[DataGroup, ...]
    logic: tuple[str, ...]
    counterfactual: tuple[str, ...] | None  # None: no counterfactual was searched for
    significance: str
    consequences: str
    contest: str
    review: str
    contact: str | None  # the metadata's contact, as declared
    contact_note: str  # quote the reference (or, with no contact, whom to write to)
    controller: str
    record: tuple[tuple[str, str], ...]
    generated: str
    page_number_css: Markup  # CSS built here from the catalog, every character escaped


class _Writer:
    """The catalog of one locale, and the size checks of every value a letter prints."""

    def __init__(self, locale: str) -> None:
        self.t = _i18n.messages(locale, "letter")
        self.total = 0

    def say(self, key: str, **values: str) -> str:
        """Message ``key`` with its placeholders filled by plain text (no attribute access)."""
        template = self.t.get(key)
        if template is None:
            raise RenderError(f"the letter catalog has no message {key!r}; reinstall govkit")
        out: list[str] = []
        for literal, field, spec, conversion in _FORMATTER.parse(template):
            out.append(literal)
            if field is None:
                continue
            if field not in values or spec or conversion:
                allowed = ", ".join("{" + v + "}" for v in values) or "none"
                raise RenderError(
                    f"letter message {key!r} uses the placeholder {{{field}}}, which a letter "
                    f"does not fill; it may use {allowed}"
                )
            out.append(values[field])
        return "".join(out)

    def text(self, path: str, value: object, *, prose: bool = False) -> str:
        """``value`` as printable text, refused (naming ``path``, never the value) when too long."""
        value = value if isinstance(value, str) else str(value)
        limit = MAX_PROSE_CHARS if prose else MAX_SHORT_CHARS
        if len(value) > limit:
            kind = "paragraph" if prose else "short field"
            raise RenderError(
                f"letter input too large: {path} is {len(value):,} characters; a letter "
                f"{kind} holds at most {limit:,}. A letter is read by a person: keep it "
                "short and give the address of longer documents instead"
            )
        self.total += len(value)
        if self.total > MAX_LETTER_CHARS:
            raise RenderError(
                f"letter input too large: over {MAX_LETTER_CHARS:,} characters of text in all "
                f"(reached at {path}); shorten the metadata texts or the reasons"
            )
        return _CONTROL.sub("", value).strip()

    def optional(self, path: str, value: str | None, *, prose: bool = False) -> str | None:
        """Like :meth:`text`; None (the caller's generic sentence) for a missing or blank value."""
        return None if value is None else (self.text(path, value, prose=prose) or None)

    @staticmethod
    def count(path: str, items: Sized, limit: int) -> None:
        if len(items) > limit:
            raise RenderError(
                f"letter input too large: {path} has {len(items):,} entries; at most {limit:,}"
            )

    def number(self, value: float, digits: int) -> str:
        return f"{value:.{digits}f}".replace(".", self.say("decimal_mark"))

    def date(self, moment: datetime) -> str:
        month = self.say(f"month_{moment.month}")
        return self.say("date_format", day=str(moment.day), month=month, year=str(moment.year))

    def page_number_css(self) -> Markup:
        """The ``page_number`` message as a CSS ``content`` value: strings and counters."""
        parts: list[str] = []
        for literal, field, _, _ in _FORMATTER.parse(self.t.get("page_number", "")):
            if literal:  # every character escaped: nothing in a catalog can end the rule
                parts.append('"' + "".join(f"\\{ord(c):06x}" for c in literal) + '"')
            if field is not None:
                if field not in ("page", "pages"):
                    raise RenderError(
                        f"letter message 'page_number' uses the placeholder {{{field}}}; "
                        "it may use {page}, {pages}"
                    )
                parts.append(f"counter({field})")
        return Markup(" ".join(parts) or '""')


def _check_features(decision: Decision) -> None:
    """The input values are not printed, but they are bounded like everything else."""
    _Writer.count("decision.features", decision.features, MAX_FEATURES)
    for name, value in decision.features.items():
        if len(name) > MAX_SHORT_CHARS:
            raise RenderError(
                f"letter input too large: a feature name of decision.features is "
                f"{len(name):,} characters; at most {MAX_SHORT_CHARS:,}"
            )
        if isinstance(value, str) and len(value) > MAX_SHORT_CHARS:
            raise RenderError(
                f"letter input too large: decision.features[{name[:40]!r}] is "
                f"{len(value):,} characters; at most {MAX_SHORT_CHARS:,}"
            )


def _score_digits(score: float, threshold: float) -> tuple[int, int]:
    """Digits for the threshold (as written) and the score (enough to tell them apart)."""
    t_digits = next((d for d in range(2, 7) if abs(round(threshold, d) - threshold) < 1e-12), 6)
    s_digits = 2
    while s_digits < 6 and score != threshold:
        if round(score, s_digits) != round(threshold, s_digits):
            break
        s_digits += 1
    return t_digits, max(s_digits, t_digits)


def _model_type(w: _Writer, estimator: str) -> str:
    """Plain words for an estimator such as ``Pipeline[HistGradientBoostingClassifier]``."""
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", estimator)
    name = (names[-1] if names else estimator).lower()  # the innermost: the final estimator
    for pattern, kind in _MODEL_KINDS:
        if pattern.search(name):
            return w.say(f"model_{kind}")
    return w.say("model_generic", estimator=estimator)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


# ------------------------------------------------------------------ sections


def _reasons(w: _Writer, ex: DecisionExplanation) -> tuple[str, list[str], list[str]]:
    """The intro, the reasons towards the outcome (by rank), and those that weighed against."""
    w.count("decision.explanation.reasons", ex.reasons, MAX_REASONS)
    principal: list[str] = []
    other: list[str] = []
    for i, r in sorted(enumerate(ex.reasons), key=lambda item: item[1].rank):
        text = w.text(f"decision.explanation.reasons[{i}].text", r.text)
        (principal if r.towards_outcome else other).append(text)
    if not ex.reasons:
        return w.say("reasons_none"), principal, other
    return w.say("reasons_intro" if ex.reliable else "reasons_intro_unreliable"), principal, other


def _data(w: _Writer, decision: Decision, meta: ModelMetadata) -> tuple[str, tuple[DataGroup, ...]]:
    """The kinds of data used, grouped by declared category in order of first appearance."""
    groups: dict[str | None, list[str]] = {}
    for name in decision.features:
        fs = meta.feature_spec(name)
        where = f"model.metadata.features[{name[:40]!r}]"
        label = w.optional(f"{where}.description", fs.description)
        if label is None:  # the feature's name, made readable
            readable = re.sub(r"[\s_.-]+", " ", name).strip() or name
            label = w.text("decision.features (name)", readable)
        category = w.optional(f"{where}.data_category", fs.data_category)
        items = groups.setdefault(_capitalise(category) if category else None, [])
        if _capitalise(label) not in items:
            items.append(_capitalise(label))
    categorised = any(c is not None for c in groups)
    if None in groups and categorised:
        groups[w.say("data_other")] = groups.pop(None)
    sep = w.say("list_separator")
    data = tuple(
        DataGroup(None if c is None else w.say("data_category", category=c), sep.join(items))
        for c, items in groups.items()
    )
    if not data:
        return w.say("data_none"), data
    return w.say("data_intro" if categorised else "data_intro_plain"), data


def _logic(
    w: _Writer, model: ModelVersionRecord, spec: DecisionSpec, ex: DecisionExplanation, method: str
) -> list[str]:
    """The model in plain words, what the score means (with the person's score), the reasons."""
    estimator = w.text("model.estimator", model.estimator)
    good = w.text("model.metadata.decision.favourable_outcome", spec.favourable_outcome)
    bad = w.text("model.metadata.decision.unfavourable_outcome", spec.unfavourable_outcome)
    high, low = (good, bad) if spec.positive_is_favourable else (bad, good)
    t_digits, s_digits = _score_digits(ex.score, ex.threshold)
    score, threshold = w.number(ex.score, s_digits), w.number(ex.threshold, t_digits)
    logic = [w.say("logic_model", model=_model_type(w, estimator))]
    description = w.optional("model.metadata.description", model.metadata.description, prose=True)
    if description:
        logic.append(w.say("logic_about", description=description))
    meaning = w.optional("model.metadata.decision.score_meaning", spec.score_meaning, prose=True)
    if meaning:
        logic.append(meaning)
        logic.append(
            w.say("logic_score_given", score=score, threshold=threshold, high_outcome=high)
        )
    else:
        logic.append(
            w.say(
                "logic_score_generic",
                score=score,
                threshold=threshold,
                high_outcome=high,
                low_outcome=low,
            )
        )
    if ex.reasons:
        logic.append(w.say("logic_reasons"))
        key = "logic_method" if ex.reliable else "logic_method_unreliable"
        logic.append(w.say(key, method=method))
    return logic


def _counterfactual(w: _Writer, cf: Counterfactual, other_outcome: str) -> tuple[str, ...]:
    """The sentence "If ... had been ..., the decision would have been ...", or none found."""
    path = "decision.explanation.counterfactual"
    w.count(f"{path}.changes", cf.changes, MAX_REASONS)
    if cf.found and cf.changes:
        changes = w.say("counterfactual_and").join(
            w.say(
                "counterfactual_change",
                label=w.text(f"{path}.changes[{i}].label", c.label),
                proposed=w.text(f"{path}.changes[{i}].display_proposed", c.display_proposed),
                current=w.text(f"{path}.changes[{i}].display_current", c.display_current),
            )
            for i, c in enumerate(cf.changes)
        )
        return (
            w.say("counterfactual_found", changes=changes, outcome=other_outcome),
            w.say("counterfactual_note"),
        )
    if cf.found:  # found, yet no change listed: say what the engine said
        return (w.text(f"{path}.text", cf.text, prose=True),)
    searched = w.text(f"{path}.searched", cf.searched, prose=True)
    if not searched:
        return (w.say("counterfactual_none"),)
    return w.say("counterfactual_none"), w.say("counterfactual_searched", searched=searched)


# ------------------------------------------------------------------ the letter


def letter_view(decision: Decision, model: ModelVersionRecord) -> LetterView:
    """The sentences of the letter about ``decision`` made with ``model``.

    Raises:
        InputError: the decision was made with another model version, or its locale is invalid.
        RenderError: a value is over a size limit (see the module docstring).
    """
    ref = decision.model
    if ref.name != model.name or (ref.version is not None and ref.version != model.version):
        raise InputError(
            f"decision {decision.decision_id[:80]!r} was made with model {ref}, but the letter "
            f"was given the record of {model.ref}; pass the model version that made the decision"
        )
    ex = decision.explanation
    meta = model.metadata
    spec = meta.decision or DecisionSpec()
    w = _Writer(ex.locale)
    _check_features(decision)
    d = "model.metadata.decision"

    subject = w.text(f"{d}.subject", spec.subject)
    outcome = w.text("decision.explanation.outcome", ex.outcome)
    reference = w.text("decision.decision_id", decision.decision_id)
    controller = w.optional(f"{d}.controller", spec.controller)
    owner = w.optional("model.metadata.owner", meta.owner)
    contact = w.optional("model.metadata.contact", meta.contact)
    moment = decision.created_at
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    date = w.date(moment)
    method_name = w.text("decision.explanation.method", ex.method)
    method = _METHODS.get(method_name, method_name)

    intro, principal, other = _reasons(w, ex)
    data_intro, data_groups = _data(w, decision, meta)
    logic = _logic(w, model, spec, ex, method)
    counterfactual = None
    if ex.counterfactual is not None:
        other_outcome = spec.unfavourable_outcome if ex.favourable else spec.favourable_outcome
        counterfactual = _counterfactual(w, ex.counterfactual, other_outcome)

    significance = w.optional(f"{d}.significance", spec.significance, prose=True)
    consequences = w.optional(f"{d}.consequences", spec.consequences, prose=True)
    contest = w.optional(f"{d}.how_to_contest", spec.how_to_contest, prose=True)
    review = w.optional(f"{d}.human_review", spec.human_review, prose=True)
    if contact:
        contact_note = w.say("contact_quote", reference=reference)
    else:
        whom = controller or w.say("controller_fallback")
        contact_note = w.say("contact_generic", controller=whom, reference=reference)

    if decision.audit_sequence is not None:
        audit = w.say("record_audit_value", sequence=str(decision.audit_sequence))
    else:
        audit = w.say("record_audit_missing")
    when = w.say("time_format", date=date, hour=f"{moment:%H}", minute=f"{moment:%M}")
    record = (
        (w.say("record_reference"), reference),
        (w.say("record_time"), when),
        (w.say("record_model"), w.text("model (name@version)", str(model.ref))),
        (w.say("record_audit"), audit),
        (
            w.say("record_method"),
            method if ex.reliable else w.say("record_method_unverified", method=method),
        ),
    )
    title = w.say("title", subject=subject)
    return LetterView(
        lang=ex.locale,
        meta=LetterMeta(
            title=title,
            author=controller or owner or "govkit",
            subject=w.say("pdf_subject", reference=reference, subject=subject, outcome=outcome),
            keywords=w.say("pdf_keywords"),
            created=f"{moment:%Y-%m-%dT%H:%M:%SZ}",
        ),
        controller_name=controller,
        title=title,
        date=date,
        reference=reference,
        outcome=outcome,
        favourable=ex.favourable,
        decision_sentence=w.say("decision_sentence", subject=subject, outcome=outcome),
        made_on=w.say("decision_made_on", date=date),
        unreliable=not ex.reliable,
        reasons_intro=intro,
        reasons=tuple(principal),
        other_reasons=tuple(other),
        data_intro=data_intro,
        data_groups=data_groups,
        logic=tuple(logic),
        counterfactual=counterfactual,
        significance=significance
        or w.say("significance_generic", subject=subject, outcome=outcome),
        consequences=consequences or w.say("consequences_generic", subject=subject),
        contest=contest or w.say("contest_generic", reference=reference),
        review=review or w.say("review_generic"),
        contact=contact,
        contact_note=contact_note,
        controller=w.say("controller_sentence", controller=controller)
        if controller
        else w.say("controller_generic"),
        record=record,
        generated=w.say("record_generated", version=__version__),
        page_number_css=w.page_number_css(),
    )
