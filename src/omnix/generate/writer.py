"""Write generated data: transactions in the format the file name asks for, plus the
truth, products and customers files beside it (always Parquet)."""

from __future__ import annotations

import pathlib
import queue
import threading
import time
from collections.abc import Callable, Iterator

import pyarrow.parquet as pq
import structlog

from omnix.generate import tables
from omnix.generate.config import GenerateResult, GeneratorConfig
from omnix.generate.simulate import Chunk, build_world, iter_chunks
from omnix.generate.sinks import PARQUET_CODEC, ParquetSink, file_format, open_sink

log = structlog.get_logger(__name__)

_PREFETCH = 2  # chunks simulated ahead of the writer


def sidecar(out: pathlib.Path, role: str) -> pathlib.Path:
    """`demo.csv.gz` -> `demo.csv.gz.<role>.parquet`."""
    return out.with_name(f"{out.name}.{role}.parquet")


def _prefetch(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """Simulate the next chunks on a second thread while this one writes (NumPy and Arrow
    release the GIL for the heavy work, so a 2-core machine runs both at once)."""
    box: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()

    def put(item: Chunk | BaseException | None) -> None:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                put(chunk)
            put(None)
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(err)

    worker = threading.Thread(target=produce, name="omnix-generate", daemon=True)
    worker.start()
    try:
        while (item := box.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def generate(
    config: GeneratorConfig,
    out: pathlib.Path,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Write the purchase history of `config` to `out` and its companions beside it.

    `out`'s suffix picks the format: .parquet, .csv, .csv.gz, .csv.zst or .jsonl.
    Beside it: `<out>.truth.parquet`, `<out>.products.parquet`, `<out>.customers.parquet`.
    `progress(n)` is called after each chunk with the number of lines just written.
    Example: ``generate(GeneratorConfig(customers=1_000), Path("demo.csv.gz")).lines``
    gives about 105,000 lines (see the package docstring for the density rule of thumb).
    """
    started = time.perf_counter()
    out = pathlib.Path(out)
    file_format(out)
    world = build_world(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {
        "transactions": out,
        "truth": sidecar(out, "truth"),
        "products": sidecar(out, "products"),
        "customers": sidecar(out, "customers"),
    }
    pq.write_table(
        world.catalog.table(config.currency), files["products"], compression=PARQUET_CODEC
    )
    lines = orders = 0
    sinks = [
        open_sink(out, tables.transactions_schema()),
        ParquetSink(files["truth"], tables.truth_schema()),
        ParquetSink(files["customers"], tables.customers_schema()),
    ]
    try:
        for chunk in _prefetch(iter_chunks(config, world)):
            for sink, batch in zip(sinks, (chunk.lines, chunk.truth, chunk.customers), strict=True):
                sink.write(batch)
            lines += chunk.lines.num_rows
            orders += chunk.orders
            if progress is not None:
                progress(chunk.lines.num_rows)
    finally:
        for sink in sinks:
            sink.close()
    seconds = time.perf_counter() - started
    log.info("generated", lines=lines, orders=orders, seconds=round(seconds, 3), out=str(out))
    return GenerateResult(lines, orders, config.customers, world.catalog.size, seconds, files)
