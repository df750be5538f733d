"""Readers that turn a source file into Arrow batches with exact 1-based data row numbers.

CSV (delimiter sniffed; plain, .gz, .zst, .bz2), Parquet and JSON Lines. Files are streamed
batch by batch, so a file larger than memory never has to fit in it. CSV and JSON Lines values
arrive as strings (typing and validation happen in the store, where they are vectorized);
Parquet keeps its own types.

CSV uses pyarrow's streaming reader single-threaded: measured faster than its threaded mode
for streaming here (6.1 s vs 7.1 s for 10M lines) and it reports the line number of a
malformed line, which the threaded mode does not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from omnix.domain.errors import InputError, SourceNotFoundError, UnsupportedFormatError

ROW_NUMBER_COL = "__omnix_rn"  # 1-based data row number, added to staged sources
# Timestamps pre-parsed while staging text sources (NULL where a batch could not be parsed)
TS_NAIVE_COL = "__omnix_ts_naive"
TS_UTC_COL = "__omnix_ts_utc"
STAGE_COMPRESSION = "lz4"
CSV_BLOCK_BYTES = 8 << 20
JSONL_BATCH_ROWS = 50_000
SNIFF_BYTES = 64 << 10


class Format(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}


@dataclass(frozen=True, slots=True)
class Malformed:
    row_number: int
    text: str
    detail: str


@dataclass(slots=True)
class SourceBatch:
    batch: pa.RecordBatch
    row_numbers: np.ndarray  # int64, 1-based data row of each batch row
    malformed: list[Malformed] = field(default_factory=list)
    bytes_done: int = 0  # position in the (compressed) file, for progress


@dataclass(frozen=True, slots=True)
class SourceInfo:
    path: Path
    format: Format
    compression: str | None
    columns: tuple[str, ...]
    size: int
    source_id: str  # content fingerprint, stable across copies and renames
    total_rows: int | None  # known up front for Parquet
    delimiter: str | None = None


def detect(path: Path) -> tuple[Format, str | None]:
    """Format and compression from the file name (`orders.csv.gz` -> CSV, gzip)."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    base = (
        suffixes[-2] if compression and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    )
    fmt = {
        ".csv": Format.CSV,
        ".tsv": Format.CSV,
        ".txt": Format.CSV,
        ".parquet": Format.PARQUET,
        ".pq": Format.PARQUET,
        ".jsonl": Format.JSONL,
        ".ndjson": Format.JSONL,
        ".json": Format.JSONL,
    }.get(base)
    if fmt is None:
        raise UnsupportedFormatError(
            f"{path.name}: unknown file type (use .csv, .parquet or .jsonl, optionally .gz/.zst)"
        )
    if fmt is Format.PARQUET and compression:
        raise UnsupportedFormatError(f"{path.name}: Parquet is compressed internally; unpack it")
    return fmt, compression


def fingerprint(path: Path) -> str:
    """Content fingerprint: BLAKE2b of size + first and last MiB (cheap on multi-GB files)."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), io.SEEK_END)
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()


@dataclass(slots=True)
class Staged:
    """A source made scannable by the engine: a Parquet file plus where its row numbers are.

    Parquet sources are used in place (`row_number_col` None: the engine's own file row number,
    0-based, is used); CSV and JSON Lines are streamed once into a temporary Parquet file with a
    ROW_NUMBER_COL column, so the engine can scan them as often as it needs at Parquet speed.
    """

    path: Path
    schema: pa.Schema  # the source columns (without the row number)
    rows: int
    malformed: list[Malformed]
    row_number_col: str | None
    temporary: bool

    def cleanup(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


class SourceFile:
    """One input file: `info` describes it, `stage()` readies it for the engine to scan."""

    def __init__(
        self, path: Path, null_values: tuple[str, ...] = ("",), encoding: str = "utf-8"
    ) -> None:
        """`encoding`: of a text file (CSV, JSON Lines), as the user names it; never guessed
        (cp1252 and Latin-1 differ in 27 characters: a wrong guess stores wrong names)."""
        if not path.is_file():
            raise SourceNotFoundError(f"{path}: no such file")
        self.path = path
        self.null_values = null_values
        self.encoding = encoding
        fmt, compression = detect(path)
        delimiter = None
        total = None
        if fmt is Format.CSV:
            delimiter, columns = _sniff_csv(path, compression, encoding)
        elif fmt is Format.PARQUET:
            columns, total = _parquet_schema(path)
        else:
            columns = _jsonl_columns(path, compression, encoding)
        self.info = SourceInfo(
            path=path,
            format=fmt,
            compression=compression,
            columns=tuple(columns),
            size=path.stat().st_size,
            source_id=fingerprint(path),
            total_rows=total,
            delimiter=delimiter,
        )

    def stage(
        self,
        tmp_dir: Path,
        progress: Callable[[int, int], None] | None = None,
        ts_column: str | None = None,
    ) -> Staged:
        """Ready the file for scanning; CSV/JSONL are streamed into a temporary Parquet file.

        `ts_column` (a text column of ISO timestamps) is pre-parsed batch by batch with Arrow's
        strict ISO 8601 cast into TS_NAIVE_COL / TS_UTC_COL: 0.04 s per million values, where
        the engine's time-zone-aware text parse costs about 0.4 s. A batch with any value Arrow
        cannot parse is left to the engine, so the result never depends on which path ran.
        """
        if self.info.format is Format.PARQUET:
            import pyarrow.parquet as pq

            schema = pq.read_schema(str(self.path))
            if progress:
                progress(self.info.total_rows or 0, self.info.size)
            return Staged(self.path, schema, self.info.total_rows or 0, [], None, False)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        target = tmp_dir / f"stage-{uuid.uuid4().hex}.parquet"
        try:
            batches = self.batches()
            if ts_column is not None:
                batches = (_with_parsed_ts(b, ts_column) for b in batches)
            rows, malformed, schema = _write_parquet(batches, target, progress)
            if not schema.names:
                schema = pa.schema([(name, pa.string()) for name in self.info.columns])
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return Staged(target, schema, rows, malformed, ROW_NUMBER_COL, True)

    def batches(self) -> Iterator[SourceBatch]:
        """Stream a text source (CSV, JSON Lines); Parquet is scanned in place, see stage()."""
        if self.info.format is Format.CSV:
            return _csv_batches(self.info, self.null_values, self.encoding)
        if self.info.format is Format.JSONL:
            return _jsonl_batches(self.info, self.null_values, self.encoding)
        raise ValueError(f"{self.info.format} sources are staged in place, not streamed")


def _open_text_sample(path: Path, compression: str | None, encoding: str = "utf-8") -> str:
    with pa.input_stream(str(path), compression=compression) as stream:
        raw = stream.read(SNIFF_BYTES)
    text: str = raw.decode(encoding, errors="replace")
    if len(raw) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


_OFFSET = re.compile(r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$")


def _with_parsed_ts(sb: SourceBatch, column: str) -> SourceBatch:
    import pyarrow.compute as pc

    if not sb.batch.num_rows:
        return sb
    text = sb.batch.column(column)
    naive = pa.nulls(len(text), pa.timestamp("us"))
    utc = pa.nulls(len(text), pa.timestamp("us", tz="UTC"))
    # A failed cast costs 30x a successful one, so try first what one value suggests.
    sample = next((v for v in text.slice(0, 64).to_pylist() if v), "")
    order = ["utc", "naive"] if _OFFSET.search(sample.strip()) else ["naive", "utc"]
    for kind in order:
        try:
            if kind == "naive":
                naive = pc.cast(text, naive.type)
            else:
                utc = pc.cast(text, utc.type)
            break
        except pa.ArrowInvalid:
            continue  # mixed or non-ISO values: the engine parses what is left
    batch = sb.batch.append_column(TS_NAIVE_COL, naive).append_column(TS_UTC_COL, utc)
    return SourceBatch(batch, sb.row_numbers, sb.malformed, sb.bytes_done)


def _write_parquet(
    batches: Iterator[SourceBatch], target: Path, progress: Callable[[int, int], None] | None
) -> tuple[int, list[Malformed], pa.Schema]:
    """Stream batches (plus their row numbers) into a Parquet file on a writer thread.

    Parsing and compressing overlap on two cores; memory stays at a few batches.
    """
    import pyarrow.parquet as pq

    pending: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def write() -> None:
        writer = None
        try:
            while (batch := pending.get()) is not None:
                if writer is None:
                    # Dictionary pages only for text: unique timestamps/row numbers just pay for
                    # it. Statistics only for the rest: string min/max cost a quarter of the
                    # write, and the engine uses the numeric ones (row-number ranges, no NULLs).
                    text = [f.name for f in batch.schema if pa.types.is_string(f.type)]
                    typed = [f.name for f in batch.schema if f.name not in text]
                    writer = pq.ParquetWriter(
                        str(target),
                        batch.schema,
                        compression=STAGE_COMPRESSION,
                        use_dictionary=text,
                        write_statistics=typed,
                    )
                writer.write_batch(batch)
        except BaseException as err:
            failure.append(err)
            while pending.get() is not None:  # drain so the reader never blocks
                pass
        finally:
            if writer is not None:
                writer.close()

    thread = threading.Thread(target=write, name="omnix-stage-writer", daemon=True)
    thread.start()
    rows, malformed, schema = 0, [], None
    try:
        for sb in batches:
            malformed.extend(sb.malformed)
            if sb.batch.num_rows:
                schema = schema or sb.batch.schema
                pending.put(sb.batch.append_column(ROW_NUMBER_COL, _int64_array(sb.row_numbers)))
                rows += sb.batch.num_rows
            if progress:
                progress(sb.batch.num_rows + len(sb.malformed), sb.bytes_done)
    finally:
        pending.put(None)
        thread.join()
    if failure:
        raise InputError(f"cannot stage {target.name}: {failure[0]}") from failure[0]
    if schema is None:  # nothing but malformed lines: stage an empty file of strings
        schema = pa.schema([])
    return rows, malformed, schema


def _sniff_csv(path: Path, compression: str | None, encoding: str) -> tuple[str, list[str]]:
    try:
        sample = _open_text_sample(path, compression, encoding)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path.name}: cannot read ({err})") from None
    if not sample.strip():
        raise InputError(f"{path.name}: file is empty (a header line is needed)")
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    # newline="": the csv module then reads CR-only line ends (old Mac exports) as Arrow does
    try:
        header = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
    except csv.Error as err:
        raise InputError(f"{path.name}: cannot read the CSV header ({err})") from None
    # a UTF-8 byte order mark (Excel's "CSV UTF-8") is no part of the first column's name
    columns = [h.strip() for h in header]
    if columns:
        columns[0] = columns[0].removeprefix("\ufeff").strip()
    if len(set(columns)) != len(columns) or any(not h for h in columns):
        raise InputError(f"{path.name}: header has empty or repeated column names: {header}")
    return delimiter, columns


def _csv_batches(
    info: SourceInfo, null_values: tuple[str, ...], encoding: str
) -> Iterator[SourceBatch]:
    from pyarrow import csv as pacsv

    ncols = len(info.columns)
    pending: list[Malformed] = []

    def on_invalid(row: Any) -> str:
        # pyarrow counts the header as line 1; a data row number excludes it.
        number = int(row.number) - 1 if row.number is not None else -1
        detail = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        pending.append(Malformed(number, row.text, detail))
        return "skip"

    raw = pa.OSFile(str(info.path), "rb")
    stream = pa.CompressedInputStream(raw, info.compression) if info.compression else raw
    next_row = 1
    try:
        # opening reads the first block already: its errors are the file's too
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False, block_size=CSV_BLOCK_BYTES,
                column_names=list(info.columns), skip_rows=1, encoding=encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=info.delimiter or ",", invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(info.columns, pa.string()),
                null_values=list(null_values),
                strings_can_be_null=True,
            ),
        )  # fmt: skip
        for batch in reader:
            skipped = sorted(m.row_number for m in pending if m.row_number >= next_row)
            numbers = _row_numbers(next_row, batch.num_rows, skipped)
            if numbers.size:
                next_row = int(numbers[-1]) + 1
            malformed, pending[:] = list(pending), []
            if batch.num_columns != ncols:
                raise InputError(f"{info.path.name}: header and data disagree on column count")
            kept, numbers = _split_swallowed(batch, numbers, info.delimiter or ",", malformed)
            yield SourceBatch(kept, numbers, malformed, _tell(raw))
    except UnicodeDecodeError as err:  # a named encoding, decoded by Python's codec
        raise _not_text_in(info.path, encoding, err) from None
    except pa.ArrowInvalid as err:
        if "invalid UTF8" in str(err):
            raise _not_text_in(info.path, encoding, err) from None
        raise InputError(f"{info.path.name}: cannot parse CSV ({err})") from None
    finally:
        stream.close()
        raw.close()
    if pending:
        empty = pa.RecordBatch.from_pydict({c: pa.array([], pa.string()) for c in info.columns})
        yield SourceBatch(empty, np.empty(0, np.int64), list(pending), info.size)


def _not_text_in(path: Path, encoding: str, err: Exception) -> InputError:
    """A text file that is not valid in its encoding: refused whole, saying what to do
    (a replacement character in a stored id or name would be a silent change)."""
    if encoding != "utf-8":
        return InputError(
            f"{path.name} is not {encoding} text ({err}); name the encoding it was written in "
            "with --encoding, or re-save it as UTF-8"
        )
    suffix = path.suffixes[0] if path.suffixes else ".csv"
    return InputError(
        f"{path.name} is not UTF-8 text ({err}); name its encoding, e.g. --encoding cp1252 "
        f"for a Windows or Excel export, or re-save it as UTF-8: "
        f"iconv -f cp1252 -t utf-8 {path.name} > utf8{suffix}"
    )


def _split_swallowed(
    batch: pa.RecordBatch, numbers: np.ndarray, delimiter: str, malformed: list[Malformed]
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Take out rows with a value that swallowed whole rows: a quote opened and not closed
    makes the parser read on, through line ends, to the next quote (or the end of the file),
    so the lines in between became part of one value and were counted as nothing. Such a row
    goes to `malformed` with its values as text (the swallowed lines included, so nothing is
    lost) and how many lines it holds. A quoted value that only spans lines (a product
    description in two lines) stays: only a line with a whole row's delimiters counts.
    Line breaks are looked for in each column's bytes first, so clean data costs a scan of
    its buffers (about 1.5 ms per million values)."""
    import pyarrow.compute as pc

    suspect = [i for i, col in enumerate(batch.columns) if _has_line_break(col)]
    if not suspect:
        return batch, numbers
    row = "[^\r\n]*" + f"(?:{re.escape(delimiter)}[^\r\n]*){{{batch.num_columns - 1}}}"
    swallowing = f"[\r\n]{row}(?:[\r\n]|$)"
    bad = np.zeros(batch.num_rows, dtype=bool)
    for i in suspect:
        hit = pc.fill_null(pc.match_substring_regex(batch.column(i), swallowing), False)
        bad |= hit.to_numpy(zero_copy_only=False)
    if not bad.any():
        return batch, numbers
    names = batch.schema.names
    for k in np.flatnonzero(bad):
        record = batch.slice(int(k), 1).to_pylist()[0]
        values = ["" if v is None else str(v) for v in record.values()]
        column = next(names[i] for i in suspect if "\n" in values[i] or "\r" in values[i])
        lines = max(len(v.splitlines()) - 1 for v in values)
        malformed.append(
            Malformed(
                int(numbers[k]),
                delimiter.join(values),
                f"a quoted value in {column!r} runs over {lines} more line(s) that look like "
                "rows: an unclosed quote? Fix it and ingest the file again",
            )
        )
    keep = pa.array(~bad)
    return batch.filter(keep), numbers[~bad]


def _has_line_break(col: pa.Array) -> bool:
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return False
    data = col.buffers()[2]
    if data is None or data.size == 0:
        return False
    # any byte below 14 (LF 10, CR 13, and tab ...): a cheap, zero-copy superset test; the
    # regex in _split_swallowed then decides
    return bool((np.frombuffer(data, dtype=np.uint8) < 14).any())


def _row_numbers(start: int, n: int, skipped: list[int]) -> np.ndarray:
    """The first n data row numbers from `start` on that are not malformed lines."""
    candidates = np.arange(start, start + n + len(skipped), dtype=np.int64)
    if skipped:
        candidates = candidates[~np.isin(candidates, np.asarray(skipped, dtype=np.int64))]
    return candidates[:n]


def _int64_array(values: np.ndarray) -> pa.Array:
    """`values` as an int64 Arrow array over the same memory. Not `pa.array`: its first call
    in a process imports pandas to check the argument's type (apache/arrow#34994), 0.25-0.3 s
    and about 35 MB of every CSV ingest, whose clean path needs no other conversion from
    Python or NumPy objects."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def _tell(raw: Any) -> int:
    try:
        return int(raw.tell()) if raw is not None else 0
    except (OSError, ValueError):
        return 0


def _parquet_schema(path: Path) -> tuple[list[str], int]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(str(path))
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path.name}: not a readable Parquet file ({err})") from None
    return list(meta.schema_arrow.names), int(meta.metadata.num_rows)


def _jsonl_lines(
    path: Path, compression: str | None, encoding: str = "utf-8"
) -> Iterator[tuple[int, str]]:
    with pa.input_stream(str(path), compression=compression) as stream:
        text = io.TextIOWrapper(stream, encoding=encoding)
        number = 0
        try:
            for line in text:
                if not line.strip():
                    continue
                number += 1
                yield number, line
        except UnicodeDecodeError as err:
            raise _not_text_in(path, encoding, err) from None


def _jsonl_columns(path: Path, compression: str | None, encoding: str) -> list[str]:
    """Union of the keys of all objects, in first-seen order (a first pass over the file)."""
    seen: dict[str, None] = {}
    for _, line in _jsonl_lines(path, compression, encoding):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            seen.update(dict.fromkeys(obj))
    if not seen:
        raise InputError(f"{path.name}: no JSON objects found")
    return list(seen)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _jsonl_batches(
    info: SourceInfo, null_values: tuple[str, ...], encoding: str
) -> Iterator[SourceBatch]:
    nulls = frozenset(null_values)
    columns = info.columns
    rows: dict[str, list[str | None]] = {c: [] for c in columns}
    numbers: list[int] = []
    malformed: list[Malformed] = []

    def flush() -> SourceBatch:
        batch = pa.RecordBatch.from_pydict({c: pa.array(v, pa.string()) for c, v in rows.items()})
        out = SourceBatch(batch, np.asarray(numbers, np.int64), list(malformed), 0)
        for v in rows.values():
            v.clear()
        numbers.clear()
        malformed.clear()
        return out

    for number, line in _jsonl_lines(info.path, info.compression, encoding):
        try:
            obj = json.loads(line)
        except ValueError as err:
            malformed.append(Malformed(number, line.rstrip("\n"), f"invalid JSON: {err}"))
            continue
        if not isinstance(obj, dict):
            malformed.append(Malformed(number, line.rstrip("\n"), "not a JSON object"))
            continue
        for col in columns:
            text = _as_text(obj.get(col))
            rows[col].append(None if text in nulls else text)
        numbers.append(number)
        if len(numbers) >= JSONL_BATCH_ROWS:
            yield flush()
    if numbers or malformed:
        yield flush()
