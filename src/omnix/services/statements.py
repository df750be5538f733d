"""The rhythm sentence for many pairs at once, with Arrow compute instead of a Python loop.

It must read exactly like `PairRhythm.statement()` (tests/unit/test_statements.py checks both on
the same numbers); at 4.5M pairs a loop over dataclasses took longer than the model.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from omnix.domain.rhythm import LAPSED_INTERVALS, SIZE_BAND

_WEEKDAYS = np.array(["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"])  # 1970-01-01 = Thu
_MONTHS = np.array(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
)


def _days(n: npt.NDArray[np.int64]) -> pa.Array:
    text = pc.binary_join_element_wise(pa.array(n).cast(pa.string()), " days", "")
    return pc.if_else(pa.array(n == 1), "1 day", text)


def _when(day_numbers: npt.NDArray[np.int64]) -> pa.Array:
    dates = day_numbers.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12
    dom = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    parts = [
        pa.array(_WEEKDAYS[day_numbers % 7]),
        pa.array(dom).cast(pa.string()),
        pa.array(_MONTHS[month]),
    ]
    return pc.binary_join_element_wise(*parts, " ")


def _round(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.round(x).astype(np.int64)  # half to even, as Python's round()


def _units(n: npt.NDArray[np.float64]) -> pa.Array:
    """The number of `rhythm.units` ("1.5", "49"): tenths below 10, whole units from 10 on."""
    tenths = np.round(n * 10).astype(np.int64)
    small = pa.array(tenths // 10).cast(pa.string())
    decimal = pc.binary_join_element_wise(small, pa.array(tenths % 10).cast(pa.string()), ".")
    small = pc.if_else(pa.array(tenths % 10 == 0), small, decimal)
    return pc.if_else(pa.array(n >= 9.95), pa.array(_round(n)).cast(pa.string()), small)


def statements(
    names: pa.Array,
    interval_days: npt.NDArray[np.float64],
    usual_low: npt.NDArray[np.float64],
    usual_high: npt.NDArray[np.float64],
    days_since_last: npt.NDArray[np.int64],
    days_overdue: npt.NDArray[np.int64],
    expected_next_day: npt.NDArray[np.int64],
    units_per_purchase: npt.NDArray[np.float64],
    last_units: npt.NDArray[np.float64],
    purchases: npt.NDArray[np.int64],
) -> pa.Array:
    """One sentence per pair. Days are whole days; expected_next_day is days since 1970-01-01."""
    low, high = _round(usual_low), _round(usual_high)
    low_s, high_s = pa.array(low).cast(pa.string()), pa.array(high).cast(pa.string())
    usual = pc.binary_join_element_wise(" (usually ", low_s, " to ", high_s, ")", "")
    usual = pc.if_else(pa.array(high > low), usual, "")
    since = pc.if_else(
        pa.array(days_since_last == 0),
        "today",
        pc.binary_join_element_wise(_days(days_since_last), " ago", ""),
    )
    usual_units, last = _units(units_per_purchase), _units(last_units)
    ratio = last_units / units_per_purchase
    outside = pa.array((ratio < SIZE_BAND[0]) | (ratio > SIZE_BAND[1]))
    unusual = pc.and_(outside, pc.not_equal(last, usual_units))
    last_label = pc.if_else(
        pc.equal(last, "1"), "1 unit", pc.binary_join_element_wise(last, " units", "")
    )
    size = pc.binary_join_element_wise(" (", last_label, ", usually ", usual_units, ")", "")
    size = pc.if_else(unusual, size, "")
    late = pc.if_else(
        pa.array(days_overdue > 0),
        pc.binary_join_element_wise(", ", _days(days_overdue), " overdue", ""),
        "",
    )
    every, expected = _days(_round(interval_days)), _when(expected_next_day)
    lead = pc.if_else(
        pa.array(days_overdue >= LAPSED_INTERVALS * interval_days),
        "; if still buying it, next expected around ",
        "; next expected around ",
    )
    pieces = [
        "Buys ", names, " about every ", every, usual, "; last bought ", since, size, late,
        lead, expected, ".",
    ]  # fmt: skip
    once = [
        "Bought ", names, " once, ", since, "; typically rebought about every ", every, late,
        lead, expected, ".",
    ]  # fmt: skip
    return pc.if_else(
        pa.array(purchases <= 1),
        pc.binary_join_element_wise(*once, ""),
        pc.binary_join_element_wise(*pieces, ""),
    )
