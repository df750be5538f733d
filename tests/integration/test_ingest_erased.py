"""An erased customer stays erased: a later ingest (the same file again, or a new one) rejects
their lines with reason `erased_customer` and keeps no content of those rows, on both stores
and with pseudonymized ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnix.domain.contract import Kind
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


CUSTOMERS = """customer_id,postcode,full_name
A,SW1A 1AA,Alice Example
B,EC1A 1BB,Bob Example
"""


def test_a_customers_file_does_not_bring_an_erased_record_back(
    tmp_path: Path, store: StoreRef
) -> None:
    """Re-importing the customers table restored A's record: name, postcode and all."""
    records, lines = write(tmp_path / "c.csv", CUSTOMERS), write(tmp_path / "t.csv", FIRST)
    kind = IngestOptions(kind=Kind.CUSTOMERS)
    with opened(store=store) as container:
        ingest = container.ingest_service()
        ingest.ingest([records], kind)
        ingest.ingest([lines], IngestOptions())
        container.privacy_service().erase("A")
        (again,) = ingest.ingest([records], kind)
    assert (again.read, again.stored, again.rejected) == (2, 1, 1)
    assert again.reject_reasons == {"erased_customer": 1}
    assert query(store, "SELECT customer_id FROM customers") == [("B",)]
    assert query(store, "SELECT raw FROM rejects WHERE reason = 'erased_customer'") == [(None,)]
    assert not any("Alice" in p.read_text() for p in (store / "rejects").glob("*.csv"))


def test_an_erased_customers_malformed_line_keeps_no_content(
    tmp_path: Path, store: StoreRef
) -> None:
    """A's line with one field too many came back as a malformed_row with its full text."""
    with_bad = FIRST + "A,o9,2025-01-08 10:00,MILK,1,1.0,a@example.com\n"
    path = write(tmp_path / "t.csv", with_bad)
    with opened(store=store) as container:
        ingest = container.ingest_service()
        (first,) = ingest.ingest([path], IngestOptions())
        container.privacy_service().erase("A")
        (again,) = ingest.ingest([path], IngestOptions())
    assert first.reject_reasons == {"malformed_row": 1}
    assert (again.read, again.stored, again.rejected) == (4, 1, 3)
    assert again.reject_reasons == {"erased_customer": 3}
    rejects = query(store, "SELECT reason, row_number, detail, raw FROM rejects ORDER BY 2")
    assert rejects == [("erased_customer", n, None, None) for n in (1, 2, 4)]
    assert not any("example.com" in p.read_text() for p in (store / "rejects").glob("*.csv"))


def test_an_id_written_as_a_float_is_the_erased_customer(tmp_path: Path, store: StoreRef) -> None:
    """An export through pandas writes 13078 as "13078.0": after erasing 13078 such a line,
    and such an event, were stored as a new customer "13078.0"."""
    numbered = FIRST.replace("A,", "13078,")
    as_float = "customer_id,order_id,ts,product_id,quantity,unit_price\n" \
               "13078.0,g1,2025-03-01 10:00,MILK,1,1.0\n"  # fmt: skip
    with opened(store=store) as container:
        ingest = container.ingest_service()
        ingest.ingest([write(tmp_path / "n.csv", numbered)], IngestOptions())
        container.privacy_service().erase("13078")
        (later,) = ingest.ingest([write(tmp_path / "f.csv", as_float)], IngestOptions())
        event = {"message_id": "m1", "customer_id": "13078.0", "order_id": "e1",
                 "ts": "2025-03-02T10:00:00Z", "product_id": "MILK"}  # fmt: skip
        posted = container.event_service().ingest([event])
    assert later.reject_reasons == {"erased_customer": 1} and later.stored == 0
    assert posted.stored == 0 and posted.rejected == 1
    assert query(store, "SELECT DISTINCT customer_id FROM transactions") == [("B",)]


def test_compact_leaves_no_byte_of_an_erased_customer_in_the_store(
    tmp_path: Path, store: StoreRef
) -> None:
    """After an erasure the embedded store's file still held "Alice Example" (DuckDB reuses
    deleted rows' blocks without clearing them); compact rewrites it. On PostgreSQL it is a
    VACUUM FULL of the customer tables. Either way every other row is as before."""
    records, lines = write(tmp_path / "c.csv", CUSTOMERS), write(tmp_path / "t.csv", FIRST)
    with opened(store=store) as container:
        ingest = container.ingest_service()
        ingest.ingest([records], IngestOptions(kind=Kind.CUSTOMERS))
        ingest.ingest([lines], IngestOptions())
        before = container.warehouse.table_counts()
        privacy = container.privacy_service()
        privacy.erase("A")
        held = store.kind == "duckdb" and b"Alice Example" in (store / "omnix.duckdb").read_bytes()
        sizes = privacy.compact()
        after = container.warehouse.table_counts()  # the store works on after the rewrite
        b = privacy.export("B")
    if store.kind == "duckdb":
        assert held  # what compact is for
        assert b"Alice Example" not in (store / "omnix.duckdb").read_bytes()
        assert b"Bob Example" in (store / "omnix.duckdb").read_bytes()
        assert not list(store.data_dir.glob("*.compact"))
    assert sizes["bytes_before"] > 0 and sizes["bytes_after"] > 0
    assert after["transactions"] == before["transactions"] - 2
    assert after["customers"] == before["customers"] - 1
    assert b["row_counts"]["customers"] == 1 and b["row_counts"]["transactions"] == 1
    assert query(store, "SELECT count(*) FROM erasures") == [(1,)]


def test_an_erasure_keeps_the_positions_of_an_order_others_share(
    tmp_path: Path, store: StoreRef
) -> None:
    """A shares order o1 with B and comes first in it: after A is erased, the same file again
    gives B's line of o1 the position it had (2), so it is a duplicate, not a new line."""
    shared = """customer_id,order_id,ts,product_id,quantity,unit_price
A,o1,2025-01-06 10:00,MILK,1,1.0
B,o1,2025-01-06 10:00,BREAD,1,2.0
B,o2,2025-01-07 10:00,MILK,1,1.0
"""
    path = write(tmp_path / "shared.csv", shared)
    with opened(store=store) as container:
        ingest = container.ingest_service()
        assert ingest.ingest([path], IngestOptions())[0].stored == 3
        container.privacy_service().erase("A")
        again = ingest.ingest([path], IngestOptions())[0]
        export_b = container.privacy_service().export("B")
    assert (again.stored, again.rejected, again.inserted, again.duplicates) == (2, 1, 0, 2)
    assert query(store, "SELECT count(*) FROM transactions") == [(2,)]
    lines = export_b["tables"]["transactions"]
    assert sorted((r["order_id"], r["line_seq"]) for r in lines) == [("o1", 2), ("o2", 1)]


def test_an_erasure_that_keeps_positions_checkpoints_beside_an_open_reader(
    tmp_path: Path,
) -> None:
    """A server's other threads may hold a transaction open while an erasure runs. DuckDB
    refuses the erasure's CHECKPOINT after an UPDATE then, so the positions of the lines that
    stay are written by delete and insert: the erasure succeeds and the reader is untouched."""
    shared = "customer_id,order_id,ts,product_id\nA,o1,2025-01-06,MILK\nB,o1,2025-01-06,BREAD\n"
    data = tmp_path / "data"
    with opened(data_dir=data) as container:
        container.ingest_service().ingest([write(tmp_path / "s.csv", shared)], IngestOptions())
        reader = container.warehouse.for_thread()
        reader.con.execute("BEGIN TRANSACTION")
        assert reader.con.execute("SELECT count(*) FROM transactions").fetchall() == [(2,)]
        container.privacy_service().erase("A")
        assert reader.con.execute("SELECT count(*) FROM transactions").fetchall() == [(2,)]
        reader.con.execute("COMMIT")
    assert query(data, "SELECT customer_id, line_seq FROM transactions") == [("B", 2)]
