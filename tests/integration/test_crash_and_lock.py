"""A killed ingest leaves the store consistent; a second process gets a clear lock error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from omnix.domain.errors import StoreLockedError
from tests.backends import StoreRef
from tests.integration.helpers import ingest, query

OMNIX = [sys.executable, "-m", "omnix.entrypoints.cli.app"]


def big_file(path: Path, lines: int, offset: int = 0) -> Path:
    i = np.arange(offset, offset + lines)
    table = pa.table(
        {
            "customer_id": pa.array(i % 5_000).cast(pa.string()),
            "order_id": pa.array(i // 4).cast(pa.string()),
            "ts": pa.array(np.datetime64("2024-01-01", "s") + (i // 4) * 60).cast(
                pa.timestamp("s")
            ),
            "product_id": pa.array(i % 997).cast(pa.string()),
            "quantity": pa.array((i % 3 + 1).astype(float)),
            "unit_price": pa.array((i % 50) / 10 + 0.5),
        }
    )
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path


def run_ingest(data: StoreRef, *files: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    if data.url:
        env["OMNIX_WAREHOUSE_URL"] = data.url
    return subprocess.Popen(
        [*OMNIX, "ingest", *map(str, files), "--data-dir", str(data.data_dir), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sigkill_mid_ingest_then_rerun_gives_exact_counts(
    tmp_path: Path, store: StoreRef, suffix: str
) -> None:
    """CSV is killed while staging or loading; Parquet (no staging) inside the transaction.
    On PostgreSQL the server rolls back the killed connection's transaction."""
    small = big_file(tmp_path / f"small{suffix}", 50_000)
    big = big_file(tmp_path / f"big{suffix}", 1_500_000, offset=50_000)
    data = store
    proc = run_ingest(data, small, big)
    # wait until the first file is committed and the second is being loaded, then kill
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
        rows = _committed_sources(data)
        if rows >= 1:
            break
    if data.url:  # inside the PostgreSQL transaction: lines being copied or inserted
        while time.time() < deadline and not _copying(data):
            time.sleep(0.05)
    else:
        time.sleep(0.5)
    assert proc.poll() is None, "ingest finished before it could be killed; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # the store holds the first file completely and nothing of the second
    assert query(data, "SELECT count(*) FROM transactions") == [(50_000,)]
    if suffix == ".csv" and not data.url:
        assert list((data / ".tmp").glob("**/stage-*.parquet")), "expected the killed stage"
    rerun = run_ingest(data, small, big)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    summary = json.loads(out)
    assert summary["read"] == 1_550_000
    assert summary["inserted"] == 1_500_000
    assert summary["duplicates"] == 50_000
    assert query(data, "SELECT count(*), count(DISTINCT source_id) FROM transactions") == [
        (1_550_000, 2)
    ]
    assert not list((data / ".tmp").glob("**/stage-*.parquet")), "stale staged file kept"


def _committed_sources(store: StoreRef) -> int:
    """Sources committed so far, read from a copy so the writer's lock is not disturbed."""
    import shutil

    import duckdb

    if store.url:
        return int(store.query("SELECT count(*) FROM sources")[0][0]) if _migrated(store) else 0
    data = store.data_dir
    db = data / "omnix.duckdb"
    if not db.exists():
        return 0
    copy = data.parent / "peek.duckdb"
    wal = Path(str(db) + ".wal")
    try:
        shutil.copy(db, copy)
        if wal.exists():
            shutil.copy(wal, Path(str(copy) + ".wal"))
        con = duckdb.connect(str(copy), read_only=False)
        try:
            return int(con.execute("SELECT count(*) FROM sources").fetchall()[0][0])
        finally:
            con.close()
    except (duckdb.Error, OSError):
        return 0
    finally:
        copy.unlink(missing_ok=True)
        Path(str(copy) + ".wal").unlink(missing_ok=True)


def _copying(store: StoreRef) -> bool:
    return bool(
        store.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND (query LIKE 'COPY _omnix_lines%' "
            "OR query LIKE 'INSERT INTO transactions%')"
        )
    )


def _migrated(store: StoreRef) -> bool:
    return bool(store.query("SELECT 1 FROM pg_tables WHERE tablename = 'sources'"))


def test_second_process_gets_a_clear_lock_error(tmp_path: Path) -> None:
    data = tmp_path / "d"
    ingest(data, big_file(tmp_path / "s.csv", 10))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(60)",
            str(data / "omnix.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match=rf"in use by PID {holder.pid} \(.*python"):
            ingest(data, big_file(tmp_path / "t.csv", 10))
        result = subprocess.run(
            [*OMNIX, "status", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 5
        assert result.stderr.count("\n") == 1
        assert f"in use by PID {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_read_only_open_needs_a_store_and_reads_it(tmp_path: Path) -> None:
    from omnix.adapters.warehouse.duckdb_store import DuckDBStore
    from omnix.domain.errors import StoreError

    data = tmp_path / "d"
    with pytest.raises(StoreError, match="no store at"):
        DuckDBStore.open(data / "omnix.duckdb", read_only=True)
    ingest(data, big_file(tmp_path / "s.csv", 10))
    store = DuckDBStore.open(data / "omnix.duckdb", read_only=True)
    try:
        assert store.table_counts()["transactions"] == 10
    finally:
        store.close()
