"""Shipped releases, selection by release id or date of service, and the warm-load cache.

The package ships compact tabular releases (``data/tabular-<release>.json.gz``) listed in
``data/manifest.json`` with the source file names and sha256 checksums (written by
``scripts/build_icd10cm.py``). A loaded release is cached as a ``marshal`` file of its flat state in the user
cache dir (``platformdirs.user_cache_dir("nec_nlp")``, overridden by ``NEC_NLP_CACHE_DIR``), keyed by the
data checksum, the package version, the state format and the Python version; a corrupt or stale cache file is
rebuilt silently. The key also holds the state format and the kind rule's version
(:data:`nec_nlp.icd10cm.kinds.RULE_VERSION`), so a changed rule never serves stale kinds.
"""

import datetime as dt
import gzip
import hashlib
import json
import logging
import marshal
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from nec_nlp.errors import CodeSetError, NecNlpWarning
from nec_nlp.icd10cm.kinds import RULE_VERSION
from nec_nlp.icd10cm.tabular import STATE_FORMAT, CodeSet, build_state

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], CodeSet] = {}


@dataclass(frozen=True)
class Release:
    """A shipped tabular release: id (``2026-04``), the dates it is in force, its data file and sources."""

    id: str
    effective_from: dt.date
    effective_to: dt.date
    file: str
    sha256: str
    source: dict[str, Any]

    @property
    def fiscal_year(self) -> int:
        return fiscal_year(self.effective_from)


def fiscal_year(day: dt.date) -> int:
    """The US federal fiscal year of ``day`` (FY2026 runs 2025-10-01 .. 2026-09-30)."""
    return day.year + 1 if day.month >= 10 else day.year


def data_file(name: str) -> Any:
    """A traversable for a shipped data file (``nec_nlp/icd10cm/data/<name>``)."""
    return resources.files("nec_nlp.icd10cm").joinpath("data", name)


@lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    """The shipped data manifest (sources, checksums, release windows)."""
    f = data_file("manifest.json")
    if not f.is_file():
        raise CodeSetError("the ICD-10-CM data manifest is missing from the package: run "
                           "`python scripts/build_icd10cm.py` (or reinstall nec-nlp).")
    return dict(json.loads(f.read_text("utf-8")))


def available_releases() -> list[Release]:
    """The shipped tabular releases, oldest first."""
    out = []
    for rid, r in manifest()["releases"].items():
        out.append(Release(id=rid, effective_from=dt.date.fromisoformat(r["effective_from"]),
                           effective_to=dt.date.fromisoformat(r["effective_to"]), file=r["file"],
                           sha256=r["sha256"], source=r.get("source", {})))
    return sorted(out, key=lambda r: r.effective_from)


def default_release() -> str:
    return str(manifest()["default"])


def release_for_date(service_date: "str | dt.date") -> tuple[Release, str | None]:
    """The shipped release in force on ``service_date``, and a warning text when it is only an approximation.

    Rule: the release whose window holds the date; else a shipped release of the same fiscal year (the April
    update of the October release in force); else the latest release before the date; else the earliest.
    """
    day = _as_date(service_date)
    rels = available_releases()
    for r in rels:
        if r.effective_from <= day <= r.effective_to:
            return r, None
    same_fy = [r for r in rels if r.fiscal_year == fiscal_year(day)]
    before = [r for r in rels if r.effective_from <= day]
    pick = same_fy[0] if same_fy else (before[-1] if before else rels[0])
    return pick, (f"no shipped ICD-10-CM release is in force on {day.isoformat()}; using release {pick.id} "
                  f"(in force {pick.effective_from} .. {pick.effective_to}) as an approximation")


def _as_date(value: "str | dt.date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise CodeSetError(f"service date {value!r} is not a date: use YYYY-MM-DD.") from None


def cache_dir() -> Path:
    """Where warm-load caches live (``NEC_NLP_CACHE_DIR`` or the platform user cache dir)."""
    env = os.environ.get("NEC_NLP_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("nec_nlp"))


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("nec-nlp")
    except Exception:  # pragma: no cover - not installed
        return "0"


def _cache_path(kind: str, label: str, checksum: str) -> Path:
    key = hashlib.sha256(
        f"{checksum}|{_package_version()}|{STATE_FORMAT}|{RULE_VERSION}|{sys.version_info[:2]}".encode()
    ).hexdigest()[:20]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    return cache_dir() / f"{kind}-{safe}-{key}.marshal"


def cached(kind: str, label: str, checksum: str, build: Any, *, use_cache: bool = True,
           check: Any = None) -> Any:
    """Return ``build()``'s result (marshal-able), served from / written to the cache when ``use_cache``."""
    path = _cache_path(kind, label, checksum)
    if use_cache and path.is_file():
        try:
            value = marshal.loads(path.read_bytes())
            if check is None or check(value):
                return value
        except (ValueError, EOFError, TypeError):
            pass
        logger.info("rebuilding a corrupt or stale %s cache", kind)
    value = build()
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps(value))
            os.replace(tmp, path)
        except OSError as exc:  # a read-only cache dir only costs speed
            logger.warning("could not write the %s cache: %s", kind, exc)
    return value


def read_json_gz(name: str) -> Any:
    """Read a shipped gzip JSON data file."""
    f = data_file(name)
    if not f.is_file():
        raise CodeSetError(f"shipped data file {name} is missing: run `python scripts/build_icd10cm.py`.")
    return json.loads(gzip.decompress(f.read_bytes()))


def shipped_checksum(name: str) -> str:
    """The manifest sha256 of a shipped data file (the file's own hash when the manifest lacks it)."""
    for section in manifest().values():
        if isinstance(section, dict):
            for entry in section.values() if "file" not in section else [section]:
                if isinstance(entry, dict) and entry.get("file") == name and entry.get("sha256"):
                    return str(entry["sha256"])
    return hashlib.sha256(data_file(name).read_bytes()).hexdigest()


def _state_ok(release: str) -> Any:
    return lambda v: isinstance(v, dict) and v.get("format") == STATE_FORMAT and v.get("release") == release


def load_code_set(release: str | None = None, *, path: "str | os.PathLike[str] | None" = None,
                  service_date: "str | dt.date | None" = None, use_cache: bool = True) -> CodeSet:
    """Load an ICD-10-CM tabular release.

    Args:
        release: a shipped release id (``"2026-04"``, ``"2025-04"``; see :func:`available_releases`);
            default: the newest shipped release. With ``path``, the id to record for that file.
        path: any CMS tabular XML file instead of a shipped release (a ``code-list*.txt`` of
            simple-icd-10-cm beside it, when present, drops 7th-character codes that do not exist).
        service_date: pick the release in force on this date (``YYYY-MM-DD``); warns with
            :class:`~nec_nlp.errors.NecNlpWarning` when only an approximation is shipped.
        use_cache: read/write the warm-load cache (and reuse a code set already loaded in this process).

    Returns:
        The :class:`CodeSet`; ``cs.release`` names the release, ``cs.warnings`` holds approximation notes.

    Raises:
        CodeSetError: unknown release id, missing file, or an unreadable XML.
    """
    notes: tuple[str, ...] = ()
    if path is not None:
        return _load_path(Path(path), release, use_cache)
    if service_date is not None:
        if release is not None:
            raise CodeSetError("give either a release id or a service date, not both.")
        rel, warn = release_for_date(service_date)
        if warn:
            warnings.warn(warn, NecNlpWarning, stacklevel=2)
            notes = (warn,)
        release = rel.id
    release = release or default_release()
    entry = manifest()["releases"].get(release)
    if entry is None:
        ids = ", ".join(r.id for r in available_releases())
        raise CodeSetError(f"unknown ICD-10-CM release {release!r}: shipped releases are {ids} "
                           "(or load any CMS tabular XML with --code-set PATH / path=...).")
    memo_key = ("release", release)
    with _LOCK:
        if use_cache and (memo_key[0], f"{release}|{notes}") in _LOADED:  # an approximated release, memoised
            return _LOADED[(memo_key[0], f"{release}|{notes}")]
        if use_cache and memo_key in _LOADED:
            cs = _LOADED[memo_key]
            if notes:
                cs = CodeSet(cs._s, source=cs.source, warnings=notes, checksum=cs.checksum)
                _LOADED[(memo_key[0], f"{release}|{notes}")] = cs
            return cs

        def build() -> dict[str, Any]:
            return build_state(read_json_gz(entry["file"]))

        state = cached("tabular", release, entry["sha256"], build, use_cache=use_cache, check=_state_ok(release))
        cs = CodeSet(state, source=f"{entry['file']} ({entry.get('source', {}).get('file', '')})",
                     warnings=notes, checksum=entry["sha256"])
        if use_cache:
            _LOADED[memo_key if not notes else (memo_key[0], f"{release}|{notes}")] = cs
        return cs


def _load_path(path: Path, release: str | None, use_cache: bool) -> CodeSet:
    from nec_nlp.icd10cm.tabular_xml import guess_release, parse_tabular, read_code_list

    if not path.is_file():
        raise CodeSetError(f"tabular XML {str(path)!r} does not exist.")
    rid = release or guess_release(path)
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    memo_key = ("path", f"{path.resolve()}|{checksum}|{rid}")
    with _LOCK:
        if use_cache and memo_key in _LOADED:
            return _LOADED[memo_key]
        lists = sorted(path.parent.glob("code-list*.txt"))

        def build() -> dict[str, Any]:
            try:
                compact = parse_tabular(path, rid, read_code_list(lists[0]) if len(lists) == 1 else None)
            except Exception as exc:  # xml.etree.ElementTree.ParseError and malformed trees
                raise CodeSetError(f"{path.name} is not a readable CMS tabular XML: {exc}") from None
            if not compact["nodes"]:
                raise CodeSetError(f"{path.name} holds no codes: is it a CMS tabular XML?")
            return build_state(compact)

        state = cached("tabular-xml", rid, checksum, build, use_cache=use_cache, check=_state_ok(rid))
        cs = CodeSet(state, source=str(path), checksum=checksum)
        if use_cache:
            _LOADED[memo_key] = cs
        return cs


def open_code_set(code_set: "str | os.PathLike[str] | None" = None,
                  service_date: "str | dt.date | None" = None) -> CodeSet:
    """The code set a user option names: a release id, a path to a CMS tabular XML, or a date of service.

    This is what ``--code-set`` / ``--service-date`` mean on every command (and ``code_set=`` in the API).
    """
    if code_set is not None and service_date is not None:
        raise CodeSetError("give either --code-set or --service-date, not both.")
    if service_date is not None:
        return load_code_set(service_date=service_date)
    if code_set is None or str(code_set).strip() == "":
        return load_code_set()
    text = str(code_set).strip()
    if text in manifest()["releases"]:
        return load_code_set(text)
    if text.lower().endswith(".xml") or Path(text).is_file():
        return load_code_set(path=text)
    return load_code_set(text)  # raises the unknown-release error with the shipped ids


def forget_loaded() -> None:
    """Drop the code sets memoised in this process (the on-disk cache stays); for benchmarks and tests."""
    with _LOCK:
        _LOADED.clear()
