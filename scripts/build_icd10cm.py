"""Convert the official ICD-10-CM files into the compact data nec_nlp ships (``nec_nlp/icd10cm/data/``).

Sources (all official CMS files, or the CMS files inside the PyPI package ``simple-icd-10-cm``):

- tabular, April 2026: ``simple_icd_10_cm/data/icd10c-tabular-April-1-2026.xml`` (installed package);
- tabular, April 2025: the same file of ``simple-icd-10-cm==1.3.0`` (downloaded with ``pip download``);
- Alphabetic Index, Table of Drugs and Chemicals, Table of Neoplasms (FY2025):
  ``../shared/data/icd10cm/fy2025/``;
- drug names and MeSH classes: the installed package ``drug-named-entity-recognition``.

Outputs (gzip JSON) and ``manifest.json`` with every source file name, its sha256 and the output checksums.

Usage::

    .venv/bin/python scripts/build_icd10cm.py [--shared ../shared] [--only tabular,index,drugs,neoplasms]
"""

import argparse
import datetime as dt
import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "nec_nlp" / "icd10cm" / "data"
DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SICD_OLD = "1.3.0"  # ships the April 2025 tabular

from nec_nlp.icd10cm.convert import build_drug_table, build_index, build_neoplasm_table
from nec_nlp.icd10cm.tabular_xml import guess_release, parse_tabular, read_code_list


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_gz(name: str, obj: Any) -> dict[str, Any]:
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=False).encode("utf-8")
    path = OUT / name
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return {"file": name, "sha256": sha256(path), "bytes": path.stat().st_size}


def write_table(manifest: dict[str, Any], key: str, name: str, obj: Any, src: Path) -> None:
    """Write one converted CMS table and record it, with its source file and checksum, in the manifest."""
    entry = write_gz(name, obj)
    entry["source"] = {"file": src.name, "sha256": sha256(src)}
    manifest[key] = entry
    print(f"{key}: {entry['file']} ({entry['bytes']:,} bytes)")


def release_window(release: str) -> tuple[str, str]:
    """An April release is in force April 1 .. September 30; an October release October 1 .. March 31."""
    year, month = (int(x) for x in release.split("-"))
    start = dt.date(year, month, 1)
    end = dt.date(year, 9, 30) if month == 4 else dt.date(year + 1, 3, 31)
    return start.isoformat(), end.isoformat()


def sicd_files(version: str | None, workdir: Path) -> tuple[Path, Path, str]:
    """(tabular XML, code list, package version) from simple-icd-10-cm: installed, or a downloaded wheel."""
    if version is None:
        spec = importlib.util.find_spec("simple_icd_10_cm")
        assert spec and spec.origin, "simple-icd-10-cm is not installed (pip install -e '.[build]')"
        data = Path(spec.origin).parent / "data"
        pkg_version = importlib.metadata.version("simple-icd-10-cm")
    else:
        dl = Path(tempfile.gettempdir()) / f"sicd{version.replace('.', '')}"
        wheels = sorted(dl.glob(f"simple_icd_10_cm-{version}-*.whl"))
        if not wheels:
            subprocess.run([sys.executable, "-m", "pip", "download", f"simple-icd-10-cm=={version}", "--no-deps",
                            "-d", str(dl), "-q"], check=True)
            wheels = sorted(dl.glob(f"simple_icd_10_cm-{version}-*.whl"))
        data = workdir / f"sicd-{version}"
        with zipfile.ZipFile(wheels[0]) as z:
            z.extractall(data)
        data = data / "simple_icd_10_cm" / "data"
        pkg_version = version
    xml = next(p for p in data.glob("*.xml") if "tabular" in p.name)
    codes = next(data.glob("code-list*.txt"))
    return xml, codes, pkg_version


def build_tabulars(manifest: dict[str, Any], workdir: Path) -> None:
    releases: dict[str, Any] = {}
    for version in (SICD_OLD, None):
        xml, code_list, pkg_version = sicd_files(version, workdir)
        rid = guess_release(xml)
        compact = parse_tabular(xml, rid, read_code_list(code_list))
        frm, to = release_window(rid)
        entry = write_gz(f"tabular-{rid}.json.gz", compact)
        entry.update({
            "effective_from": frm, "effective_to": to, "codes": len(compact["nodes"]),
            "source": {"file": xml.name, "sha256": sha256(xml), "code_list": code_list.name,
                       "code_list_sha256": sha256(code_list), "package": f"simple-icd-10-cm=={pkg_version}"},
        })
        releases[rid] = entry
        print(f"tabular {rid}: {len(compact['nodes'])} codes -> {entry['file']} ({entry['bytes']:,} bytes)")
    manifest["releases"] = dict(sorted(releases.items()))
    manifest["default"] = max(releases)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/ folder (holds data/icd10cm)")
    ap.add_argument("--only", default="tabular,index,drugs,neoplasms", help="comma-separated parts to build")
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    OUT.mkdir(parents=True, exist_ok=True)
    mpath = OUT / "manifest.json"
    manifest: dict[str, Any] = json.loads(mpath.read_text("utf-8")) if mpath.is_file() else {}
    manifest["format"] = 1
    manifest["generated_by"] = "scripts/build_icd10cm.py"
    fy = args.shared / "data" / "icd10cm" / "fy2025"
    with tempfile.TemporaryDirectory() as tmp:
        if "tabular" in parts:
            build_tabulars(manifest, Path(tmp))
    if "index" in parts:
        src = fy / "ICD10CM_2025_Index.csv"
        write_table(manifest, "index", "index-2025.json.gz", build_index(src), src)
    if "drugs" in parts:
        src = fy / "icd-10-cm-drug-2025.xml"
        table, classes, sources = build_drug_table(src)
        write_table(manifest, "drugs", "drugs-2025.json.gz", table, src)
        centry = write_gz("drug-classes.json.gz", classes)
        centry["source"] = sources
        manifest["drug_classes"] = centry
        print(f"drug_classes: {centry['file']} ({centry['bytes']:,} bytes)")
    if "neoplasms" in parts:
        src = fy / "icd-10-cm-neoplasm-2025.xml"
        write_table(manifest, "neoplasms", "neoplasms-2025.json.gz", build_neoplasm_table(src), src)
    mpath.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
