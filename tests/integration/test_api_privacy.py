"""GDPR over the API on the real store: export holds everything, erasure leaves nothing (every
table and every rejects file scanned), the audit record holds no personal data, consent
changes what is shown at once."""

from __future__ import annotations

import contextlib
import json

from omnix.domain.access import Role
from tests.api_support import api
from tests.backends import StoreRef

WHO = "C000001"
NEIGHBOUR = "C0000011"  # an id that contains WHO: must survive WHO's erasure


def _every_value(store: StoreRef) -> list[tuple[str, str]]:
    """(table, value) for every cell of every table of the store, as text; JSON cells also
    contribute each of their values."""
    if store.kind == "duckdb":
        listing = "SELECT table_name FROM duckdb_tables()"
    else:
        listing = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    tables = [r[0] for r in store.query(listing)]
    out: list[tuple[str, str]] = []
    for table in tables:
        for row in store.query(f"SELECT * FROM {table}"):
            for cell in row:
                if cell is None:
                    continue
                text = str(cell)
                out.append((table, text))
                if text.startswith("{"):
                    with contextlib.suppress(json.JSONDecodeError, AttributeError):
                        out += [(table, str(v)) for v in json.loads(text).values()]
    return out


def _mentions(values: list[tuple[str, str]], who: str) -> set[str]:
    return {table for table, text in values if text == who or f'"{who}"' in text}


def test_export_holds_every_table_about_the_customer(api_template: StoreRef) -> None:
    with api(api_template) as a:
        r = a.client.get(
            f"/v1/privacy/customers/{WHO}/export", headers=a.auth(Role.PRIVACY_OFFICER)
        )
        assert r.status_code == 200
        doc = r.json()
    counts = doc["row_counts"]
    assert counts["transactions"] > 10
    assert counts["customers"] == 1
    assert counts["customer_snapshots"] >= 1
    assert counts["rejects"] == 1  # the bad-price row naming WHO, not the one naming NEIGHBOUR
    assert json.loads(doc["tables"]["rejects"][0]["raw"])["customer_id"] == WHO
    assert set(doc["consent"]) == {"analytics", "profiling", "personalization", "ai_insights"}
    assert all(row["customer_id"] == WHO for row in doc["tables"]["transactions"])


def test_erasure_leaves_nothing_in_any_table_or_rejects_file(api_store: StoreRef) -> None:
    before = _every_value(api_store)
    held = {"transactions", "customers", "customer_snapshots", "rejects", "predictions",
            "reco_candidates", "reco_customers"}  # fmt: skip
    assert held <= _mentions(before, WHO)
    rejects_files = sorted((api_store / "rejects").glob("*.csv"))
    assert rejects_files and WHO in rejects_files[0].read_text()
    with api(api_store) as a:
        officer = a.auth(Role.PRIVACY_OFFICER)
        a.client.put(f"/v1/privacy/customers/{WHO}/consents/profiling", json={"granted": False},
                     headers=officer)  # fmt: skip
        assert a.client.get(f"/v1/customers/{WHO}", headers=a.auth()).status_code == 200  # cached
        r = a.client.delete(f"/v1/privacy/customers/{WHO}", headers=officer)
        assert r.status_code == 200
        record = r.json()
        assert record["rows_deleted"]["transactions"] > 10
        assert record["rows_deleted"]["consents"] == 1
        assert WHO not in json.dumps(record)
        # gone everywhere the API looks, cache included
        assert a.client.get(f"/v1/customers/{WHO}", headers=a.auth()).status_code == 404
        assert (
            a.client.get(f"/v1/privacy/customers/{WHO}/export", headers=officer).status_code == 404
        )
        assert a.client.delete(f"/v1/privacy/customers/{WHO}", headers=officer).status_code == 404
        mine = a.client.get(f"/v1/customers/{WHO}/predictions", headers=a.auth())
        assert mine.status_code == 404  # no predictions and no such customer any more
        reco = a.client.post(f"/v1/customers/{WHO}/recommendations", headers=a.auth()).json()
        assert reco["personalized"] is False and reco["items"]  # everyone's popular items
        # the consents of an erased customer are the defaults: the answer says why
        consents = a.client.get(f"/v1/privacy/customers/{WHO}/consents", headers=officer)
        assert consents.json()["erased"] is True and consents.json()["log"] == []
        other = a.client.get(f"/v1/privacy/customers/{NEIGHBOUR}/consents", headers=officer)
        assert other.json()["erased"] is False
        log = a.client.get("/v1/privacy/erasures", headers=officer).json()["items"]
        assert [e["erasure_id"] for e in log] == [record["erasure_id"]]
        assert (
            a.container.privacy_service().was_erased(WHO)[0]["erasure_id"] == record["erasure_id"]
        )
    after = _every_value(api_store)
    assert _mentions(after, WHO) == set()
    assert not any(WHO in text for _, text in after if NEIGHBOUR not in text)
    assert _mentions(after, NEIGHBOUR) == {"rejects"}  # the neighbour keeps their row
    for path in (api_store / "rejects").glob("*.csv"):
        text = path.read_text()
        assert f"{WHO}," not in text and f'"{WHO}"' not in text
        assert NEIGHBOUR in text
    wal = api_store / "omnix.duckdb.wal"
    assert not wal.exists() or WHO.encode() not in wal.read_bytes()


def test_consent_withdrawal_blanks_the_spending_profile_at_once(api_store: StoreRef) -> None:
    with api(api_store, default_consent="granted") as a:
        path = f"/v1/customers/{WHO}/spending"
        before = a.client.get(path, headers=a.auth(Role.ANALYST)).json()
        assert before["profiling_consent"] is True and before["price_tier_index"] is not None
        a.client.get(f"/v1/customers/{WHO}", headers=a.auth(Role.ANALYST))  # now cached
        r = a.client.put(
            f"/v1/privacy/customers/{WHO}/consents/profiling",
            json={"granted": False}, headers=a.auth(Role.PRIVACY_OFFICER),
        )  # fmt: skip
        decision = r.json()["purposes"]["profiling"]
        assert decision["granted"] is False and decision["by_default"] is False
        assert decision["source"].startswith("api:")
        after = a.client.get(path, headers=a.auth(Role.ANALYST)).json()
        assert after["profiling_consent"] is False and after["price_tier_index"] is None
        view = a.client.get(f"/v1/customers/{WHO}", headers=a.auth(Role.ANALYST)).json()
        assert view["snapshot"]["price_tier_index"] is None  # the cached 360 was dropped
