"""The reason of a recommendation in words, for many rows at once (Arrow compute)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnix.models.baskets import FloatArray
from omnix.models.recommend.replenishment import DUE_WITHIN_DAYS, Rhythm

FIXED = {
    "collaborative": "customers like you also buy this",
    "segment": "popular with customers in your segment",
    "popular": "popular with all customers",
}


def _num(values: FloatArray) -> pa.Array:
    return pa.array(np.round(np.nan_to_num(values)).astype(np.int64)).cast(pa.string())


def replenishment_reasons(r: Rhythm) -> pa.Array:
    """ "you buy this about every 7 days and it is due" (or "...; next due in 5 days");
    "you bought this before" when it has no rhythm yet (one purchase day)."""
    every = pc.binary_join_element_wise("you buy this about every ", _num(r.interval_days),
                                        " days", "")  # fmt: skip
    due = pa.array(np.nan_to_num(r.days_until_due, nan=np.inf) <= DUE_WITHIN_DAYS)
    later = pc.binary_join_element_wise(every, "; next due in ", _num(r.days_until_due),
                                        " days", "")  # fmt: skip
    with_rhythm = pc.if_else(due, pc.binary_join_element_wise(every, " and it is due", ""), later)
    rhythmic = pa.array((np.nan_to_num(r.purchases) >= 2) & np.isfinite(r.interval_days))
    return pc.if_else(rhythmic, with_rhythm, "you bought this before")


def reasons(source: pa.Array, evidence_name: pa.Array, replenishment: pa.Array) -> pa.Array:
    """One reason per row from its source, the name of the item behind it (content,
    complements) and the replenishment sentence (used where source is replenishment)."""
    name = pc.fill_null(evidence_name, "what you buy")
    out = pc.if_else(pc.equal(source, "replenishment"), replenishment, FIXED["popular"])
    out = pc.if_else(pc.equal(source, "collaborative"), FIXED["collaborative"], out)
    out = pc.if_else(pc.equal(source, "segment"), FIXED["segment"], out)
    similar = pc.binary_join_element_wise("similar to the ", name, " you buy", "")
    out = pc.if_else(pc.equal(source, "content"), similar, out)
    goes = pc.binary_join_element_wise("goes with the ", name, " in your last basket", "")
    return pc.if_else(pc.equal(source, "complements"), goes, out)
