"""The API's "what next" routes on the real store (both backends): predictions due soon with
filters and cursor paging, one customer's predictions, recommendations with request-time
context, personalization consent applied to both, and clear problems before anything is
stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from omnix.domain import recommend as reco
from omnix.domain.access import Role
from omnix.entrypoints.api.app import api_routes
from omnix.entrypoints.api.deps import ROLE_FIELD
from tests.api_support import api
from tests.backends import StoreRef

DUE = "/v1/predictions/due"


def _all_pages(a: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = params | ({"cursor": cursor} if cursor else {})
        r = a.client.get(DUE, params=query, headers=a.auth(Role.ANALYST))
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return row["customer_id"], row["product_id"]


def test_due_soon_is_soonest_first_filtered_and_pages_through_every_row(
    api_template: StoreRef,
) -> None:
    with api(api_template, default_consent="granted") as a:
        first = a.client.get(DUE, params={"within_days": 14}, headers=a.auth(Role.ANALYST)).json()
        day = dt.date.fromisoformat(first["snapshot_date"])
        assert first["total"] > 5 and first["withheld"] == 0
        rows = _all_pages(a, {"within_days": 14, "limit": 7})
        assert len(rows) == len({_key(r) for r in rows}) == first["total"]
        order = [(r["expected_next_date"], -r["probability"]) for r in rows]
        assert order == sorted(order)
        assert all(dt.date.fromisoformat(r["expected_next_date"]) < day + dt.timedelta(14)
                   for r in rows)  # fmt: skip
        # the same rows the service (and `omnix due`) lists
        direct = a.container.prediction_service().due(14, limit=1000, sort="expected_date")
        assert [_key(r) for r in direct.rows] == [_key(r) for r in rows]

        likely = _all_pages(a, {"within_days": 14, "min_probability": 0.5})
        assert likely and all(r["probability"] >= 0.5 for r in likely)
        assert {_key(r) for r in likely} == {_key(r) for r in rows if r["probability"] >= 0.5}
        category, segment = rows[0]["category"], rows[0]["segment"]
        by_cat = _all_pages(a, {"within_days": 14, "category": category})
        assert by_cat and {r["category"] for r in by_cat} == {category}
        by_seg = _all_pages(a, {"within_days": 14, "segment": segment, "sort": "probability"})
        assert by_seg and {r["segment"] for r in by_seg} == {segment}
        assert [r["probability"] for r in by_seg] == sorted(
            (r["probability"] for r in by_seg), reverse=True
        )


def test_due_soon_refuses_unknown_dates_and_foreign_cursors(api_template: StoreRef) -> None:
    with api(api_template, default_consent="granted") as a:
        h = a.auth(Role.ANALYST)
        r = a.client.get(DUE, params={"as_of": "1999-01-01"}, headers=h)
        assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
        assert "no predictions dated 1999-01-01" in r.json()["detail"]
        r = a.client.get(DUE, params={"cursor": "not-ours"}, headers=h)
        assert r.status_code == 422 and r.json()["type"] == "/problems/invalid-input"
        r = a.client.get(DUE, params={"min_probability": 1.5}, headers=h)
        assert r.status_code == 422 and r.json()["type"] == "/problems/validation-failed"


def test_one_customers_predictions(api_template: StoreRef) -> None:
    with api(api_template, default_consent="granted") as a:
        due = a.client.get(DUE, params={"within_days": 30}, headers=a.auth(Role.ANALYST)).json()
        who = due["items"][0]["customer_id"]
        r = a.client.get(f"/v1/customers/{who}/predictions", headers=a.auth(Role.ANALYST))
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["within_days"] is None and page["total"] == len(page["items"]) >= 1
        assert {i["customer_id"] for i in page["items"]} == {who}
        probabilities = [i["probability"] for i in page["items"]]
        assert probabilities == sorted(probabilities, reverse=True)
        # every row of theirs due within 30 days is among their stored predictions
        mine = {_key(i) for i in _all_pages(a, {"within_days": 30}) if i["customer_id"] == who}
        assert mine <= {_key(i) for i in page["items"]}
        r = a.client.get("/v1/customers/NOBODY/predictions", headers=a.auth(Role.ANALYST))
        assert r.status_code == 404 and "NOBODY" in r.json()["detail"]  # as /v1/customers/NOBODY


def _recommend(a: Any, who: str, k: int = 5, **context: Any) -> dict[str, Any]:
    r = a.client.post(
        f"/v1/customers/{who}/recommendations",
        json={"k": k, "context": context}, headers=a.auth(Role.ANALYST),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _personal_customer(a: Any) -> str:
    rows = a.container.warehouse.ibis().table(reco.CANDIDATES).select("customer_id")
    found: str = rows.distinct().order_by("customer_id").limit(1).to_pyarrow()[0][0].as_py()
    return found


def test_recommendations_follow_the_request_context(api_template: StoreRef) -> None:
    with api(api_template, default_consent="granted") as a:
        who = _personal_customer(a)
        plain = _recommend(a, who, k=5)
        assert plain["personalized"] is True and plain["basis"] == "personal"
        items = plain["items"]
        assert [i["rank"] for i in items] == [1, 2, 3, 4, 5]
        assert all(i["reason"] and i["source"] and i["source_scores"] for i in items)
        expected = a.container.recommend_service().recommend(who, 5)
        assert [i["product_id"] for i in items] == [i.product_id for i in expected.items]

        top = items[0]
        without = _recommend(a, who, k=5, exclude=[top["product_id"]])["items"]
        assert top["product_id"] not in {i["product_id"] for i in without}
        one_each = _recommend(a, who, k=5, max_per_category=1)["items"]
        categories = [i["category"] for i in one_each]
        assert len(categories) == len(set(categories))
        rule = {"field": "category", "value": top["category"], "weight": 0}
        buried = _recommend(a, who, k=5, rules=[rule])["items"]
        assert top["category"] not in {i["category"] for i in buried}
        basket = _recommend(a, who, k=5, basket=[top["product_id"]], channel="web",
                            store_id="S01", at="2025-05-01T18:00:00Z")["items"]  # fmt: skip
        assert top["product_id"] not in {i["product_id"] for i in basket}  # already in it


def test_recommendation_requests_are_validated(api_template: StoreRef) -> None:
    with api(api_template) as a:
        h = a.auth(Role.ANALYST)
        path = "/v1/customers/C000001/recommendations"
        bad_rule = {"field": "price", "value": "x", "weight": 2}
        for body in ({"k": 0}, {"context": {"colour": "red"}}, {"context": {"rules": [bad_rule]}}):
            r = a.client.post(path, json=body, headers=h)
            assert r.status_code == 422, body
            assert r.json()["type"] == "/problems/validation-failed"
        assert a.client.post(path, headers=h).status_code == 200  # no body: k=10, no context


def test_without_personalization_consent_both_fall_back_or_withhold(api_store: StoreRef) -> None:
    with api(api_store, default_consent="granted") as a:
        h = a.auth(Role.ANALYST)
        before = a.client.get(DUE, params={"within_days": 30}, headers=h).json()
        who = before["items"][0]["customer_id"]
        theirs = sum(i["customer_id"] == who for i in _all_pages(a, {"within_days": 30}))
        stored = a.client.get(f"/v1/customers/{who}/predictions", headers=h).json()["total"]
        assert _recommend(a, who)["basis"] == "personal" and stored >= theirs > 0
        r = a.client.put(
            f"/v1/privacy/customers/{who}/consents/personalization",
            json={"granted": False}, headers=a.auth(Role.PRIVACY_OFFICER),
        )  # fmt: skip
        assert r.status_code == 200
        result = _recommend(a, who, k=5)
        assert result["personalized"] is False and result["basis"] == "popular"
        assert len(result["items"]) == 5
        assert {i["source"] for i in result["items"]} == {"popular"}
        page = a.client.get(f"/v1/customers/{who}/predictions", headers=h).json()
        assert page["items"] == [] and page["total"] == 0 and page["withheld"] == stored
        after = a.client.get(DUE, params={"within_days": 30}, headers=h).json()
        assert who not in {i["customer_id"] for i in _all_pages(a, {"within_days": 30})}
        assert after["withheld"] == before["withheld"] + theirs
        assert after["total"] == before["total"] - theirs


def test_before_anything_is_computed_both_answer_a_clear_404(store: StoreRef) -> None:
    with api(store) as a:
        h = a.auth(Role.ANALYST)
        r = a.client.get(DUE, headers=h)
        assert r.status_code == 404 and "omnix analyze" in r.json()["detail"]
        r = a.client.get("/v1/customers/C1/predictions", headers=h)
        assert r.status_code == 404 and "omnix analyze" in r.json()["detail"]
        r = a.client.post("/v1/customers/C1/recommendations", json={"k": 3}, headers=h)
        assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
        assert "omnix recommend --all" in r.json()["detail"]


def test_the_new_routes_are_walked_by_the_auth_matrix_as_analyst_routes() -> None:
    walked = {(m, r.path): r.openapi_extra for r in api_routes() for m in r.methods}
    for route in (("GET", DUE), ("GET", "/v1/customers/{customer_id}/predictions"),
                  ("POST", "/v1/customers/{customer_id}/recommendations")):  # fmt: skip
        assert walked[route] == {ROLE_FIELD: Role.ANALYST.value}, route
