"""Group fairness metric engine: confusion counts per group, metrics derived from them.

Every count-based group metric is a function of four per-group (optionally weighted)
counts tp, fp, tn, fn. :func:`group_table` computes them for every group of one or
more sensitive features in one vectorised pass (factorise each feature, combine the
codes, one ``np.bincount``); :class:`GroupTable` derives the metrics::

    table = group_table(y_true, y_pred, sensitive_features=df[["sex", "race"]], pos_label=1)
    table.metric("true_positive_rate")          # one value per group
    table.disparity("equalized_odds_ratio")     # one number
    table.to_frame()                            # one row per group, for evidence

Results equal fairlearn's ``MetricFrame`` (``by_group``, ``overall``,
``difference()``/``ratio()`` between groups) and its ``demographic_parity_*`` and
``equalized_odds_*`` functions (default ``agg="worst_case"``), including fairlearn's
zero-division conventions, listed with their source in ``_metrics.py``. Groups are the
cross product of the levels observed in each feature, ordered as fairlearn orders
``by_group`` (sorted by value; a categorical is sorted by value, not category order, and
unused categories are dropped); a combination with no rows has size 0 and NaN metrics.
Unnamed features are named ``sensitive_feature_0``, ``sensitive_feature_1``, ...

Missing values (None, NaN, pd.NA, NaT) in a sensitive feature raise
:class:`FairnessInputError`, as fairlearn raises ``ValueError`` for them
(``fairlearn/metrics/_group_feature.py``); fill them with an explicit level such as
``"Unknown"`` to audit that group.

Deliberate differences from fairlearn:

* Labels are binarised: any value other than ``pos_label`` is negative. fairlearn's
  rate functions raise on more than two distinct labels in a group, and scikit-learn's
  accuracy compares raw labels; with binary labels the results are the same.
  ``pos_label`` applies to ``y_true`` and ``y_pred`` (fairlearn's disparity functions
  take no ``pos_label`` and need 0/1 labels). A ``pos_label`` found in neither raises.
* Missing values in ``y_true`` / ``y_pred`` raise instead of counting as negatives.
* ``y_true=None`` is allowed: only the selection rate and demographic parity exist then.
* A group whose weights sum to 0 is NaN for every metric, like a group with no rows
  (fairlearn's selection rate is NaN there with a RuntimeWarning; its other metrics
  raise, as scikit-learn refuses all-zero weights). Zero weights on some rows of a
  group follow fairlearn. Weights must be finite and non-negative.
* Non-string column or Series names are converted with ``str()`` (fairlearn raises).
* At most ``MAX_GROUPS`` (1,000,000) combinations of levels.
* Only ``method="between_groups"``; no control features, no bootstrap.

Data too big for memory: :func:`group_table_dask` / :func:`group_tables_dask` take a
Dask DataFrame (e.g. from :func:`read_parquet`) and column names, count each partition
and sum the counts; the tables equal ``group_table`` on the same rows (weighted counts
up to float rounding). :func:`connect` gives a ``distributed`` client, local or remote.
Needs ``pip install 'govkit[dask]'``; dask is imported only when these are called.
"""

from govkit.fairness._counts import MAX_GROUPS
from govkit.fairness._dask import (
    connect,
    group_table_dask,
    group_tables_dask,
    is_dask_collection,
    read_parquet,
)
from govkit.fairness._errors import FairnessInputError
from govkit.fairness._metrics import COUNT_METRICS, DISPARITY_METRICS, CountMetric, DisparityMetric
from govkit.fairness._table import GroupTable, group_table

__all__ = [
    "GroupTable",
    "group_table",
    "group_table_dask",
    "group_tables_dask",
    "is_dask_collection",
    "read_parquet",
    "connect",
    "COUNT_METRICS",
    "DISPARITY_METRICS",
    "CountMetric",
    "DisparityMetric",
    "FairnessInputError",
    "MAX_GROUPS",
]
