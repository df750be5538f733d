"""Consent per customer and purpose, and the default for customers without a record.

A customer's consent for a purpose is the latest record for that (customer, purpose); records
are kept as a log (when, from where) so a decision can be shown later. Customers without a
record get the configured default: `OMNIX_DEFAULT_CONSENT=granted|denied`, forced to denied in
EU mode (`OMNIX_EU_MODE=true`): profiling under GDPR Art. 22 / Recital 71 needs an opt-in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from omnix.domain.errors import ConfigError


class Purpose(StrEnum):
    """What a customer's data may be used for."""

    ANALYTICS = "analytics"  # aggregate reporting, segments
    PROFILING = "profiling"  # per-person spending profile (GDPR Art. 4(4))
    PERSONALIZATION = "personalization"  # recommendations, offers to the person
    AI_INSIGHTS = "ai_insights"  # the person's facts sent to a language model


# Analytics (segments, lifetime value, churn, rhythms) rests on the retailer's legitimate
# interest (GDPR Art. 6(1)(f)): granted unless the customer objects (Art. 21), whatever the
# configured default. The other purposes follow the default (opt-in in EU mode).
OPT_OUT = frozenset({Purpose.ANALYTICS})


def purpose_default(purpose: Purpose, default: bool) -> bool:
    """What a customer without a record for `purpose` counts as."""
    return True if purpose in OPT_OUT else default


class DefaultConsent(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    customer_id: str
    purpose: Purpose
    granted: bool
    recorded_at: datetime
    source: str


def default_granted(default: DefaultConsent | str, eu_mode: bool) -> bool:
    """Whether a customer without a consent record counts as granted.

    EU mode refuses a granted default: consent to profiling must be given, not presumed.
    Example: `default_granted("denied", eu_mode=True)` -> False.
    """
    try:
        choice = DefaultConsent(default)
    except ValueError:
        raise ConfigError(f"default consent must be granted or denied, got {default!r}") from None
    if eu_mode and choice is DefaultConsent.GRANTED:
        raise ConfigError(
            "OMNIX_EU_MODE=true refuses a granted default consent (GDPR Art. 22, Recital 71): "
            "set OMNIX_DEFAULT_CONSENT=denied or record consent per customer"
        )
    return choice is DefaultConsent.GRANTED


def latest_decision(records: Iterable[Mapping[str, Any]], purpose: Purpose) -> bool | None:
    """The customer's consent for `purpose` from their consent log rows (dicts with purpose,
    granted, recorded_at): the latest record wins, a denial at equal times; None when there
    is no record. The same rule as `analytics/consent.latest`, for one customer's rows read in
    a request. Example: records at 9:00 granted and 9:00 denied -> False."""
    rows = [r for r in records if r["purpose"] == purpose.value]
    if not rows:
        return None
    latest = max(r["recorded_at"] for r in rows)
    return all(bool(r["granted"]) for r in rows if r["recorded_at"] == latest)


def covers(records: Iterable[Mapping[str, Any]], purpose: Purpose, default: bool) -> bool:
    """Whether one customer's consent log rows cover `purpose` now: the latest record, else
    the purpose's default; and an objection to analytics covers no other purpose either
    (profiling, personalization and AI insights use what analytics derived), as
    `analytics/consent.permitted` decides for many customers."""
    rows = list(records)
    if purpose is not Purpose.ANALYTICS and latest_decision(rows, Purpose.ANALYTICS) is False:
        return False
    granted = latest_decision(rows, purpose)
    return purpose_default(purpose, default) if granted is None else granted


def parse_purpose(value: str) -> Purpose:
    try:
        return Purpose(value.strip().lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Purpose)
        raise ConfigError(f"purpose must be one of {allowed}, got {value!r}") from None
