"""A customer who objects to analytics (their latest `analytics` consent is a denial) is left
out of every per-customer analysis: snapshot, segments, predictions, the CLV fit. Analytics
rests on legitimate interest: without a record a customer counts as granted, whatever the
default for the opt-in purposes. Store-level figures (the retailer's books) keep their lines."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from omnix.domain import contract as c
from omnix.domain.consent import Purpose
from omnix.domain.errors import NotFoundError
from omnix.domain.ingest import IngestOptions
from omnix.domain.pseudonym import pseudonym
from omnix.services.consent import analysable
from omnix.services.views import CustomerFilter
from tests.backends import BACKENDS, StoreRef
from tests.integration.helpers import generated_store, opened, query

AS_OF = datetime.date(2025, 8, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_objection_to_analytics_leaves_the_customer_out(tmp_path: Path, backend: str) -> None:
    with generated_store(backend, tmp_path) as store:
        who = query(store, "SELECT min(customer_id) FROM transactions")[0][0]
        lines = query(store, "SELECT count(*) FROM transactions WHERE customer_id = ?", (who,))
        with opened(data_dir=store) as container:
            total = analysable(container.warehouse).count().to_pyarrow().as_py()
            container.consent_service().set(who, Purpose.ANALYTICS, granted=False)
            kept = analysable(container.warehouse).count().to_pyarrow().as_py()
            report = container.analyze_service().run(AS_OF)  # default consent: denied
            summary = container.analyse_service().analyse()
            privacy = container.privacy_service()
            mine, other = privacy.consents(who), privacy.consents("C999999")
            with pytest.raises(NotFoundError, match="objected to analytics"):
                container.snapshot_service().customer(who)
            with pytest.raises(NotFoundError, match="objected to analytics"):
                container.customer_service().rhythms(who, AS_OF)
        assert kept == total - lines[0][0]
        ids = {r[0] for r in query(store, "SELECT customer_id FROM customer_snapshots")}
        assert who not in ids and len(ids) == report.customers > 0
        predicted = {r[0] for r in query(store, "SELECT DISTINCT customer_id FROM predictions")}
        assert predicted and who not in predicted
        everyone = query(store, "SELECT count(DISTINCT customer_id) FROM transactions")[0][0]
        assert summary.business["customers"] == everyone  # the books keep their lines
        assert mine["purposes"]["analytics"]["granted"] is False
        # analytics is opt-out: granted by default although the default consent is denied
        assert other["purposes"]["analytics"] == {"granted": True, "by_default": True,
                                                 "recorded_at": None, "source": None}  # fmt: skip
        assert other["purposes"]["profiling"]["granted"] is False


def test_consent_given_by_the_retailers_id_reaches_pseudonymized_lines(
    tmp_path: Path, store: StoreRef
) -> None:
    """With OMNIX_PSEUDONYMIZE_KEY the lines carry HMAC pseudonyms; a decision recorded by the
    retailer's id was stored under that id and matched no line, so a denial changed nothing
    (under a granted default the customer was still profiled). It is now stored under the
    pseudonym, as the lines are."""
    key = "p" * 40
    rows = "\n".join(f"{who},o{who}{k},2025-01-{1 + 7 * k:02d} 10:00,MILK,1,1.0"
                     for who in ("A", "B") for k in range(3))  # fmt: skip
    path = tmp_path / "p.csv"
    path.write_text("customer_id,order_id,ts,product_id,quantity,unit_price\n" + rows + "\n")
    with opened(store=store, pseudonymize_key=key) as container:
        container.ingest_service().ingest([path], IngestOptions())
        consents = container.consent_service()
        consents.set("A", Purpose.PROFILING, granted=False)
        consents.set("A", Purpose.ANALYTICS, granted=False)
        profiled = consents.permitted(Purpose.PROFILING, True).to_pyarrow()[c.CUSTOMER_ID]
        left = analysable(container.warehouse).to_pyarrow()[c.CUSTOMER_ID].to_pylist()
        shown = container.privacy_service().consents("A")["purposes"]
    assert profiled.to_pylist() == [pseudonym(key, "B")]
    assert set(left) == {pseudonym(key, "B")}
    assert shown["profiling"]["granted"] is False and shown["analytics"]["granted"] is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_objection_takes_effect_before_the_next_analysis(tmp_path: Path, backend: str) -> None:
    """After an objection only the rhythm view refused the customer; stored predictions, due
    lists, personal recommendations and the 360 from the last snapshot still used them until
    the next `omnix analyze`."""
    with generated_store(backend, tmp_path) as store, opened(data_dir=store) as container:
        container.analyze_service(default_consent="granted").run(AS_OF)
        due = container.prediction_service(default_consent="granted")
        who = due.due(None, limit=1).rows[0][c.CUSTOMER_ID]
        reco = container.recommend_service("tfidf", default_consent="granted")
        reco.precompute(AS_OF)
        assert reco.recommend(who).personalized
        container.consent_service().set(who, Purpose.ANALYTICS, granted=False)
        mine = due.due(None, customer_id=who)
        everyone = due.due(None, limit=1000)
        after = reco.recommend(who)
        listed = container.views().customers(CustomerFilter(q=who)).items
        with pytest.raises(NotFoundError, match="objected to analytics"):
            container.snapshot_service().customer(who)
        exported = container.snapshot_service().export(tmp_path / "p.csv")
    assert (mine.total, mine.rows) == (0, []) and mine.withheld > 0
    assert who not in {r[c.CUSTOMER_ID] for r in everyone.rows}
    assert not after.personalized and after.basis == "popular"
    assert who not in {r[c.CUSTOMER_ID] for r in listed}
    assert who not in (tmp_path / "p.csv").read_text() and exported.rows > 0
