"""File writers for record batches, one per output format, picked by the file name.

.parquet   Parquet, zstd
.csv       CSV with a header; UTC timestamps as ``2025-01-02 06:00:29.754001Z``
.csv.gz    the same, gzip level 6 (Python's zlib: Arrow's gzip runs at level 9, ~4x slower)
.csv.zst   the same, zstd (Arrow's CompressedOutputStream)
.jsonl     one JSON object per line; timestamps as ``2025-01-02T06:00:29.754001Z``
"""

from __future__ import annotations

import gzip
import json
import pathlib
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from omnix.domain.errors import ConfigError

FORMATS = (".parquet", ".csv", ".csv.gz", ".csv.zst", ".jsonl")
PARQUET_CODEC = "zstd"
_GZIP_LEVEL = 6
_JSON_SLICE = 131_072  # rows formatted at a time: bounds the memory of the text
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


class Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


def file_format(path: pathlib.Path) -> str:
    """The format suffix of `path` (one of FORMATS); ConfigError for anything else."""
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise ConfigError(f"unsupported output {path.name!r}: name it *{', *'.join(FORMATS)}")


def open_sink(path: pathlib.Path, schema: pa.Schema) -> Sink:
    """A writer for `path`, chosen by its suffix (see FORMATS)."""
    fmt = file_format(path)
    if fmt == ".parquet":
        return ParquetSink(path, schema)
    if fmt == ".jsonl":
        return _JsonLinesSink(path, schema)
    return _CsvSink(path, schema, fmt)


def utc_text(column: pa.Array, separator: str = " ") -> pa.Array:
    """UTC timestamps (us) as text, e.g. ``2025-01-02 06:00:29.754001Z``.

    Arrow formats a zoned timestamp through the time zone database, ~15x slower than a
    naive one; for UTC the naive text plus "Z" is the same instant.
    """
    naive = column.view(pa.timestamp("us")).cast(pa.string())  # "YYYY-MM-DD hh:mm:ss.ffffff"
    if separator != " ":
        naive = pc.binary_replace_slice(naive, start=10, stop=11, replacement=separator)
    return pc.binary_replace_slice(naive, start=26, stop=26, replacement="Z")


def _is_utc_us(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) and kind.unit == "us" and kind.tz in {"UTC", "+00:00"}


def _timestamp_text(column: pa.Array, separator: str) -> pa.Array:
    if _is_utc_us(column.type):
        return utc_text(column, separator)
    return pc.strftime(column, format=f"%Y-%m-%d{separator}%H:%M:%S%z")


class ParquetSink:
    def __init__(self, path: pathlib.Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression=PARQUET_CODEC)

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


class _CsvSink:
    """CSV with a header; timestamps written as text by `utc_text` (Arrow's own is slow)."""

    def __init__(self, path: pathlib.Path, schema: pa.Schema, fmt: str) -> None:
        self._stream: pa.NativeFile | BinaryIO
        if fmt == ".csv.gz":
            # The sink owns the stream and closes it in close(), like the Arrow ones.
            self._stream = gzip.open(path, "wb", compresslevel=_GZIP_LEVEL)  # noqa: SIM115
        elif fmt == ".csv.zst":
            self._stream = pa.CompressedOutputStream(str(path), "zstd")
        else:
            self._stream = pa.OSFile(str(path), "wb")
        self._text = [pa.types.is_timestamp(f.type) for f in schema]
        fields = [
            f.with_type(pa.string()) if t else f for f, t in zip(schema, self._text, strict=True)
        ]
        self._schema = pa.schema(fields)
        self._writer = pa_csv.CSVWriter(self._stream, self._schema)

    def write(self, batch: pa.RecordBatch) -> None:
        columns = [
            _timestamp_text(c, " ") if t else c
            for c, t in zip(batch.columns, self._text, strict=True)
        ]
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self._schema))

    def close(self) -> None:
        self._writer.close()
        self._stream.close()


def _escaped(text: pa.Array) -> pa.Array:
    """JSON string contents; only values that need it go through `json.dumps`."""
    mask = pc.fill_null(pc.match_substring_regex(text, _NEEDS_ESCAPE), False)
    if not pc.any(mask).as_py():
        return text
    fixed = [json.dumps(v)[1:-1] for v in text.filter(mask).to_pylist()]
    return pc.replace_with_mask(text, mask, pa.array(fixed, pa.string()))


def _float_text(column: pa.Array) -> pa.Array:
    """Floats as JSON numbers, whole ones with ".0" so readers infer a float column;
    NaN and infinities (not JSON) become null."""
    values = column.to_numpy(zero_copy_only=False)
    finite = np.isfinite(values)
    whole = finite & (values == np.trunc(np.where(finite, values, 0.0)))
    text = column.cast(pa.string())
    text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, ".0", ""), text)
    return pc.if_else(pa.array(finite), text, pa.scalar(None, pa.string()))


def _json_member(column: pa.Array) -> tuple[str, pa.Array, str]:
    """(text before, value text, text after) of one JSON member's value."""
    if pa.types.is_timestamp(column.type):
        column = _timestamp_text(column, "T")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        text = _escaped(column)
        if column.null_count == 0:  # the quotes can go into the literal parts
            return '"', text, '"'
        return "", pc.fill_null(pc.binary_join_element_wise('"', text, '"', ""), "null"), ""
    if pa.types.is_floating(column.type):
        return "", pc.fill_null(_float_text(column), "null"), ""
    if pa.types.is_boolean(column.type) or pa.types.is_integer(column.type):
        return "", pc.fill_null(column.cast(pa.string()), "null"), ""
    raise ConfigError(f"cannot write a {column.type} column as JSON")


class _JsonLinesSink:
    """One JSON object per line, assembled column-wise with Arrow kernels (no per-row Python)."""

    def __init__(self, path: pathlib.Path, schema: pa.Schema) -> None:
        self._file = pa.OSFile(str(path), "wb")
        self._keys = [json.dumps(name) + ":" for name in schema.names]

    def write(self, batch: pa.RecordBatch) -> None:
        for start in range(0, batch.num_rows, _JSON_SLICE):
            self._write(batch.slice(start, _JSON_SLICE))

    def _write(self, batch: pa.RecordBatch) -> None:
        parts: list[pa.Array | str] = []
        literal = "{"
        for key, column in zip(self._keys, batch.columns, strict=True):
            before, text, after = _json_member(column)
            parts += [literal + key + before, text]
            literal = after + ","
        parts.append(literal[:-1] + "}\n")
        lines = pc.binary_join_element_wise(*parts, "").cast(pa.large_string())
        _, offsets, data = lines.buffers()
        if offsets is None or data is None or len(lines) == 0:
            return
        bounds = np.frombuffer(offsets, dtype=np.int64)[[lines.offset, lines.offset + len(lines)]]
        self._file.write(data.slice(int(bounds[0]), int(bounds[1] - bounds[0])))

    def close(self) -> None:
        self._file.close()
