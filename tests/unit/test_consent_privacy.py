"""Consent defaults (EU mode refuses a granted default) and the protected-attribute denylist."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnix.analytics.spending import COLUMNS as SPENDING_OUTPUT
from omnix.config import Settings
from omnix.domain.consent import Purpose, default_granted, latest_decision, parse_purpose
from omnix.domain.errors import ConfigError, InputError
from omnix.domain.privacy import PROTECTED_TERMS, protected_attribute, sensitive_categories
from omnix.domain.snapshots import EXPORT_COLUMNS, SNAPSHOT_COLUMNS
from omnix.generate.templates import CATEGORIES
from omnix.services.consent import parse_granted


def test_default_consent_and_eu_mode() -> None:
    assert default_granted("granted", eu_mode=False) is True
    assert default_granted("denied", eu_mode=False) is False
    assert default_granted("denied", eu_mode=True) is False
    with pytest.raises(ConfigError, match="EU_MODE"):
        default_granted("granted", eu_mode=True)
    with pytest.raises(ConfigError, match="granted or denied"):
        default_granted("maybe", eu_mode=False)


def test_latest_decision_is_the_newest_record_and_a_tie_is_a_denial() -> None:
    t0, t1 = datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 2, 9, tzinfo=UTC)
    p = Purpose.PERSONALIZATION.value

    def rec(purpose: str, granted: bool, at: datetime) -> dict[str, object]:
        return {"purpose": purpose, "granted": granted, "recorded_at": at}

    assert latest_decision([], Purpose.PERSONALIZATION) is None
    assert latest_decision([rec("analytics", True, t1)], Purpose.PERSONALIZATION) is None
    assert latest_decision([rec(p, False, t0), rec(p, True, t1)], Purpose.PERSONALIZATION)
    assert not latest_decision([rec(p, True, t0), rec(p, False, t1)], Purpose.PERSONALIZATION)
    tie = [rec(p, True, t1), rec(p, False, t1), rec(p, True, t0)]
    assert latest_decision(tie, Purpose.PERSONALIZATION) is False


def test_settings_default_is_denied_and_eu_mode_refuses_a_granted_override() -> None:
    assert Settings().profiling_default() is False  # privacy by default (Art. 25)
    assert Settings(default_consent="granted").profiling_default() is True
    assert Settings().profiling_default("granted") is True  # the CLI flag wins
    eu = Settings(eu_mode=True)
    assert eu.profiling_default() is False
    with pytest.raises(ConfigError):
        eu.profiling_default("granted")
    with pytest.raises(ConfigError):
        Settings(eu_mode=True, default_consent="granted").profiling_default()


def test_private_label_names_from_settings() -> None:
    settings = Settings(private_labels=" Omni, Everyday Basics ,", retailer_name="Omni")
    assert settings.private_label_names() == ("Omni", "Everyday Basics")
    assert Settings().private_label_names() == ()


def test_purposes_and_flags() -> None:
    assert {p.value for p in Purpose} == {"analytics", "profiling", "personalization",
                                          "ai_insights"}  # fmt: skip
    assert parse_purpose(" Profiling ") is Purpose.PROFILING
    with pytest.raises(ConfigError, match="purpose must be one of"):
        parse_purpose("marketing")
    assert parse_granted("yes", "x") and parse_granted(True, "x") and not parse_granted("0", "x")
    with pytest.raises(InputError, match="row 3"):
        parse_granted("perhaps", "row 3")


@pytest.mark.parametrize(
    ("name", "attribute"),
    [
        ("Pharmacy & Health", "health"),
        ("vitamins_supplements", "health"),
        ("Halal meat", "religion"),
        ("Kosher", "religion"),
        ("Ethnic foods", "ethnicity"),
        ("World Foods", "ethnicity"),
        ("LGBT pride", "sexual_orientation"),
        ("Condoms", "sexual_orientation"),
        ("Political magazines", "politics"),
    ],
)
def test_protected_attributes_are_recognised(name: str, attribute: str) -> None:
    assert protected_attribute(name) == attribute


def test_ordinary_categories_are_not_protected() -> None:
    ordinary = [*CATEGORIES, "Onions", "wine", "Dairy", "frozen pizza", "Drinks"]
    assert sensitive_categories(ordinary) == []
    assert sensitive_categories(["dairy", "Pharmacy", "Halal"]) == ["Halal", "Pharmacy"]


def test_no_output_column_names_or_keys_on_a_protected_attribute() -> None:
    """The denylist check on everything omnix writes per customer: no column of the spending
    profile, the snapshot or the export names a protected attribute."""
    names = [*SPENDING_OUTPUT, *(n for n, _ in SNAPSHOT_COLUMNS), *EXPORT_COLUMNS]
    flagged = {n: protected_attribute(n) for n in names if protected_attribute(n)}
    assert flagged == {}
    assert set(PROTECTED_TERMS) == {"health", "religion", "ethnicity", "sexual_orientation",
                                    "politics"}  # fmt: skip


def test_consent_files_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    """An empty file stopped with "unexpected ArrowInvalid: Empty CSV file" (exit 70); a
    wrong header reported "row 2: missing customer_id" as if one row lacked a value."""
    from omnix.services.consent import _read

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: cannot read as CSV"):
        _read(empty)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("cust,purpose,granted\nA,profiling,true\n")
    with pytest.raises(InputError, match=r"no customer_id column .*it has cust, purpose"):
        _read(wrong)
    good = tmp_path / "good.csv"
    good.write_text("customer_id,purpose,granted\n007,profiling,true\n")
    assert _read(good) == [{"customer_id": "007", "purpose": "profiling", "granted": True}]


def test_analytics_is_opt_out_and_the_other_purposes_follow_the_default() -> None:
    from omnix.domain.consent import purpose_default

    assert purpose_default(Purpose.ANALYTICS, False) is True
    for purpose in (Purpose.PROFILING, Purpose.PERSONALIZATION, Purpose.AI_INSIGHTS):
        assert purpose_default(purpose, False) is False
        assert purpose_default(purpose, True) is True
