"""An erased customer stays erased: a later ingest (the same file again, or a new one) rejects
their lines with reason `erased_customer` and keeps no content of those rows, on both stores
and with pseudonymized ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnix.domain.ingest import IngestOptions
from tests.backends import StoreRef
from tests.integration.helpers import opened, query, write

FIRST = """customer_id,order_id,ts,product_id,quantity,unit_price
A,o1,2025-01-06 10:00,MILK,1,1.0
A,o1,2025-01-06 10:00,BREAD,2,2.0
B,o2,2025-01-07 10:00,MILK,1,1.0
"""

# a later export: A padded with spaces (the same customer), A's new order, B's new order
LATER = """customer_id,order_id,ts,product_id,quantity,unit_price
 A ,o1,2025-01-06 10:00,MILK,1,1.0
A,o3,2025-02-06 10:00,EGGS,1,3.0
B,o4,2025-02-07 10:00,EGGS,1,3.0
"""

KEY = "k" * 40


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "pseudonymized"])
def test_a_re_import_does_not_bring_an_erased_customer_back(
    tmp_path: Path, store: StoreRef, key: str | None
) -> None:
    settings = {"pseudonymize_key": key} if key else {}
    first, later = write(tmp_path / "first.csv", FIRST), write(tmp_path / "later.csv", LATER)
    with opened(store=store, **settings) as container:
        ingest = container.ingest_service()
        assert ingest.ingest([first], IngestOptions())[0].stored == 3
        container.privacy_service().erase("A")
        again = ingest.ingest([first], IngestOptions())[0]
        new = ingest.ingest([later], IngestOptions())[0]
        export_b = container.privacy_service().export("B")
    assert (again.read, again.stored, again.rejected) == (3, 1, 2)
    assert again.reject_reasons == {"erased_customer": 2} and again.inserted == 0
    assert (new.read, new.stored, new.rejected, new.inserted) == (3, 1, 2, 1)
    assert new.reject_reasons == {"erased_customer": 2}
    stored = query(store, "SELECT customer_id, order_id FROM transactions ORDER BY order_id")
    assert [o for _, o in stored] == ["o2", "o4"]  # B's orders only
    assert len({cid for cid, _ in stored}) == 1
    rejects = query(store, "SELECT reason, row_number, raw FROM rejects ORDER BY source_id, 2")
    assert (
        sorted((r[0], r[1]) for r in rejects)
        == [("erased_customer", 1)] * 2 + [("erased_customer", 2)] * 2
    )
    assert all(raw is None for _, _, raw in rejects)  # counted, not kept
    for path in (store / "rejects").glob("*.csv"):
        text = path.read_text()
        assert "MILK" not in text and "EGGS" not in text and "erased_customer" in text
    assert export_b["row_counts"]["transactions"] == 2  # other customers are untouched


def test_an_erasure_rejects_only_that_customer(tmp_path: Path, store: StoreRef) -> None:
    """Erasing B rejects nothing of a file without B (and B's hash matches no other id)."""
    only_b = "\n".join(FIRST.splitlines()[i] for i in (0, 3)) + "\n"
    without_b = LATER.replace("B,", "C,")
    with opened(store=store) as container:
        ingest = container.ingest_service()
        ingest.ingest([write(tmp_path / "b.csv", only_b)], IngestOptions())
        container.privacy_service().erase("B")
        (s,) = ingest.ingest([write(tmp_path / "f.csv", without_b)], IngestOptions())
    assert (s.read, s.stored, s.rejected, s.reject_reasons) == (3, 3, 0, {})
    assert query(store, "SELECT count(*) FROM erasures") == [(1,)]
