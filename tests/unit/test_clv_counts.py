from __future__ import annotations

import pytest

from omnix.evaluation.counts import mae, pearson


def test_mae_and_correlation_per_customer() -> None:
    assert mae([1.0, 2.0, 0.0], [0.0, 2.0, 2.0]) == pytest.approx(1.0)
    assert pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]) == pytest.approx(0.99795, abs=1e-5)


def test_correlation_is_undefined_for_a_constant_prediction() -> None:
    assert pearson([0.0, 0.0, 0.0], [1.0, 0.0, 2.0]) is None


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="one length"):
        mae([1.0], [1.0, 2.0])
