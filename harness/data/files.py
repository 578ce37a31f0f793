"""Reading the published CSV/TSV files of a dataset, with errors that name file and line.

pyarrow parses (fast, streaming, bounded memory). Its errors do not say where
the bad row is, so on failure a plain-Python pass over the file finds the
first bad line and reports ``file:line: what is wrong``. The same pass maps a
record number to its line when a loader rejects a row's content.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

from harness.errors import HarnessError

log = logging.getLogger(__name__)
BLOCK_SIZE = 16 << 20
csv.field_size_limit(1 << 30)


def require_files(
    data_dir: Path | None, names: Sequence[str], dataset: str, what: str
) -> list[Path]:
    """The dataset's files inside ``--data-dir``, or a one-line error saying what is missing."""
    wanted = " and ".join(names)
    if data_dir is None:
        raise HarnessError(f"dataset {dataset!r} needs --data-dir: a folder with {wanted} ({what})")
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise HarnessError(f"{data_dir}: data directory not found (dataset {dataset!r})")
    if not data_dir.is_dir():
        raise HarnessError(f"{data_dir}: not a directory (dataset {dataset!r} needs a folder)")
    if not any(data_dir.iterdir()):
        raise HarnessError(f"{data_dir}: data directory is empty; expected {wanted} ({what})")
    paths = [data_dir / name for name in names]
    for path in paths:
        if not path.is_file():
            raise HarnessError(f"{path}: file not found{_elsewhere_hint(data_dir, path.name)}")
    return paths


def _elsewhere_hint(data_dir: Path, name: str) -> str:
    """Release archives unpack into a subfolder; point at it instead of just failing."""
    found = sorted(p.parent for p in data_dir.glob(f"*/{name}"))
    return f" (found {found[0] / name}; pass --data-dir {found[0]})" if found else ""


@dataclass(frozen=True)
class Format:
    """How a file is written: delimiter, whether fields may be quoted, header or fixed names."""

    delimiter: str
    quoted: bool
    columns: tuple[str, ...] | None = None  # headerless files: the published column names

    def parse_options(self) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(
            delimiter=self.delimiter,
            quote_char='"' if self.quoted else False,
            newlines_in_values=self.quoted,
            ignore_empty_lines=True,
        )


def read_header(path: Path, fmt: Format, required: Sequence[str]) -> list[str]:
    """Column names of a file with a header line; error if a required one is absent."""
    with path.open("rb") as handle:
        raw = handle.readline()
    if not raw.strip():
        raise HarnessError(f"{path}:1: empty file, expected a header ({', '.join(required)})")
    line = _decode(raw, path, 1).rstrip("\r\n")
    names = (
        next(csv.reader([line], delimiter=fmt.delimiter))
        if fmt.quoted
        else line.split(fmt.delimiter)
    )
    missing = [name for name in required if name not in names]
    if missing:
        raise HarnessError(
            f"{path}:1: header lacks column(s) {', '.join(missing)} (found: {', '.join(names)})"
        )
    return names


def iter_batches(
    path: Path, fmt: Format, include: Sequence[str], desc: str
) -> Iterator[pa.RecordBatch]:
    """Stream ``include`` columns (as strings) batch by batch, with a progress bar over bytes.

    Every column is decoded, so a bad byte anywhere is reported, not only in the
    columns a loader reads.
    """
    size = path.stat().st_size
    names = list(fmt.columns) if fmt.columns else read_header(path, fmt, include)
    read_options = pacsv.ReadOptions(
        block_size=BLOCK_SIZE, column_names=list(fmt.columns) if fmt.columns else None
    )
    # every column is converted (and so checked for UTF-8), only ``include`` is kept
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    expected = len(names)
    source = pa.memory_map(str(path))
    try:
        if size == 0:
            return
        try:
            reader = pacsv.open_csv(
                source,
                read_options=read_options,
                parse_options=fmt.parse_options(),
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            raise locate_problem(path, fmt, expected, exc) from None
        with tqdm(total=size, unit="B", unit_scale=True, desc=desc, disable=None) as bar:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    raise locate_problem(path, fmt, expected, exc) from None
                bar.update(source.tell() - bar.n)
                yield batch.select(list(include))
    finally:
        source.close()


def locate_problem(path: Path, fmt: Format, expected: int, exc: Exception) -> HarnessError:
    """The first undecodable or malformed line of ``path``, as a one-line error."""
    log.info("%s: locating the problem pyarrow reported (%s)", path, exc)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            _decode(raw, path, number)
    for record, (line, values) in enumerate(iter_records(path, fmt)):
        if fmt.columns is None and record == 0:
            continue
        if len(values) != expected:
            sep = "tab" if fmt.delimiter == "\t" else repr(fmt.delimiter)
            return HarnessError(
                f"{path}:{line}: expected {expected} {sep}-separated columns, found {len(values)}"
            )
    return HarnessError(f"{path}: cannot parse: {exc}")


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HarnessError(
            f"{path}:{number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from None


def iter_records(path: Path, fmt: Format) -> Iterator[tuple[int, list[str]]]:
    """``(first line number, values)`` of each non-empty record, header included."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        if not fmt.quoted:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if line:
                    yield number, line.split(fmt.delimiter)
            return
        reader = csv.reader(handle, delimiter=fmt.delimiter, strict=True)
        start = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise HarnessError(f"{path}:{start}: malformed CSV record: {exc}") from None
            if values:
                yield start, values
            start = reader.line_num + 1


def record_lines(path: Path, fmt: Format, records: Iterable[int]) -> dict[int, int]:
    """Line numbers of data records (0-based, header excluded), for error messages."""
    wanted = set(records)
    found: dict[int, int] = {}
    if not wanted:
        return found
    offset = 0 if fmt.columns else 1
    last = max(wanted)
    for index, (line, _) in enumerate(iter_records(path, fmt)):
        record = index - offset
        if record in wanted:
            found[record] = line
            if record >= last:
                break
    return found


def record_line(path: Path, fmt: Format, record: int) -> str:
    """``"path:line"`` of one data record (``"path"`` if the record cannot be found)."""
    line = record_lines(path, fmt, [record]).get(record)
    return f"{path}:{line}" if line is not None else str(path)
