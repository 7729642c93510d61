"""Batch scoring of note exports: streaming readers and writers, multiprocess scoring, resume.

A note export (CSV, JSONL or Parquet) is read in chunks; every input row becomes exactly one output record,
either scored (the ``nec-nlp score --json`` shape plus the id and the kept columns) or carrying an ``error``
reason (``empty_text``, ``undecodable_bytes``, ``binary_content``, ``text_too_long``, ``missing_id``,
``duplicate_id``, ``malformed_row``, ``scoring_failed``). Messages name the row number, the id and the reason,
never the note text.

Records are spooled, in input order, to ``OUTPUT.part`` (JSONL, flushed after every chunk) and the final file
is written and renamed into place only when the run is complete, so an interrupted run never leaves a
half-written output; ``resume=True`` continues from the spool without rescoring or duplicating finished rows.

The scorer is built inside each worker process by a picklable module-level factory (``nec_nlp.api.load`` by
default); the spaCy pipeline itself is never pickled.
"""

import csv
import hashlib
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nec_nlp.errors import InputError, ModelError, NecNlpError

logger = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl", "parquet")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}

#: Error reasons, in the order the checks run, with the text used in messages.
REASONS = {
    "malformed_row": "malformed row",
    "undecodable_bytes": "bytes that are not valid UTF-8",
    "binary_content": "binary content (NUL or control bytes)",
    "text_too_long": "text over the size limit",
    "missing_id": "missing id",
    "duplicate_id": "duplicate id",
    "empty_text": "empty text",
    "scoring_failed": "the scorer raised an error",
}

_PIECE = 1 << 20  # bytes read at a time from one physical line
_HEAD = 1 << 16  # bytes of an oversized record kept to recover its id
_META_KEYS = ("row", "error", "error_message")


# --------------------------------------------------------------------------------------------------- records
@dataclass
class NoteRecord:
    """One input row after reading and validation.

    Attributes:
        row: 1-based data row number in the input (header excluded).
        note_id: the id as a string, or None when missing.
        text: the note text (None for rows in error).
        kept: pass-through column values.
        error: an error reason from :data:`REASONS`, or None when the row is to be scored.
        message: the error message (row, id and reason only).
    """

    row: int
    note_id: str | None
    text: str | None
    kept: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    message: str | None = None


@dataclass
class BatchSummary:
    """What a batch run did."""

    input: str
    output: str
    rows_in: int = 0
    scored: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    resumed: int = 0
    seconds: float = 0.0
    workers: int = 1

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def notes_per_s(self) -> float:
        done = self.rows_in - self.resumed
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "rows_in": self.rows_in,
            "scored": self.scored,
            "errors": dict(sorted(self.errors.items())),
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
            "notes_per_s": round(self.notes_per_s, 2),
            "workers": self.workers,
        }


def detect_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Return ``fmt`` or the format named by the file extension (``.csv``, ``.jsonl``, ``.parquet``).

    Raises:
        InputError: when the format is unknown.
    """
    if fmt:
        fmt = fmt.lower().lstrip(".")
        fmt = "jsonl" if fmt in ("json", "ndjson") else fmt
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        return fmt
    suffixes = Path(path).suffixes
    ext = suffixes[-2] if suffixes and suffixes[-1] == ".part" and len(suffixes) > 1 else (suffixes or [""])[-1]
    if ext.lower() not in _EXTENSIONS:
        raise InputError(f"cannot tell the format of {Path(path).name!r} from its extension: pass --format")
    return _EXTENSIONS[ext.lower()]


# --------------------------------------------------------------------------------------------------- readers
@dataclass
class _Raw:
    """A row as read, before validation."""

    row: int
    fields: dict[str, Any] | None  # None when the row could not be parsed
    error: str | None = None
    detail: str = ""
    pos: int = 0  # bytes consumed so far (for progress)


def _physical_lines(f: io.BufferedIOBase) -> Iterator[bytes]:
    """Yield pieces of at most ``_PIECE`` bytes; a piece ending in ``\\n`` ends a physical line."""
    while True:
        piece = f.readline(_PIECE)
        if not piece:
            return
        yield piece


class _QuoteScanner:
    """RFC 4180 quote state across physical lines: a quote opens only at the start of a field."""

    def __init__(self, delimiter: bytes = b",") -> None:
        self.delim = delimiter[0]
        self.reset()

    def reset(self) -> None:
        self.in_quotes = False
        self.pending_close = False  # a quote ended the previous piece while in quotes
        self.prev: int | None = None  # last byte seen (None at record start)

    def feed(self, piece: bytes) -> None:
        i = 0
        n = len(piece)
        if self.pending_close and n:
            self.pending_close = False
            if piece[0] == 0x22:  # "" split across pieces: an escaped quote
                i = 1
            else:
                self.in_quotes = False
        while i < n:
            j = piece.find(b'"', i)
            if j < 0:
                break
            if self.in_quotes:
                if j + 1 < n:
                    if piece[j + 1] == 0x22:
                        i = j + 2
                        continue
                    self.in_quotes = False
                    i = j + 1
                else:
                    self.pending_close = True
                    i = j + 1
            else:
                prev = piece[j - 1] if j > 0 else self.prev
                if prev is None or prev in (self.delim, 0x0A, 0x0D):
                    self.in_quotes = True
                i = j + 1
        if n:
            self.prev = piece[-1]

    @property
    def open(self) -> bool:
        return self.in_quotes and not self.pending_close


def _decode(raw: bytes) -> tuple[str, bool]:
    """Decode UTF-8; return (text, ok). Undecodable bytes become U+FFFD."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False


# The csv module refuses fields over 131,072 characters by default, which made a long note a "malformed row" with
# no id; records are already capped in bytes (``record_cap``) before they reach the parser.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _parse_csv_record(text: str, header: Sequence[str]) -> list[str] | None:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) != len(header):
        return None
    return rows[0]


def _read_csv(path: Path, columns: Sequence[str], record_cap: int) -> Iterator[_Raw]:
    with open(path, "rb") as f:
        header_line = f.readline()
        header_text, ok = _decode(header_line.lstrip(b"\xef\xbb\xbf"))
        try:
            header = next(csv.reader([header_text.rstrip("\r\n")]))
        except (StopIteration, csv.Error):
            raise InputError(f"{path.name}: no header line") from None
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputError(f"{path.name}: column(s) {', '.join(missing)} not in the header ({', '.join(header)})")
        rows = itertools.count(1)
        yield from _csv_records(f, header, record_cap, rows, f.tell)


def _csv_records(f: Any, header: Sequence[str], record_cap: int, rows: Iterator[int],
                 tell: Callable[[], int], depth: int = 0) -> Iterator[_Raw]:
    """Records of a CSV body. A record that cannot be parsed and spans several physical lines (an
    unterminated quote) yields its first line as ``malformed_row`` and the following lines are read again as
    records, so no row after it is lost. Records over ``record_cap`` bytes are spilled to a temporary file."""
    scanner = _QuoteScanner()
    lines: list[bytes] = []  # physical lines of the current record
    size = 0
    spill: Any = None  # temporary file holding an oversized record
    head = b""
    for piece in _physical_lines(f):
        scanner.feed(piece)
        size += len(piece)
        if spill is not None:
            spill.write(piece)
        elif size > record_cap:
            spill = tempfile.TemporaryFile()
            data = b"".join(lines) + piece
            head = data[:_HEAD]
            spill.write(data)
            lines = []
        elif lines and not lines[-1].endswith(b"\n"):
            lines[-1] += piece
        else:
            lines.append(piece)
        if piece.endswith(b"\n") and not scanner.open:
            if spill is not None:
                spill.close()
                yield _Raw(next(rows), _head_fields(_decode(head)[0], header), "text_too_long",
                           f"record over {record_cap:,} bytes", tell())
            elif b"".join(lines).strip():
                yield from _csv_lines(lines, header, record_cap, rows, tell, open_quote=False, depth=depth)
            scanner.reset()
            lines, size, spill, head = [], 0, None, b""
    if spill is not None:  # an unterminated quote ran to the end of the file: read the lines again
        spill.seek(0)
        first = spill.readline()
        yield _Raw(next(rows), _head_fields(_decode(first[:_HEAD])[0] + "\n", header), "malformed_row",
                   "unterminated quote", tell())
        yield from _csv_records(spill, header, record_cap, rows, tell, depth + 1)
        spill.close()
    elif b"".join(lines).strip():
        yield from _csv_lines(lines, header, record_cap, rows, tell, open_quote=scanner.open, depth=depth)


def _csv_lines(lines: list[bytes], header: Sequence[str], record_cap: int, rows: Iterator[int],
               tell: Callable[[], int], *, open_quote: bool, depth: int = 0) -> Iterator[_Raw]:
    if len(lines) > 1 and depth > 50:  # pathological input (many broken quotes): one record per line
        for line in lines:
            if line.strip():
                yield from _csv_lines([line], header, record_cap, rows, tell, open_quote=False)
        return
    raw = b"".join(lines)
    text, ok = _decode(raw)
    parsed = None if open_quote else _parse_csv_record(text, header)
    if parsed is None and len(lines) > 1:
        # first line malformed (e.g. an unterminated quote); the lines after it are records again
        yield from _csv_lines(lines[:1], header, record_cap, rows, tell, open_quote=False)
        yield from _csv_records(io.BytesIO(b"".join(lines[1:])), header, record_cap, rows, tell, depth + 1)
        return
    row = next(rows)
    if parsed is None:
        fields = _head_fields(text + "\n", header) if text else {}
        yield _Raw(row, fields, "malformed_row", f"cannot be parsed as a CSV record with {len(header)} fields",
                   tell())
        return
    rec = dict(zip(header, parsed))
    yield _Raw(row, rec, None if ok else "undecodable_bytes", "", tell())


def _head_fields(text: str, header: Sequence[str]) -> dict[str, Any]:
    """Best-effort fields from the head of an oversized or broken CSV record (the last field is dropped)."""
    try:
        parsed = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        parsed = []
    complete = parsed[:-1]
    return {h: v for h, v in zip(header, complete)}


def _read_jsonl(path: Path, columns: Sequence[str], record_cap: int) -> Iterator[_Raw]:
    with open(path, "rb") as f:
        row = 0
        pos = 0
        buf: list[bytes] = []
        size = 0
        for piece in _physical_lines(f):
            pos += len(piece)
            size += len(piece)
            if size <= record_cap:
                buf.append(piece)
            if not piece.endswith(b"\n"):
                continue
            raw = b"".join(buf)
            too_big = size > record_cap
            buf, size = [], 0
            if not too_big and not raw.strip():
                continue
            row += 1
            if too_big:
                yield _Raw(row, {}, "text_too_long", f"record over {record_cap:,} bytes", pos)
                continue
            yield _jsonl_raw(raw, row, pos)
        if buf or size:
            raw = b"".join(buf)
            if size > record_cap:
                row += 1
                yield _Raw(row, {}, "text_too_long", f"record over {record_cap:,} bytes", pos)
            elif raw.strip():
                row += 1
                yield _jsonl_raw(raw, row, pos)


def _jsonl_raw(raw: bytes, row: int, pos: int) -> _Raw:
    text, ok = _decode(raw[3:] if row == 1 and raw.startswith(b"\xef\xbb\xbf") else raw)
    try:
        obj = json.loads(text)
    except ValueError:
        return _Raw(row, {}, "malformed_row", "not a JSON object", pos)
    if not isinstance(obj, dict):
        return _Raw(row, {}, "malformed_row", "not a JSON object", pos)
    if not ok:
        return _Raw(row, obj, "undecodable_bytes", "", pos)
    return _Raw(row, obj, None, "", pos)


def _read_parquet(path: Path, columns: Sequence[str], chunk_size: int) -> Iterator[_Raw]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"{path.name}: column(s) {', '.join(missing)} not in the file ({', '.join(names)})")
    row = 0
    for batch in pf.iter_batches(batch_size=chunk_size, columns=list(dict.fromkeys(columns))):
        for rec in batch.to_pylist():
            row += 1
            error = None
            for key, value in rec.items():
                if isinstance(value, (bytes, bytearray)):
                    text, ok = _decode(bytes(value))
                    rec[key] = text
                    if not ok:
                        error = "undecodable_bytes"
            yield _Raw(row, rec, error, "", row)


def parquet_rows(path: str | os.PathLike[str]) -> int:
    """Number of rows in a Parquet file (from its footer)."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def read_records(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    id_col: str = "note_id",
    text_col: str = "text",
    keep: Sequence[str] = (),
    max_chars: int = 1_000_000,
    chunk_size: int = 256,
    positions: list[int] | None = None,
) -> Iterator[NoteRecord]:
    """Stream validated :class:`NoteRecord` objects from a note export, one per input row.

    Args:
        path: the export (CSV with a header, JSONL with one object a line, or Parquet).
        fmt: ``csv``, ``jsonl`` or ``parquet``; detected from the extension when None.
        id_col: the id column.
        text_col: the note text column.
        keep: pass-through columns copied to the output.
        max_chars: texts longer than this are not scored (``text_too_long``).
        chunk_size: Parquet batch size.
        positions: when given, the byte position (or Parquet row) reached is appended after every record.

    Yields:
        One record per input row, in input order; rows that cannot be scored carry an ``error`` reason.

    Raises:
        InputError: the file cannot be opened or lacks the id, text or kept columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file {str(path)!r} does not exist")
    fmt = detect_format(path, fmt)
    columns = [id_col, text_col, *keep]
    record_cap = max(4 * max_chars + _HEAD, _PIECE)
    if fmt == "csv":
        raws: Iterator[_Raw] = _read_csv(path, columns, record_cap)
    elif fmt == "jsonl":
        raws = _read_jsonl(path, columns, record_cap)
    else:
        raws = _read_parquet(path, columns, chunk_size)
    seen = SeenIds()
    for raw in raws:
        rec = _validate(raw, id_col, text_col, keep, max_chars, seen)
        if positions is not None:
            positions.append(raw.pos)
        yield rec


class SeenIds:
    """The ids seen so far and the row each was first seen at, in about 24 bytes per id.

    A dict of id strings costs ~100 bytes per id, which grows without bound over an export of millions of rows.
    Here each id is a 16-byte BLAKE2b digest kept in sorted numpy arrays (digest, row); recent ids wait in a small
    dict that is merged in when it reaches an eighth of the arrays (at least 65,536 ids), so merges stay rare.
    Supports ``in``, ``[]`` and assignment like the dict it replaces.
    """

    def __init__(self, buffer: int = 65_536) -> None:
        import numpy as np

        self._np = np
        self._min_buffer = buffer
        self._recent: dict[bytes, int] = {}
        self._keys = np.empty(0, dtype="S16")
        self._rows = np.empty(0, dtype=np.int64)
        self._missed: tuple[str, bytes] | None = None  # the last id looked up and not found, with its digest

    @staticmethod
    def _digest(note_id: str) -> bytes:
        return hashlib.blake2b(note_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def _find(self, key: bytes) -> int | None:
        row = self._recent.get(key)
        if row is not None:
            return row
        j = int(self._np.searchsorted(self._keys, key))
        # numpy strips trailing NUL bytes of an S16 item: compare the stored form (every digest is 16 bytes)
        if j < len(self._keys) and self._keys[j] == key.rstrip(b"\x00"):
            return int(self._rows[j])
        return None

    def get(self, note_id: object, default: int | None = None) -> int | None:
        if not isinstance(note_id, str):
            return default
        key = self._digest(note_id)
        row = self._find(key)
        if row is None:
            self._missed = (note_id, key)
            return default
        return row

    def __contains__(self, note_id: object) -> bool:
        return self.get(note_id) is not None

    def __getitem__(self, note_id: str) -> int:
        row = self.get(note_id)
        if row is None:
            raise KeyError(note_id)
        return row

    def __setitem__(self, note_id: str, row: int) -> None:
        if self._missed is not None and self._missed[0] == note_id:
            key = self._missed[1]  # just looked up and not found: no second search
        else:
            key = self._digest(note_id)
            if self._find(key) is not None:
                return  # the first row wins
        self._missed = None
        self._recent[key] = row
        if len(self._recent) >= max(self._min_buffer, len(self._keys) // 8):
            self._merge()

    def __len__(self) -> int:
        return len(self._keys) + len(self._recent)

    def _merge(self) -> None:
        np = self._np
        keys = np.concatenate([self._keys, np.array(list(self._recent), dtype="S16")])
        rows = np.concatenate([self._rows, np.fromiter(self._recent.values(), dtype=np.int64,
                                                      count=len(self._recent))])
        order = np.argsort(keys, kind="stable")
        self._keys, self._rows = keys[order], rows[order]
        self._recent = {}


def _as_id(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _binary(text: str) -> bool:
    if "\x00" in text:
        return True
    sample = text[:4096]
    ctrl = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    return ctrl > max(8, len(sample) // 20)


def error_message(row: int, note_id: str | None, reason: str, detail: str = "") -> str:
    """The message of a row error: row number (when known), id and reason, never the text."""
    id_part = f"id {note_id!r}" if note_id is not None else "no id"
    where = f"row {row} ({id_part})" if row > 0 else id_part
    return f"{where}: {REASONS[reason]}" + (f" ({detail})" if detail else "")


def validate_fields(fields: dict[str, Any], *, id_col: str = "note_id", text_col: str = "text",
                    keep: Sequence[str] = (), max_chars: int = 1_000_000, row: int = 0,
                    seen: "SeenIds | dict[str, int] | None" = None) -> NoteRecord:
    """Validate one row given as a dict (used by the Spark path; ``seen`` enables duplicate-id checks)."""
    return _validate(_Raw(row, fields), id_col, text_col, keep, max_chars, {} if seen is None else seen)


def _validate(raw: _Raw, id_col: str, text_col: str, keep: Sequence[str], max_chars: int,
              seen: "SeenIds | dict[str, int]") -> NoteRecord:
    fields = raw.fields or {}
    note_id = _as_id(fields.get(id_col))
    prior = seen.get(note_id) if note_id is not None else None
    kept = {k: fields.get(k) for k in keep}
    text_value = fields.get(text_col)
    reason = raw.error
    detail = raw.detail
    text: str | None = None
    if reason is None:
        if text_value is not None and not isinstance(text_value, str):
            text_value = str(text_value) if not (isinstance(text_value, float) and math.isnan(text_value)) else None
        text = text_value
        if text is not None and len(text) > max_chars:
            reason, detail = "text_too_long", f"{len(text):,} > {max_chars:,} characters"
        elif text is not None and _binary(text):
            reason = "binary_content"
        elif note_id is None:
            reason = "missing_id"
        elif prior is not None:
            reason, detail = "duplicate_id", f"first seen at row {prior}"
        elif text is None or not text.strip():
            reason = "empty_text"
    if note_id is not None and prior is None:
        seen[note_id] = raw.row
    if reason is None:
        return NoteRecord(raw.row, note_id, text, kept)
    message = error_message(raw.row, note_id, reason, detail)
    # sanitize kept values of rows that could not be decoded or parsed: never echo raw bytes
    if reason in ("undecodable_bytes", "binary_content", "malformed_row"):
        kept = {k: (v if isinstance(v, str) and "\ufffd" not in v and not _binary(v) else None)
                for k, v in kept.items()}
    return NoteRecord(raw.row, note_id, None, kept, reason, message)


# --------------------------------------------------------------------------------------------------- scoring
_WORKER_SCORER: Any = None
_WORKER_ERROR: BaseException | None = None
_WORKER_CACHE: "ResultCache | None" = None


def default_factory(**kwargs: Any) -> Any:
    """Build the real scorer (``nec_nlp.api.load``); module-level so it pickles by reference."""
    from nec_nlp.api import load

    return load(**kwargs)


class ResultCache:
    """Bounded LRU of results by note text (digest), for exports with repeated, templated notes.

    The scorer is a deterministic function of the text, so a cached result equals a fresh one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self.hits = 0

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, key: bytes) -> dict[str, Any] | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
            self.hits += 1
        return value

    def put(self, key: bytes, value: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


def _init_worker(factory: Callable[..., Any], kwargs: dict[str, Any], cache_size: int = 0) -> None:
    # an initializer that raises makes multiprocessing respawn workers forever: keep the error for the tasks
    global _WORKER_SCORER, _WORKER_ERROR, _WORKER_CACHE
    _WORKER_CACHE = ResultCache(cache_size) if cache_size > 0 else None
    try:
        _WORKER_SCORER = factory(**kwargs)
    except Exception as exc:  # noqa: BLE001
        _WORKER_ERROR = exc


def _score_uncached(scorer: Any, texts: list[str], batch_size: int) -> list[tuple[dict[str, Any] | None, str | None]]:
    try:
        results = [r.to_dict() for r in scorer.score_many(texts, batch_size=batch_size)]
        if len(results) == len(texts):
            return [(r, None) for r in results]
    except Exception:  # noqa: BLE001 - isolate the failing note below
        pass
    out: list[tuple[dict[str, Any] | None, str | None]] = []
    for text in texts:
        try:
            out.append((scorer.score(text).to_dict(), None))
        except Exception as exc:  # noqa: BLE001 - reported as a row error, never with the text
            out.append((None, type(exc).__name__))
    return out


def _score_texts(scorer: Any, texts: list[str], batch_size: int = 64, cache: ResultCache | None = None
                 ) -> list[tuple[dict[str, Any] | None, str | None]]:
    """Score texts; returns (result dict, None) or (None, error detail) for each, in order."""
    if cache is None:
        return _score_uncached(scorer, texts, batch_size)
    keys = [ResultCache.key(t) for t in texts]
    out: list[tuple[dict[str, Any] | None, str | None] | None] = []
    todo: dict[bytes, list[int]] = {}
    for i, k in enumerate(keys):
        hit = cache.get(k)
        if hit is not None:
            out.append((hit, None))
        else:
            out.append(None)
            todo.setdefault(k, []).append(i)
    if todo:
        firsts = [idx[0] for idx in todo.values()]
        for (k, idx), res in zip(todo.items(), _score_uncached(scorer, [texts[i] for i in firsts], batch_size)):
            if res[0] is not None:
                cache.put(k, res[0])
            for i in idx:
                out[i] = res
    return out  # type: ignore[return-value]


class ScoringError(NecNlpError):
    """Scoring stopped (a worker process died); the rows already written can be resumed."""

    code = "E020"


class ScorerStartError(RuntimeError):
    """The scorer could not be built in a worker process."""


def _score_in_worker(texts: list[str]) -> list[tuple[dict[str, Any] | None, str | None]]:
    if _WORKER_ERROR is not None:
        raise ScorerStartError(f"{type(_WORKER_ERROR).__name__}: {_WORKER_ERROR}")
    return _score_texts(_WORKER_SCORER, texts, cache=_WORKER_CACHE)


def output_record(rec: NoteRecord, id_col: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """The output object of one row: id, kept columns, row, error fields, then the ``score --json`` shape."""
    out: dict[str, Any] = {id_col: rec.note_id}
    out.update(rec.kept)
    out["row"] = rec.row
    out["error"] = rec.error
    out["error_message"] = rec.message
    if result is None:
        out.update({"code_set": None, "model": None, "mentions": [], "codes": []})
    else:
        out.update(result)
    return out


def score_notes(
    records: Iterable[NoteRecord],
    *,
    id_col: str = "note_id",
    workers: int | None = None,
    chunk_size: int = 16,
    code_set: str | None = None,
    model: str | None = None,
    scorer_factory: Callable[..., Any] | None = None,
    scorer_kwargs: dict[str, Any] | None = None,
    cache_size: int = 256,
    mp_context: str = "spawn",
    recycle_after: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Score validated records, yielding one output object per record, in input order.

    Memory stays bounded: at most ``2 * workers`` chunks are in flight.

    Args:
        records: from :func:`read_records` (or built by hand).
        id_col: key of the id in the output objects.
        workers: scoring processes; None = all cores; 1 scores in this process.
        chunk_size: notes sent to a worker at a time.
        code_set: code-set release passed to the factory.
        model: model name or path passed to the factory.
        scorer_factory: picklable module-level callable returning an object with ``score``/``score_many``.
        scorer_kwargs: keyword arguments of the factory (default: ``model`` and ``code_set``).
        cache_size: results of repeated identical texts kept per worker (0 = no cache); the scorer is
            deterministic, so the output is the same either way.
        mp_context: multiprocessing start method.
        recycle_after: the worker processes are replaced by fresh ones after scoring about this many notes each
            (0 = never), so their caches and allocator cannot creep up over a long run. The whole pool is replaced
            at once, after the chunks in flight are done and the old processes have exited, so an old and a new
            scorer never hold memory together; each replacement reloads the model (~7 s of idle workers). Only with
            ``workers > 1``.

    Yields:
        Output objects (see :func:`output_record`).
    """
    factory = scorer_factory or default_factory
    kwargs = dict(scorer_kwargs) if scorer_kwargs is not None else {"model": model, "code_set": code_set}
    n_workers = max(1, workers or os.cpu_count() or 1)
    chunks = _chunks(records, chunk_size)
    if n_workers == 1:
        scorer = factory(**kwargs)
        cache = ResultCache(cache_size) if cache_size > 0 else None
        for chunk in chunks:
            texts = [r.text for r in chunk if r.error is None]
            yield from _merge(chunk, _score_texts(scorer, texts, cache=cache), id_col)  # type: ignore[arg-type]
        return
    ctx = multiprocessing.get_context(mp_context)

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(factory, kwargs, cache_size))

    pool = new_pool()
    generation_notes = 0  # notes sent to the current pool
    try:
        pending: deque[tuple[list[NoteRecord], Future[Any] | None]] = deque()
        for chunk in chunks:
            texts = [r.text for r in chunk if r.error is None]
            if texts and recycle_after > 0 and generation_notes >= recycle_after * n_workers:
                while pending:  # finish what is in flight, then replace the processes
                    done_chunk, res = pending.popleft()
                    yield from _merge(done_chunk, _get(res), id_col)
                pool.shutdown(wait=True)
                pool = new_pool()
                generation_notes = 0
            generation_notes += len(texts)
            try:
                fut = pool.submit(_score_in_worker, texts) if texts else None
            except BrokenProcessPool:
                raise ScoringError(_DIED) from None
            pending.append((chunk, fut))
            while len(pending) >= 2 * n_workers:
                done_chunk, res = pending.popleft()
                yield from _merge(done_chunk, _get(res), id_col)
        while pending:
            done_chunk, res = pending.popleft()
            yield from _merge(done_chunk, _get(res), id_col)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_DIED = ("a scoring worker process died (out of memory or killed?): the finished rows are saved; run again "
         "with --resume to continue")


def _get(res: "Future[Any] | None") -> list[tuple[dict[str, Any] | None, str | None]]:
    if res is None:
        return []
    try:
        return res.result()  # type: ignore[no-any-return]
    except ScorerStartError as exc:
        raise ModelError(f"the scorer could not be built in a worker process: {exc}") from None
    except BrokenProcessPool:
        raise ScoringError(_DIED) from None


def _chunks(records: Iterable[NoteRecord], size: int) -> Iterator[list[NoteRecord]]:
    chunk: list[NoteRecord] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _merge(chunk: list[NoteRecord], results: list[tuple[dict[str, Any] | None, str | None]],
           id_col: str) -> Iterator[dict[str, Any]]:
    it = iter(results)
    for rec in chunk:
        if rec.error is not None:
            yield output_record(rec, id_col, None)
            continue
        result, err = next(it)
        if err is not None:
            rec = NoteRecord(rec.row, rec.note_id, None, rec.kept, "scoring_failed",
                             error_message(rec.row, rec.note_id, "scoring_failed", err))
        yield output_record(rec, id_col, result)


# --------------------------------------------------------------------------------------------------- writers
_MENTION_COLUMNS = (
    "mention_index", "mention_text", "start", "end", "section", "negated", "historical", "hypothetical",
    "family", "uncertain", "current_affirmed", "site", "type", "cause", "drug", "laterality", "encounter",
    "verdict", "probability", "code", "code_title", "code_kind", "code_score", "candidate_codes",
    "candidate_kinds", "rationale", "missing", "query", "notes",
)


def flat_mention_rows(obj: dict[str, Any], lead: Sequence[str]) -> list[dict[str, Any]]:
    """Flatten one output object to one row per mention (one row with empty mention fields if none).

    Args:
        obj: an output object.
        lead: the id and kept column names, copied to every row.
    """
    base = {k: obj.get(k) for k in lead}
    base.update({"row": obj.get("row"), "error": obj.get("error"), "error_message": obj.get("error_message"),
                 "code_set": obj.get("code_set"), "note_codes": ";".join(obj.get("codes") or [])})
    mentions = obj.get("mentions") or []
    if not mentions:
        return [{**base, **{c: None for c in _MENTION_COLUMNS}}]
    rows = []
    for i, m in enumerate(mentions):
        a = m.get("assertion") or {}
        d = m.get("details") or {}
        codes = m.get("codes") or []
        first = codes[0] if codes else {}
        rows.append({
            **base,
            "mention_index": i,
            "mention_text": m.get("text"),
            "start": m.get("start"),
            "end": m.get("end"),
            "section": m.get("section"),
            **{k: bool(a.get(k, False)) for k in ("negated", "historical", "hypothetical", "family", "uncertain")},
            "current_affirmed": not any(a.get(k) for k in ("negated", "historical", "hypothetical", "family",
                                                           "uncertain")),
            **{k: "; ".join(d.get(k) or []) for k in ("site", "type", "cause", "drug")},
            "laterality": d.get("laterality"),
            "encounter": d.get("encounter"),
            "verdict": (m.get("specificity") or {}).get("verdict"),
            "probability": (m.get("specificity") or {}).get("probability"),
            "code": first.get("code"),
            "code_title": first.get("title"),
            "code_kind": first.get("kind"),
            "code_score": first.get("score"),
            "candidate_codes": ";".join(c.get("code", "") for c in codes),
            "candidate_kinds": ";".join(c.get("kind", "") for c in codes),
            "rationale": m.get("rationale"),
            "missing": "; ".join(m.get("missing") or []),
            "query": m.get("query"),
            "notes": "; ".join(m.get("notes") or []),
        })
    return rows


def _csv_note_row(obj: dict[str, Any], lead: Sequence[str]) -> dict[str, Any]:
    mentions = obj.get("mentions") or []
    kinds = Counter((m.get("codes") or [{}])[0].get("kind") for m in mentions if m.get("codes"))
    row = {k: obj.get(k) for k in lead}
    row.update({
        "row": obj.get("row"), "error": obj.get("error"), "error_message": obj.get("error_message"),
        "code_set": obj.get("code_set"), "codes": ";".join(obj.get("codes") or []),
        "n_mentions": len(mentions), "n_exact": kinds.get("exact", 0), "n_nec": kinds.get("nec", 0),
        "n_nos": kinds.get("nos", 0),
        "model": json.dumps(obj.get("model"), ensure_ascii=False) if obj.get("model") is not None else "",
        "mentions_json": json.dumps(mentions, ensure_ascii=False),
    })
    return row


def _iter_spool(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _finalize(spool: Path, output: Path, out_fmt: str, lead: Sequence[str]) -> None:
    """Write the final output from the complete spool, through a temporary file renamed into place."""
    if out_fmt == "jsonl":
        os.replace(spool, output)
        return
    tmp = output.with_name(output.name + ".tmp")
    if out_fmt == "csv":
        fieldnames = [*lead, "row", "error", "error_message", "code_set", "codes", "n_mentions", "n_exact",
                      "n_nec", "n_nos", "model", "mentions_json"]
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames)
            writer.writeheader()
            for obj in _iter_spool(spool):
                writer.writerow(_csv_note_row(obj, lead))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _parquet_schema(lead)
        with pq.ParquetWriter(tmp, schema) as writer:
            batch: list[dict[str, Any]] = []
            for obj in _iter_spool(spool):
                batch.extend(flat_mention_rows(obj, lead))
                if len(batch) >= 4096:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    os.replace(tmp, output)
    spool.unlink()


def _parquet_schema(lead: Sequence[str]) -> Any:
    import pyarrow as pa

    types = {
        "row": pa.int64(), "mention_index": pa.int32(), "start": pa.int32(), "end": pa.int32(),
        "probability": pa.float64(), "code_score": pa.float64(),
        **{k: pa.bool_() for k in ("negated", "historical", "hypothetical", "family", "uncertain",
                                   "current_affirmed")},
    }
    names = [*lead, "row", "error", "error_message", "code_set", "note_codes", *_MENTION_COLUMNS]
    return pa.schema([(n, types.get(n, pa.string())) for n in dict.fromkeys(names)])


# --------------------------------------------------------------------------------------------------- driver
def _spool_state(spool: Path) -> list[tuple[int, str | None]]:
    """(row, id) of the complete records in a spool; a torn last line is cut off the file."""
    done: list[tuple[int, str | None]] = []
    good = 0
    with open(spool, "rb") as f:
        offset = 0
        for line in f:
            offset += len(line)
            if not line.endswith(b"\n"):
                break
            try:
                obj = json.loads(line)
            except ValueError:
                break
            first = next(iter(obj))
            done.append((int(obj["row"]), obj[first]))
            good = offset
    with open(spool, "r+b") as f:
        f.truncate(good)
    return done


def _run_meta(input: Path, fmt: str, id_col: str, text_col: str, keep: Sequence[str], max_chars: int,
              out_fmt: str) -> dict[str, Any]:
    st = input.stat()
    return {"input": str(input.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "fmt": fmt,
            "id_col": id_col, "text_col": text_col, "keep": list(keep), "max_chars": max_chars,
            "out_fmt": out_fmt}


def score_file(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    out_fmt: str | None = None,
    id_col: str = "note_id",
    text_col: str = "text",
    keep: Sequence[str] = (),
    workers: int | None = None,
    chunk_size: int = 16,
    max_chars: int = 1_000_000,
    resume: bool = False,
    code_set: str | None = None,
    model: str | None = None,
    progress: bool = True,
    scorer_factory: Callable[..., Any] | None = None,
    scorer_kwargs: dict[str, Any] | None = None,
    cache_size: int = 256,
    on_chunk: Callable[[int], None] | None = None,
    recycle_after: int = 1000,
) -> BatchSummary:
    """Score a note export into an output file; every input row yields exactly one output record.

    Args:
        input: CSV, JSONL or Parquet export.
        output: output path (``.csv``, ``.jsonl`` or ``.parquet``); its folder is created if missing.
        fmt: input format (detected from the extension when None).
        out_fmt: output format (detected from the extension when None).
        id_col: id column of the input.
        text_col: text column of the input.
        keep: pass-through columns.
        workers: scoring processes (None = all cores).
        chunk_size: notes per worker task; the spool is flushed after every chunk.
        max_chars: longer texts are reported as ``text_too_long``.
        resume: continue from ``OUTPUT.part`` left by an interrupted run with the same settings.
        code_set: code-set release for the scorer.
        model: model name or path for the scorer.
        progress: show a rich progress bar on stderr (only when stderr is a terminal).
        scorer_factory: picklable module-level factory of the scorer (default ``nec_nlp.api.load``).
        scorer_kwargs: its keyword arguments (default ``model``/``code_set``).
        cache_size: results of repeated identical note texts kept per worker (0 = off); same output either way.
        on_chunk: called with the number of records written so far after every flushed chunk (tests use it
            to interrupt a run).
        recycle_after: replace the worker processes with fresh ones after about this many notes each (0 = never);
            keeps memory level over long runs (see :func:`score_notes`).

    Returns:
        The run summary.

    Raises:
        InputError: bad input path, format or columns, or a resume that does not match the interrupted run.
    """
    t0 = time.perf_counter()
    input = Path(input)
    output = Path(output)
    if not input.is_file():
        raise InputError(f"input file {str(input)!r} does not exist")
    fmt = detect_format(input, fmt)
    out_fmt = detect_format(output, out_fmt)
    keep = tuple(k for k in keep if k)
    if id_col in keep or text_col in keep:
        raise InputError("--keep must not repeat the id or text column")
    reserved = sorted(set(keep) & {"row", "error", "error_message", "code_set", "model", "mentions", "codes"})
    if reserved or id_col in ("row", "error", "error_message", "code_set", "model", "mentions", "codes"):
        raise InputError(f"column name(s) {', '.join(reserved or [id_col])} are used by the output: rename them "
                         "in the export first")
    output.parent.mkdir(parents=True, exist_ok=True)
    spool = output.with_name(output.name + ".part")
    meta_path = output.with_name(output.name + ".part.meta.json")
    meta = _run_meta(input, fmt, id_col, text_col, keep, max_chars, out_fmt)
    done: list[tuple[int, str | None]] = []
    if resume and spool.exists():
        old = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else None
        if old != meta:
            raise InputError(f"cannot resume: {spool.name} was made from another input or other settings; "
                             "run without --resume to start again")
        done = _spool_state(spool)
    else:
        if resume:
            logger.warning("nothing to resume for %s: starting from the beginning", output.name)
        spool.write_bytes(b"")
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    n_workers = max(1, workers or os.cpu_count() or 1)
    summary = BatchSummary(str(input), str(output), workers=n_workers, resumed=len(done))
    errors: Counter[str] = Counter()
    positions: list[int] = []
    records = read_records(input, fmt=fmt, id_col=id_col, text_col=text_col, keep=keep, max_chars=max_chars,
                           chunk_size=max(chunk_size, 256), positions=positions)
    total = parquet_rows(input) if fmt == "parquet" else input.stat().st_size
    records = _skip_done(records, done, id_col, errors, summary)
    lead = [id_col, *keep]
    bar = _Progress(progress, total, fmt == "parquet", start=len(done))
    try:
        with open(spool, "a", encoding="utf-8") as sink:
            written = len(done)
            buffered = 0
            for obj in score_notes(records, id_col=id_col, workers=n_workers, chunk_size=chunk_size,
                                   code_set=code_set, model=model, scorer_factory=scorer_factory,
                                   scorer_kwargs=scorer_kwargs, cache_size=cache_size,
                                   recycle_after=recycle_after):
                sink.write(json.dumps(obj, ensure_ascii=False) + "\n")
                written += 1
                buffered += 1
                if obj["error"] is None:
                    summary.scored += 1
                else:
                    errors[obj["error"]] += 1
                if buffered >= chunk_size:
                    sink.flush()
                    buffered = 0
                    bar.update(written, positions[-1] if positions else 0)
                    if on_chunk is not None:
                        on_chunk(written)
            sink.flush()
            summary.rows_in = written
        bar.update(written, positions[-1] if positions else 0)
    finally:
        bar.close()
    _finalize(spool, output, out_fmt, lead)
    meta_path.unlink(missing_ok=True)
    summary.errors = dict(errors)
    summary.seconds = time.perf_counter() - t0
    logger.info("batch %s: %d rows, %d scored, %d errors in %.1f s", output.name, summary.rows_in,
                summary.scored, summary.n_errors, summary.seconds)
    return summary


def _skip_done(records: Iterator[NoteRecord], done: list[tuple[int, str | None]], id_col: str,
               errors: Counter[str], summary: BatchSummary) -> Iterator[NoteRecord]:
    """Skip the rows already in the spool (validation still runs, so duplicate detection is unchanged)."""
    if not done:
        yield from records
        return
    i = 0
    for rec in records:
        if i < len(done):
            row, note_id = done[i]
            if row != rec.row or note_id != rec.note_id:
                raise InputError(f"cannot resume: row {rec.row} of the input does not match the interrupted run")
            i += 1
            if rec.error is None:
                summary.scored += 1
            else:
                errors[rec.error] += 1
            continue
        yield rec


class _Progress:
    """A rich progress bar on stderr (notes, notes/s, ETA); silent when disabled or not on a terminal."""

    def __init__(self, enabled: bool, total: int, by_rows: bool, start: int = 0) -> None:
        import sys

        self.bar: Any = None
        self.by_rows = by_rows
        self.start = start
        if not enabled or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.t0 = time.perf_counter()
        self.bar = Progress(
            TextColumn("[bold]scoring"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[notes]:,} notes"), TextColumn("{task.fields[rate]:.1f} notes/s"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task("scoring", total=max(total, 1), notes=0, rate=0.0)

    def update(self, notes: int, position: int) -> None:
        if self.bar is None:
            return
        rate = (notes - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, completed=notes if self.by_rows else position, notes=notes, rate=rate)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
