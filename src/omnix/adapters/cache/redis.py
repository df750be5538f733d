"""Redis for what several API processes share (`OMNIX_CACHE_URL=redis://host:6379/0`,
`pip install 'omnix[redis]'`): the hot customer views and the per-key rate limit.

Views: one Redis hash per customer (`<prefix>v:<customer_id>`, a field per view) that expires
`ttl` seconds after its last write, so everything cached about a customer is dropped with one
DEL when new data for them arrives, whichever process learns of it. Redis bounds memory with
its own `maxmemory` policy; `clear` walks the prefix with SCAN (it runs after an analysis or a
file upload, not per request).

Rate limit: a token bucket per API key evaluated inside Redis by a Lua script (atomic across
processes, Redis's clock), called from the event loop through the asyncio client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, Final

from omnix.domain.errors import ConfigError, MissingExtraError

DEFAULT_PREFIX: Final = "omnix:"
# KEYS[1] bucket; ARGV rate/s, burst -> seconds to wait (0: pass). Tokens and time in a hash.
_BUCKET: Final = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or t
tokens = math.min(burst, tokens + (t - at) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


def _redis() -> Any:
    try:
        import redis
    except ImportError as err:
        raise MissingExtraError("the Redis cache (OMNIX_CACHE_URL=redis://...)", "redis") from err
    return redis


def split_url(url: str) -> tuple[str, str]:
    """(connection URL, key prefix): `redis://host:6379/0?prefix=shop1:`; default omnix:."""
    base, _, query = url.partition("?")
    prefix = DEFAULT_PREFIX
    rest = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        if name == "prefix":
            prefix = value
        else:
            rest.append(part)
    return base + ("?" + "&".join(rest) if rest else ""), prefix


class RedisViewCache:
    """The ViewCache port on Redis, shared by every API process."""

    def __init__(self, url: str, ttl: float = 300.0, enabled: bool = True) -> None:
        redis = _redis()
        base, self.prefix = split_url(url)
        try:
            self.client = redis.Redis.from_url(base, socket_timeout=5)
            self.client.ping()
        except (redis.RedisError, ValueError) as err:
            raise ConfigError(f"cannot reach the cache at {base}: {err}") from None
        self.ttl = max(1, round(ttl))
        self.enabled = enabled and ttl > 0

    def _key(self, customer_id: str) -> str:
        return f"{self.prefix}v:{customer_id}"

    def get(self, customer_id: str, view: str) -> bytes | None:
        value: bytes | None = self.client.hget(self._key(customer_id), view)
        return value

    def put(self, customer_id: str, view: str, value: bytes) -> None:
        if not self.enabled:
            return
        key = self._key(customer_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, view, value)
        pipe.expire(key, self.ttl)
        pipe.execute()

    def drop(self, customer_id: str) -> None:
        self.client.delete(self._key(customer_id))

    def drop_many(self, customer_ids: Collection[str]) -> None:
        keys = [self._key(i) for i in customer_ids]
        for start in range(0, len(keys), 1_000):
            self.client.unlink(*keys[start : start + 1_000])

    def clear(self) -> None:
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=f"{self.prefix}v:*", count=1_000):
            batch.append(key)
            if len(batch) >= 1_000:
                self.client.unlink(*batch)
                batch = []
        if batch:
            self.client.unlink(*batch)

    def claim(self, name: str, seconds: float) -> bool:
        """True for the one process that claims `name` within `seconds` (e.g. who warms)."""
        return bool(
            self.client.set(f"{self.prefix}claim:{name}", b"1", nx=True, ex=max(1, round(seconds)))
        )

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(match=f"{self.prefix}v:*", count=1_000))

    def close(self) -> None:
        self.client.close()


class RedisBuckets:
    """Per-key token buckets shared by every API process (security.Guard calls `take`)."""

    def __init__(self, url: str, rate: float, burst: int) -> None:
        self.url, self.prefix = split_url(url)
        self.rate, self.burst = rate, burst
        self._client: Any = None
        self._script: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def take(self, key: str) -> float:
        """0 when the request may pass, else the seconds until one token is back."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # one client per event loop
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url, socket_timeout=5)
            self._script = self._client.register_script(_BUCKET)
            self._loop = loop
        wait = await self._script(keys=[f"{self.prefix}rate:{key}"], args=[self.rate, self.burst])
        return float(wait)
