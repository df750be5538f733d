"""GDPR rights over HTTP (privacy_officer role): consent per purpose, export, erasure."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query

from omnix.domain.access import Role
from omnix.domain.consent import Purpose
from omnix.entrypoints.api.deps import CallerKey, Wired, secured
from omnix.entrypoints.api.models_ops import (
    ConsentUpdate,
    CustomerConsents,
    CustomerExport,
    Erasure,
    ErasureLog,
)

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="as ingested")]
NOTHING = "the store holds nothing about this customer"


@router.get(
    "/customers/{customer_id}/consents",
    response_model=CustomerConsents,
    **secured(Role.PRIVACY_OFFICER),
)
def get_consents(wired: Wired, customer_id: CustomerId) -> CustomerConsents:
    """The customer's current decision per purpose (analytics, profiling, personalization,
    ai_insights; the configured default where there is no record) and the log behind it."""
    return CustomerConsents.model_validate(wired.privacy_service().consents(customer_id))


@router.put(
    "/customers/{customer_id}/consents/{purpose}",
    response_model=CustomerConsents,
    **secured(Role.PRIVACY_OFFICER),
)
def set_consent(
    wired: Wired, key: CallerKey, customer_id: CustomerId, purpose: Purpose, body: ConsentUpdate
) -> CustomerConsents:
    """Record the customer's decision for one purpose, now. A withdrawal blanks their
    spending profile in every read at once (no re-run needed)."""
    wired.consent_service().set(customer_id, purpose, body.granted, source=f"api:{key.key_id}")
    wired.view_cache().drop(customer_id)
    return CustomerConsents.model_validate(wired.privacy_service().consents(customer_id))


@router.get(
    "/customers/{customer_id}/export",
    response_model=CustomerExport,
    **secured(Role.PRIVACY_OFFICER, not_found=NOTHING),
)
def export_customer(wired: Wired, customer_id: CustomerId) -> CustomerExport:
    """Everything the store holds about the customer, table by table (transactions,
    customer record, consents, snapshots, predictions and recommendations when present,
    rejected source rows that name them), as one JSON document (GDPR Art. 15 and 20)."""
    return CustomerExport.model_validate(wired.privacy_service().export(customer_id))


@router.delete(
    "/customers/{customer_id}",
    response_model=Erasure,
    **secured(Role.PRIVACY_OFFICER, not_found=NOTHING),
)
def erase_customer(wired: Wired, key: CallerKey, customer_id: CustomerId) -> Erasure:
    """Erase every row about the customer from every table (one transaction), rewrite the
    rejects files without them, drop cached views, and keep an audit record holding no
    personal data (GDPR Art. 17). Returns that record. 404 when nothing is held."""
    report = wired.privacy_service().erase(customer_id, requested_by=f"key:{key.key_id}")
    return Erasure.model_validate(asdict(report))


@router.get("/erasures", response_model=ErasureLog, **secured(Role.PRIVACY_OFFICER))
def list_erasures(wired: Wired, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ErasureLog:
    """The erasure audit log, newest first: keyed hashes, times, rows per table."""
    items = wired.privacy_service().store.erasures(limit)
    return ErasureLog(items=items)
