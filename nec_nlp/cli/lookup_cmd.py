"""``nec-nlp lookup TERM``: search the Alphabetic Index and the tabular titles; ``--drug USE`` looks the term
up in the Table of Drugs and Chemicals, ``--neoplasm BEHAVIOUR`` in the Table of Neoplasms."""

import json
from typing import Annotated, Any, Optional

import typer

from nec_nlp.cli.code_cmd import CODE_SET_HELP, SERVICE_DATE_HELP, open_from_options
from nec_nlp.errors import InputError


def run_lookup(cs: Any, term: str, *, limit: int = 10, drug: Optional[str] = None, encounter: str = "initial",
               neoplasm: Optional[str] = None) -> dict[str, Any]:
    """The ``lookup --json`` object: index hits and title matches, or one drug / neoplasm result."""
    out: dict[str, Any] = {"term": term, "release": cs.release}
    if drug:
        out["drug"] = cs.drugs.lookup(term, use=drug, encounter=encounter).to_dict()
        return out
    if neoplasm:
        hit = cs.neoplasms.lookup(term, neoplasm)
        out["neoplasm"] = hit.to_dict() if hit else None
        return out
    out["index"] = [h.to_dict() for h in cs.index.search(term, limit=limit)]
    out["titles"] = [{"code": c, "title": cs.title(c), "kind": cs.get(c).kind, "billable": cs.is_billable(c),
                      "score": s} for c, s in cs.search_titles(term, limit=limit)]
    return out


def _render(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape as e
    from rich.table import Table

    console = Console(highlight=False)
    rel = result["release"]
    if "drug" in result:
        d = result["drug"]
        via = {None: "Table entry", "class": f"class fallback ({d['drug_class']})",
               "T50.99": "fallback: specified drug NEC"}[d["fallback"]]
        console.print(f"[bold]{d['code'] or '-'}[/]  {e(d['substance'])}: {d['use'].replace('_', ' ')}, "
                      f"{d['encounter']} encounter  (ICD-10-CM {rel})")
        console.print(f"  from: {e(d['matched_entry'] or '')} ({e(via)})"
                      + (f"; Table stem {d['stem']}" if d["stem"] else ""))
        if d["note"]:
            console.print(f"  note: {e(d['note'])}")
        return
    if "neoplasm" in result:
        n = result["neoplasm"]
        if n is None:
            console.print(f"no site of the Table of Neoplasms matches {e(repr(result['term']))}")
            return
        console.print(f"[bold]{n['code'] or '-'}[/]  neoplasm of {e(n['site'])}, "
                      f"{n['behaviour'].replace('_', ' ')}  (ICD-10-CM {rel})")
        console.print(f"  from: {e(n['matched_entry'])}" + (f" (printed {n['printed']})" if n["printed"] else ""))
        if n["note"]:
            console.print(f"  note: {e(n['note'])}")
        return
    table = Table(title=f"Alphabetic Index (FY2025), reconciled with {rel}")
    for col in ("index path", "printed", "code", "note"):
        table.add_column(col)
    for h in result["index"]:
        path = " > ".join(h["path"]) + (f" (see {h['see']})" if h["see"] else "")
        table.add_row(e(path), h["code"] or "", h["resolved"] or "", e(h["note"] or ""))
    console.print(table)
    titles = Table(title=f"Tabular titles and inclusion terms ({rel})")
    for col in ("code", "kind", "billable", "title", "score"):
        titles.add_column(col)
    for t in result["titles"]:
        titles.add_row(t["code"], t["kind"], "yes" if t["billable"] else "no", e(t["title"] or ""),
                       f"{t['score']:.2f}")
    console.print(titles)


def lookup(
    term: Annotated[str, typer.Argument(help="A diagnosis term, drug or neoplasm site.")],
    drug: Annotated[Optional[str], typer.Option(
        "--drug", help="Look TERM up in the Table of Drugs for this use: poisoning_accidental, "
                       "poisoning_intentional, poisoning_assault, poisoning_undetermined, adverse_effect, "
                       "underdosing.")] = None,
    encounter: Annotated[str, typer.Option("--encounter", help="initial, subsequent or sequela (with --drug).")]
    = "initial",
    neoplasm: Annotated[Optional[str], typer.Option(
        "--neoplasm", help="Look TERM up as a site in the Table of Neoplasms with this behaviour: "
                           "malignant_primary, malignant_secondary, in_situ, benign, uncertain, unspecified.")]
    = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Results per list.")] = 10,
    code_set: Annotated[Optional[str], typer.Option("--code-set", help=CODE_SET_HELP)] = None,
    service_date: Annotated[Optional[str], typer.Option("--service-date", help=SERVICE_DATE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Find codes for a term: Alphabetic Index entries (with NEC / NOS defaults and see references followed)
    and tabular titles; or a drug / neoplasm table lookup."""
    if drug and neoplasm:
        raise InputError("use either --drug or --neoplasm, not both.")
    cs = open_from_options(code_set, service_date)
    result = run_lookup(cs, term, limit=limit, drug=drug, encounter=encounter, neoplasm=neoplasm)
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _render(result)


def register(app: typer.Typer) -> None:
    app.command("lookup")(lookup)
