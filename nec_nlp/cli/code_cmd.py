"""``nec-nlp code CODE``: validate and explain one ICD-10-CM code (kind, billable, notes, nearest codes).

Exit code 0 when the code exists in the release (billable or not), 1 when it does not, 2 for a usage error.
"""

import json
import warnings
from typing import Annotated, Any, Optional

import typer

from nec_nlp.errors import NecNlpWarning

CODE_SET_HELP = "ICD-10-CM release id (e.g. 2026-04, 2025-04) or a CMS tabular XML path; default: newest shipped."
SERVICE_DATE_HELP = "Pick the release in force on this date of service (YYYY-MM-DD)."


def open_from_options(code_set: Optional[str], service_date: Optional[str]) -> Any:
    """The code set named by ``--code-set`` / ``--service-date``; approximation warnings go to stderr."""
    from nec_nlp.icd10cm import open_code_set

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NecNlpWarning)
        cs = open_code_set(code_set, service_date)
    for w in caught:
        typer.secho(f"Warning: {w.message}", err=True, fg=typer.colors.YELLOW)
    return cs


def explain(cs: Any, text: str) -> dict[str, Any]:
    """Validation plus the code record (when the code exists) as one JSON-able dict."""
    v = cs.validate(text)
    out: dict[str, Any] = {"validation": v.to_dict(), "code": None, "ancestors": [], "suggestions": []}
    c = cs.get(v.code) if v.valid else None
    if c is not None:
        out["code"] = c.to_dict()
        out["ancestors"] = [{"code": a.code, "title": a.title} for a in cs.ancestors(c.code)]
        out["chapter_title"] = cs.chapter_title(c.chapter)
        out["section_title"] = cs.section_title(c.section)
        out["instructions"] = {k: [{"from": src, "note": n} for src, n in v2]
                               for k, v2 in cs.instructions(c.code).items() if v2}
    out["suggestions"] = [{"code": s, "title": cs.title(s), "kind": cs.get(s).kind} for s in v.suggestions]
    return out


def _render(cs: Any, info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape as e
    from rich.table import Table

    console = Console(highlight=False)
    v = info["validation"]
    c = info["code"]
    status = ("[green]valid, billable[/]" if v["billable"] else
              "[yellow]valid, not billable[/]" if v["valid"] else "[red]invalid[/]")
    console.print(f"[bold]{e(v['code'])}[/]  {status}  (ICD-10-CM {v['release']})")
    if c:
        kind = c["kind"] + (f" (also {c['secondary_kind']})" if c.get("secondary_kind") else "")
        console.print(f"  {e(c['title'])}")
        console.print(f"  kind: [bold]{kind}[/]")
        chain = " > ".join(f"{a['code']}" for a in reversed(info["ancestors"]))
        if chain:
            console.print(f"  parents: {chain}")
        console.print(f"  chapter {c['chapter']}: {e(info.get('chapter_title', ''))}; section {c['section']}")
    if v["reason"]:
        console.print(f"  why: [bold]{v['reason']}[/]" + (f" -- {e(v['detail'])}" if v.get("detail") else ""))
    if c:
        for label, key in (("NOS terms", "nos_terms"), ("inclusion terms", "inclusion"), ("Excludes1", "excludes1"),
                           ("Excludes2", "excludes2"), ("code first", "code_first"),
                           ("use additional code", "use_additional"), ("code also", "code_also")):
            if c.get(key):
                console.print(f"  {label}: " + e("; ".join(c[key])))
        inherited = info.get("instructions", {})
        for label, key in (("Excludes1 (inherited)", "excludes1"), ("Excludes2 (inherited)", "excludes2"),
                           ("use additional code (inherited)", "use_additional"),
                           ("code first (inherited)", "code_first")):
            notes = [f"{n['note']} [{n['from']}]" for n in inherited.get(key, []) if n["from"] != c["code"]]
            if notes:
                console.print(f"  {label}: " + e("; ".join(notes[:6])) + (" ..." if len(notes) > 6 else ""))
        if c.get("seventh"):
            console.print("  7th characters: " + e(", ".join(f"{k} {m}" for k, m in c["seventh"].items())))
    if info["suggestions"]:
        table = Table(title="nearest billable codes" if not v["valid"] else "billable codes under it",
                      show_lines=False)
        table.add_column("code")
        table.add_column("kind")
        table.add_column("title")
        for s in info["suggestions"]:
            table.add_row(s["code"], s["kind"], e(s["title"] or ""))
        console.print(table)


def code(
    code: Annotated[str, typer.Argument(help="An ICD-10-CM code as typed (case, dots and spaces do not matter).")],
    code_set: Annotated[Optional[str], typer.Option("--code-set", help=CODE_SET_HELP)] = None,
    service_date: Annotated[Optional[str], typer.Option("--service-date", help=SERVICE_DATE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Validate and explain one ICD-10-CM code: kind (exact / NEC / NOS), billable or why not, notes, and the
    nearest billable codes."""
    cs = open_from_options(code_set, service_date)
    info = explain(cs, code)
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        _render(cs, info)
    if not info["validation"]["valid"]:
        raise SystemExit(1)  # scripts can test validity; the explanation was printed


def register(app: typer.Typer) -> None:
    app.command("code")(code)
