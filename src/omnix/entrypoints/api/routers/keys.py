"""API keys (admin role). `omnix keys create` does the same while the server is stopped (the
embedded store is one process's at a time)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from omnix.domain.access import ApiKey, Role
from omnix.entrypoints.api.deps import Wired, secured
from omnix.entrypoints.api.models_ops import KeyCreate, KeyCreated, KeyInfo, KeyList

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def _info(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "role": key.role,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
    }


@router.get("", response_model=KeyList, **secured(Role.ADMIN))
def list_keys(wired: Wired) -> KeyList:
    """Every key: id, name, role, created, revoked, last used (never the key)."""
    return KeyList(items=[KeyInfo.model_validate(_info(k)) for k in wired.keys_service().list()])


@router.post("", response_model=KeyCreated, status_code=201, **secured(Role.ADMIN))
def create_key(wired: Wired, body: KeyCreate) -> KeyCreated:
    """A new key with a role. The response holds the key itself, once; only a keyed hash
    of it is stored."""
    record, token = wired.keys_service().create(body.role, body.name)
    return KeyCreated.model_validate({**_info(record), "key": token})


@router.delete(
    "/{key_id}",
    response_model=KeyInfo,
    **secured(Role.ADMIN, not_found="no active key with this id"),
)
def revoke_key(wired: Wired, key_id: Annotated[str, Path(min_length=1, max_length=64)]) -> KeyInfo:
    """Revoke a key: refused from the next request on."""
    return KeyInfo.model_validate(_info(wired.keys_service().revoke(key_id)))
