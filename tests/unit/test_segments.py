"""RFM scoring, the segment rule table and the reasons in words."""

from __future__ import annotations

import itertools
import json
import tomllib

import numpy as np
import pytest

from omnix.domain.errors import ConfigError
from omnix.models.segments import (
    DEFAULT_RULES,
    RfmScores,
    SegmentRule,
    assign,
    currency_prefix,
    quintile_scores,
    reason,
    rfm_scores,
    rules_from_mapping,
    uncovered,
)

NAMES = {
    "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
}  # fmt: skip


def grid_scores() -> RfmScores:
    combos = np.array(list(itertools.product(range(1, 6), repeat=3)), dtype=np.int64)
    zeros = np.zeros(len(combos))
    return RfmScores(zeros, zeros, zeros, combos[:, 0], combos[:, 1], combos[:, 2])


def test_quintiles_of_distinct_values_are_equal_fifths() -> None:
    scores = quintile_scores(np.arange(100.0)[::-1])
    assert np.array_equal(np.bincount(scores, minlength=6)[1:], [20, 20, 20, 20, 20])
    assert scores[0] == 5 and scores[-1] == 1


def test_ties_share_a_score_and_lowest_is_one() -> None:
    assert quintile_scores([1, 1, 1, 2, 9]).tolist() == [1, 1, 1, 4, 5]
    assert quintile_scores([7, 7, 7]).tolist() == [1, 1, 1]
    assert quintile_scores([]).size == 0


def test_recency_scores_five_for_the_most_recent() -> None:
    s = rfm_scores(recency_days=[1, 400, 30, 200, 90], orders=[1, 2, 3, 4, 5],
                   monetary=[10, 50, 20, 40, 30])  # fmt: skip
    assert s.r.tolist() == [5, 1, 4, 2, 3]
    assert s.f.tolist() == [1, 2, 3, 4, 5]
    assert s.m.tolist() == [1, 5, 2, 4, 3]
    with pytest.raises(ValueError, match="same length"):
        rfm_scores([1, 2], [1], [1, 2])


def test_default_table_covers_all_125_combinations_with_eleven_segments() -> None:
    assert uncovered(DEFAULT_RULES) == []
    index = assign(grid_scores())
    assert len(index) == 125 and np.all(index >= 0)
    assert {DEFAULT_RULES[k].name for k in index.tolist()} == NAMES
    assert len(DEFAULT_RULES) == 11


@pytest.mark.parametrize(
    ("r", "f", "m", "name"),
    [
        (5, 5, 5, "Champions"), (4, 4, 4, "Champions"), (3, 5, 5, "Loyal"),
        (5, 3, 4, "Loyal"), (5, 2, 3, "Potential Loyalist"), (5, 1, 1, "New"),
        (4, 1, 2, "Promising"), (3, 3, 2, "Need Attention"), (3, 1, 1, "About to Sleep"),
        (1, 5, 5, "Can't Lose Them"), (2, 5, 5, "At Risk"), (1, 3, 3, "At Risk"),
        (2, 1, 2, "Hibernating"), (1, 1, 1, "Lost"),
    ],
)  # fmt: skip
def test_named_cells(r: int, f: int, m: int, name: str) -> None:
    one = np.array([r]), np.array([f]), np.array([m])
    scores = RfmScores(np.zeros(1), np.zeros(1), np.zeros(1), *one)
    assert DEFAULT_RULES[int(assign(scores)[0])].name == name


def test_first_matching_rule_wins_and_gaps_are_refused() -> None:
    wide = (SegmentRule("All", 1, 5, 1.0, 5.0), *DEFAULT_RULES)
    assert set(assign(grid_scores(), wide).tolist()) == {0}
    partial = (SegmentRule("Recent", 4, 5, 1.0, 5.0),)
    assert len(uncovered(partial)) == 75
    with pytest.raises(ConfigError, match="no rule"):
        assign(grid_scores(), partial)


def test_rule_table_from_toml_and_json() -> None:
    text = """
[[segments]]
name = "Active"
r = [3, 5]
fm = [1, 5]
description = "bought in the last months"

[[segments]]
name = "Dormant"
r = [1, 2]
fm = [1, 5]
"""
    rules = rules_from_mapping(tomllib.loads(text))
    assert [r.name for r in rules] == ["Active", "Dormant"]
    assert rules_from_mapping(json.loads(json.dumps(tomllib.loads(text)))) == rules
    with pytest.raises(ConfigError, match="leave 50 score combinations out"):
        rules_from_mapping({"segments": [{"name": "Active", "r": [3, 5], "fm": [1, 5]}]})
    with pytest.raises(ConfigError, match="need"):
        rules_from_mapping({"segments": [{"name": "x"}]})


def test_reason_in_words() -> None:
    champions = DEFAULT_RULES[0]
    text = reason(champions, 2.4, 12, 840.2, 5, 5, 4, currency_prefix("GBP"))
    assert text == "bought 3 days ago (R=5), 12 orders (F=5), spent £840 (M=4): Champions"
    lost = DEFAULT_RULES[-1]
    assert reason(lost, 1.0, 1, -5, 1, 1, 1) == (
        "bought yesterday (R=1), 1 order (F=1), spent -5 (M=1): Lost"
    )
    assert currency_prefix("chf") == "CHF " and currency_prefix(None) == ""
    assert "spent £0 (M=1)" in reason(lost, 1.0, 1, -1.8e-15, 1, 1, 1, "£")  # not "-£0"
    # data without prices: the monetary score is of items bought
    assert reason(champions, 0.2, 12, 412.0, 5, 5, 5, by_items=True) == (
        "bought yesterday (R=5), 12 orders (F=5), 412 items (M=5): Champions"
    )  # calendar days before the as-of day (0.2 days: the evening before), as rhythms say
    assert reason(champions, 3.0, 2, 5.0, 5, 2, 1).startswith("bought 3 days ago")
