"""ICD-10-CM knowledge: versioned tabular releases, code kinds, validation, the Alphabetic Index, the Table of
Drugs and Chemicals and the Table of Neoplasms.

Usage::

    from nec_nlp.icd10cm import load_code_set
    cs = load_code_set()                       # newest shipped release ("2026-04")
    cs = load_code_set("2025-04")              # by release id
    cs = load_code_set(service_date="2025-06-01")   # the release in force on a date of service
    cs = load_code_set(path="tabular.xml")     # any CMS tabular XML
    cs.get("g40.89").kind                      # "nec"
    cs.validate("T50.99XA").suggestions[0]     # "T50.995A"
    cs.index.lookup(["Pain", "postoperative NOS"]).resolved   # "G89.18"
    cs.drugs.lookup("warfarin", use="adverse_effect").code    # "T45.515A"
    cs.neoplasms.lookup("lung", "malignant_primary").code     # "C34.9-" family, reconciled

Every code knows its kind, by this rule (implemented in :mod:`nec_nlp.icd10cm.kinds`):

1. Title words on the "other" axis (``other`` -- not "other than", "each other" or "in other diseases
   classified elsewhere" --, ``not elsewhere classified``, ``NEC``) make a code ``nec``; words on the "unspecified" axis (``unspecified``,
   ``not specified``, ``NOS``) make it ``nos``.
2. A title on both axes takes the axis of its first such word and keeps the other as ``secondary_kind``
   ("Other pneumonia, unspecified organism" is ``nec``/secondary ``nos``; "Other and unspecified ..." too).
3. A title on neither axis is ``nos`` when an inclusion term says ``NOS`` (the code is the default for the
   unqualified term), else ``exact``.
4. Exception (by order): an "other" title stays ``nec`` even with ``NOS`` inclusion terms; those are exposed
   as ``Code.nos_terms`` (G89.18 "Other acute postprocedural pain" carries "Postoperative pain NOS").
5. 7th-character codes inherit the kind of the code they extend (T50.995A is ``nec``).

Every result carries the release it came from (``Code.release``, ``Validation.release``, ...).
"""

from nec_nlp.icd10cm.releases import (
    Release,
    available_releases,
    forget_loaded,
    load_code_set,
    open_code_set,
    release_for_date,
)
from nec_nlp.icd10cm.tabular import Code, CodeSet, normalize_code
from nec_nlp.icd10cm.validation import Validation

__all__ = [
    "Code",
    "CodeSet",
    "Release",
    "Validation",
    "available_releases",
    "forget_loaded",
    "load_code_set",
    "normalize_code",
    "open_code_set",
    "release_for_date",
]
