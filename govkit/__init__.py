"""govkit: governance, explainability and audit for machine-learning models.

``import govkit`` is cheap and silent: heavy libraries load when first used.
"""

from __future__ import annotations

__version__ = "0.1.0"
