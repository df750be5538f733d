"""Metrics for predicted counts per customer (purchases in a holdout period)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _pair(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if p.shape != a.shape or p.ndim != 1:
        raise ValueError(f"predicted and actual must be 1-D of one length: {p.shape} vs {a.shape}")
    return p, a


def mae(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Mean absolute error per customer (purchases); NaN for no customers."""
    p, a = _pair(predicted, actual)
    return float(np.mean(np.abs(p - a))) if len(p) else float("nan")


def pearson(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> float | None:
    """Pearson correlation across customers; None when either side is constant (undefined)."""
    p, a = _pair(predicted, actual)
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(a) == 0:
        return None
    return float(np.corrcoef(p, a)[0, 1])
