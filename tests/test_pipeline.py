"""Extraction pipeline: components, examples of the issue, serialisation, evaluation and the extract CLI."""

import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc
from typer.testing import CliRunner

from nec_nlp.pipeline import PIPE_NAMES, build_nlp, doc_mentions, load_nlp
from nec_nlp.pipeline.evaluate import evaluate_extraction
from nec_nlp.pipeline.rules import (
    Abbreviation,
    ContextRuleSpec,
    LexiconTerm,
    RuleError,
    SectionRule,
    default_context_rules,
    expand_pattern,
)


@pytest.fixture(scope="module")
def nlp():
    return build_nlp()


def mention(ms, text):
    found = [m for m in ms if m.text.lower() == text.lower()]
    assert found, f"no mention {text!r} in {[m.text for m in ms]}"
    return found[0]


# ------------------------------------------------------------------------------------------- issue examples
def test_pipeline_negated_historical_current_example(nlp):
    ms = doc_mentions(nlp("No chest pain. History of pneumonia. Assessment: acute cystitis without hematuria."))
    chest = mention(ms, "chest pain")
    assert chest.assertion.negated and not chest.assertion.historical
    pneu = mention(ms, "pneumonia")
    assert pneu.assertion.historical and not pneu.assertion.negated
    cyst = mention(ms, "cystitis")
    assert cyst.assertion.current_affirmed
    assert cyst.section == "assessment"
    assert cyst.details.type == ("acute", "without hematuria")
    assert [m.start for m in ms] == sorted(m.start for m in ms)


def test_pipeline_adverse_effect_with_drug_and_encounter(nlp):
    ms = doc_mentions(nlp("Adverse effect of oseltamivir, nausea, initial encounter."))
    ae = mention(ms, "adverse effect")
    assert ae.details.drug == ("oseltamivir",)
    assert ae.details.encounter == "initial"
    mention(ms, "nausea")


def test_pipeline_postoperative_neuropathic_pain(nlp):
    ms = doc_mentions(nlp("Postoperative neuropathic pain in the external ear canal"))
    pain = mention(ms, "pain")
    assert pain.details.type == ("neuropathic",)
    assert pain.details.cause == ("Postoperative",)
    assert pain.details.site == ("external ear canal",)


def test_pipeline_focal_epilepsy_with_hallucinations(nlp):
    ms = doc_mentions(nlp("Focal epilepsy with auditory hallucinations"))
    ep = mention(ms, "epilepsy")
    assert "Focal" in ep.details.type
    assert any(t.startswith("with auditory hallucinations") for t in ep.details.type)


def test_pipeline_generic_drug_adverse_effect(nlp):
    text = ("Adverse effect of a newly released investigational drug whose class is not known, "
            "generalized urticaria")
    ms = doc_mentions(nlp(text))
    ae = mention(ms, "adverse effect")
    assert ae.details.drug == ("investigational drug",)
    urt = mention(ms, "urticaria")
    assert urt.details.type == ("generalized",)
    assert urt.assertion.current_affirmed


@pytest.mark.parametrize("text,target,attr", [
    ("The culture is negative for streptococcus pharyngitis.", "pharyngitis", "negated"),  # medspacy#232
    ("Patient denies fever.", "fever", "negated"),
    ("Possible pneumonia.", "pneumonia", "uncertain"),
    ("Return if fever develops.", "fever", "hypothetical"),
    ("Mother has diabetes mellitus.", "diabetes mellitus", "family"),
    ("She is s/p appendicitis.", "appendicitis", "historical"),
])
def test_pipeline_context_assertions(nlp, text, target, attr):
    m = mention(doc_mentions(nlp(text)), target)
    assert getattr(m.assertion, attr) is True


def test_pipeline_affirmed_mention_has_no_assertion(nlp):
    m = mention(doc_mentions(nlp("Assessment: pneumonia.")), "pneumonia")
    assert m.assertion.current_affirmed


# ------------------------------------------------------------------------------------------- sections & sentences
def test_pipeline_mtsamples_headers_give_sections(nlp):
    text = ("HISTORY OF PRESENT ILLNESS:,  He has cough.,PAST MEDICAL HISTORY:,  Hypertension.,"
            "FAMILY HISTORY:,  Mother had asthma.,HEENT:  Normal.,ASSESSMENT:,  Acute bronchitis.,PLAN:,  Rest.")
    doc = nlp(text)
    by_text = {m.text.lower(): m for m in doc_mentions(doc)}
    assert by_text["cough"].section == "history_of_present_illness"
    assert by_text["hypertension"].section == "past_medical_history"
    assert by_text["hypertension"].assertion.historical  # section rule of the guideline
    assert by_text["asthma"].section == "family_history"
    assert by_text["asthma"].assertion.family
    assert by_text["bronchitis"].section == "assessment"
    assert by_text["bronchitis"].assertion.current_affirmed
    # the header words are sentences of their own, and never mentions
    sents = [s.text.strip(" ,") for s in doc.sents]
    assert "ASSESSMENT:" in sents
    assert "history" not in by_text and "illness" not in by_text


def test_pipeline_unknown_caps_header_keeps_section(nlp):
    doc = nlp("PHYSICAL EXAMINATION:,HEENT:  Mild pharyngitis.")
    assert mention(doc_mentions(doc), "pharyngitis").section == "physical_exam"


@pytest.mark.parametrize("text,n", [
    ("Clear.,ASSESSMENT:,  Allergic rhinitis.,PLAN:,1.  She will try Zyrtec.", 5),
    ("Fever. Cough? Yes!", 3),
])
def test_pipeline_sentence_splitting(nlp, text, n):
    assert len(list(nlp(text).sents)) == n


# ------------------------------------------------------------------------------------------- lexicon & details
@pytest.mark.parametrize("text,cond", [
    ("History of CHF.", "CHF"), ("AFib noted.", "AFib"), ("T2DM, uncontrolled.", "T2DM"), ("COPD.", "COPD"),
    ("UTI.", "UTI"), ("coronary artery disease", "coronary artery disease"),
    ("urinary tract infection", "urinary tract infection"), ("shortness of breath", "shortness of breath"),
    ("Admitted in DKA.", "DKA"), ("History of PTSD.", "PTSD"), ("Inferior STEMI.", "STEMI"), ("SLE flare.", "SLE"),
])
def test_pipeline_abbreviations_and_lexicalised_terms(nlp, text, cond):
    mention(doc_mentions(nlp(text)), cond)


@pytest.mark.parametrize("text", ["Family history is noncontributory.", "The left side was prepped.",
                                  "She is a 45-year-old female.", "Weight 130 pounds."])
def test_pipeline_common_words_are_not_conditions(nlp, text):
    assert doc_mentions(nlp(text)) == []


def test_pipeline_left_lower_lobe_pneumonia(nlp):
    m = mention(doc_mentions(nlp("Left lower lobe pneumonia due to Streptococcus pneumoniae.")), "pneumonia")
    assert m.details.site == ("lower lobe",)
    assert m.details.laterality == "left"
    assert m.details.cause == ("Streptococcus pneumoniae",)


def test_pipeline_type_2_diabetes(nlp):
    m = mention(doc_mentions(nlp("Diabetes mellitus type 2 with neuropathy.")), "diabetes mellitus")
    assert "type 2" in m.details.type
    assert "with neuropathy" in m.details.type


def _details(doc, label):
    return [s.text for s in doc.spans["details"] if s.label_ == label]


@pytest.mark.parametrize("text,site", [
    ("Mild anteroseptal ischemia on the stress images.", "anteroseptal"),
    ("There is ischemia in the inferolateral wall.", "inferolateral wall"),
    ("Point tenderness along the medial tubercle.", "medial tubercle"),
    ("Hyporeflexia in both patellae.", "patellae"),
    ("A small adnexal cyst.", "adnexal"),
    ("There is a septal perforation.", "septal"),
])
def test_pipeline_positional_adjectival_and_latin_plural_sites(nlp, text, site):
    assert site in _details(nlp(text), "SITE")


@pytest.mark.parametrize("text,word", [
    ("Chest x-ray shows no infiltrate.", "Chest"),
    ("Musculoskeletal exam shows tenderness.", "Musculoskeletal"),
    ("Pain in the left knee after a total knee arthroplasty.", "knee arthroplasty"),
])
def test_pipeline_site_of_a_test_or_procedure_is_no_site(nlp, text, word):
    doc = nlp(text)
    first = word.split()[0]
    spans = [s for s in doc.spans["details"] if s.label_ == "SITE" and s.text == first]
    if word == "knee arthroplasty":  # the site of the pain stays, the one of the procedure goes
        assert [s.start for s in spans] == [4]
    else:
        assert not spans


@pytest.mark.parametrize("text,cond,cause", [
    ("A large disc herniation resulting in compression of the cord.", "compression", "herniation"),
    ("Spinal stenosis causing myelopathy.", "myelopathy", "stenosis"),
    ("Impingement of the nerve root by a disc protrusion.", "impingement", "protrusion"),
    ("Status post sinus surgery with complication of a septal perforation.", "perforation", "sinus surgery"),
    ("He has a hematoma as a complication of the biopsy.", "hematoma", "biopsy"),
])
def test_pipeline_condition_and_complication_causes(nlp, text, cond, cause):
    m = mention(doc_mentions(nlp(text)), cond)
    assert any(cause in c for c in m.details.cause), m.details.cause


@pytest.mark.parametrize("text", [
    "Seizures exacerbated by hyperventilation.",
    "Nausea and vomiting, referred for further evaluation due to her move to another city.",
])
def test_pipeline_no_cause_for_triggers_or_reasons_for_actions(nlp, text):
    assert _details(nlp(text), "CAUSE") == []


@pytest.mark.parametrize("text,cond,sites", [
    ("She has biliary disease.", "biliary disease", ["biliary"]),
    ("Chronic eustachian tube dysfunction.", "eustachian tube dysfunction", ["eustachian tube"]),
    ("No acute intracranial hemorrhage.", "intracranial hemorrhage", ["intracranial"]),
    ("She has a sore throat.", "sore throat", ["throat"]),
    ("Chest pain since this morning.", "Chest pain", ["Chest"]),
    ("Carpal tunnel syndrome, right.", "Carpal tunnel syndrome", []),
])
def test_pipeline_site_names_are_one_condition_with_their_body_word_as_site(nlp, text, cond, sites):
    """Gold guideline revision 2, test T1: the body word of a condition name is its SITE, unless the whole name is
    a main term of the ICD-10-CM Index (Carpal tunnel syndrome); the CONDITION mention stays whole."""
    doc = nlp(text)
    m = mention(doc_mentions(doc), cond)
    assert _details(doc, "SITE") == sites
    assert list(m.details.site) == sites


@pytest.mark.parametrize("text,sites", [
    ("Foraminal stenosis at L1-L2, L2-L3, and L3-L4.", ["L1-L2", "L2-L3", "L3-L4"]),
    ("Pain in the hands and elbows.", ["hands", "elbows"]),
    ("Impingement of the L5 nerve root.", ["nerve root"]),
    ("Ears are well retracted.", ["Ears"]),
])
def test_pipeline_coordinated_adjacent_and_plural_sites(nlp, text, sites):
    assert _details(nlp(text), "SITE") == sites


@pytest.mark.parametrize("text", [
    "The mass and surrounding subcutaneous tissue and fascia were excised en bloc.",
    "I was able to remove most of the clots with my hands.",
    "She was given 1 dose of subcutaneous terbutaline for contractions.",
    "EKG shows normal sinus rhythm with mild ST depressions.",
])
def test_pipeline_no_site_in_procedure_steps_routes_or_measurements(nlp, text):
    assert _details(nlp(text), "SITE") == []


@pytest.mark.parametrize("text,cause", [
    ("REASON FOR EXAM: , Motor vehicle collision.", "Motor vehicle collision"),
    ("The patient reports that she fell backwards.", "fell"),
    ("Part of her symptoms may be secondary to biliary disease.", "biliary disease"),
])
def test_pipeline_unattached_causes_are_details(nlp, text, cause):
    doc = nlp(text)
    assert cause in _details(doc, "CAUSE")
    for ent in doc.ents:  # a condition is never its own cause
        assert all(c.start >= ent.end or c.end <= ent.start for c in ent._.cause)


def test_pipeline_fell_without_patient_subject_is_no_cause(nlp):
    assert _details(nlp("Immediately we fell in to an abscess cavity."), "CAUSE") == []


def test_evaluate_extraction_annotator_filter(nlp, tmp_path):
    t = "Acute cystitis."
    path = tmp_path / "gold.jsonl"
    rows = [{"note_id": "n1", "annotator": "a", "text": t,
             "spans": [{"start": 6, "end": 14, "label": "CONDITION", "text": "cystitis"}]},
            {"note_id": "n2", "annotator": "b", "text": t, "spans": []}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert evaluate_extraction(nlp, path, annotator="a")["notes"] == 1
    assert evaluate_extraction(nlp, path)["notes"] == 2
    from nec_nlp.errors import InputError
    with pytest.raises(InputError):
        evaluate_extraction(nlp, path, annotator="c")


def test_pipeline_drug_mentions_are_details(nlp):
    doc = nlp("MEDICATIONS: , Her only medication currently is Claritin and lisinopril.")
    drugs = [s.text for s in doc.spans["details"] if s.label_ == "DRUG"]
    assert drugs == ["Claritin", "lisinopril"]


# ------------------------------------------------------------------------------------------- serialisation
def test_pipeline_to_disk_and_spacy_load_identical(nlp, tmp_path):
    text = ("PAST MEDICAL HISTORY:, Hypertension.,ASSESSMENT:,  Left lower lobe pneumonia. No chest pain. "
            "Adverse effect of oseltamivir, nausea, initial encounter. Patient is negative for fever.")
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert loaded.pipe_names == list(PIPE_NAMES)
    assert doc_mentions(loaded(text)) == doc_mentions(nlp(text))
    a, b = nlp(text), loaded(text)
    assert [(s.text, s.label_) for s in a.spans["details"]] == [(s.text, s.label_) for s in b.spans["details"]]
    assert [t.is_sent_start for t in a] == [t.is_sent_start for t in b]
    assert len(loaded.get_pipe("nec_context").rules) == len(nlp.get_pipe("nec_context").rules)
    assert load_nlp(tmp_path / "p").pipe_names == list(PIPE_NAMES)


def test_pipeline_load_nlp_missing_path_is_user_error(tmp_path):
    from nec_nlp.errors import ModelError

    with pytest.raises(ModelError):
        load_nlp(tmp_path / "nothing")


def test_pipeline_components_roundtrip_with_own_rules(tmp_path):
    """Rules given at run time survive to_disk/from_disk (medspaCy's own components lose them)."""
    nlp = spacy.blank("en")
    for name in PIPE_NAMES:
        nlp.add_pipe(name)
    nlp.get_pipe("nec_sectionizer").initialize(rules=[SectionRule(keyword="IMPRESSION", category="assessment")])
    nlp.get_pipe("nec_lexicon").initialize(
        terms=[LexiconTerm(label="CONDITION", term="zorbitis"), LexiconTerm(label="TYPE", term="acute"),
               LexiconTerm(label="SITE", term="knee")],
        abbreviations=[Abbreviation(abbr="ZB", label="CONDITION", expansion="zorbitis")], patterns=[])
    nlp.get_pipe("nec_context").initialize(rules=[ContextRuleSpec(literal="never", category="NEGATED_EXISTENCE",
                                                                  direction="FORWARD")])
    text = "IMPRESSION: acute zorbitis of the knee. Never ZB. No zorbitis."
    nlp.to_disk(tmp_path / "tiny")
    loaded = spacy.load(tmp_path / "tiny")
    for pipeline in (nlp, loaded):
        ms = doc_mentions(pipeline(text))
        assert [m.text for m in ms] == ["zorbitis", "ZB", "zorbitis"]
        assert ms[0].details.type == ("acute",) and ms[0].details.site == ("knee",)
        assert ms[0].section == "assessment"
        assert ms[1].assertion.negated
        assert not ms[2].assertion.negated  # "no" is not among this pipeline's rules


def test_pipeline_docs_serialise_after_processing(nlp):
    doc = nlp("No chest pain. Left lower lobe pneumonia.")
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert [e.text for e in again.ents] == [e.text for e in doc.ents]


# ------------------------------------------------------------------------------------------- rules
def test_rules_reject_unknown_keys():
    with pytest.raises(RuleError):
        LexiconTerm.from_dict({"label": "CONDITION", "term": "x", "colour": "red"})
    with pytest.raises(RuleError):
        LexiconTerm.from_dict({"label": "DISEASE", "term": "x"})


def test_rules_expand_simple_patterns():
    pat = [{"LOWER": {"IN": ["negative", "neg"]}}, {"LOWER": "for"}, {"LOWER": "any", "OP": "?"}]
    assert expand_pattern(pat) == ["neg for", "neg for any", "negative for", "negative for any"]
    assert expand_pattern([{"LOWER": {"REGEX": "x"}}]) is None


def test_rules_context_has_is_negative_for_rule():
    lits = {r.literal for r in default_context_rules() if r.category == "NEGATED_EXISTENCE"}
    assert "is negative for" in lits


# ------------------------------------------------------------------------------------------- evaluation & CLI
GOLD_TEXT = "No fever. Acute cystitis of the bladder due to E. coli. Takes aspirin."


def _gold_file(tmp_path: Path) -> Path:
    t = GOLD_TEXT

    def span(s, label, **kw):
        start = t.index(s)
        return {"start": start, "end": start + len(s), "label": label, "text": s, **kw}

    neg = {"negated": True, "historical": False, "hypothetical": False, "family": False, "uncertain": False}
    aff = dict(neg, negated=False)
    spans = [span("fever", "CONDITION", assertion=neg), span("cystitis", "CONDITION", assertion=aff),
             span("Acute", "TYPE"), span("bladder", "SITE"), span("E. coli", "CAUSE"), span("aspirin", "DRUG"),
             span("Takes", "TYPE")]  # one gold span the pipeline cannot find
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps({"note_id": "n1", "text": t, "spans": spans}) + "\n", encoding="utf-8")
    return path


def test_evaluate_extraction_scores(nlp, tmp_path):
    r = evaluate_extraction(nlp, _gold_file(tmp_path))
    assert r["notes"] == 1
    cond = r["labels"]["CONDITION"]["lenient"]
    assert cond["recall"] == 1.0 and cond["n_gold"] == 2
    assert r["labels"]["TYPE"]["lenient"]["recall"] == 0.5  # "Takes" is missed
    assert r["labels"]["DRUG"]["strict"]["f1"] == 1.0
    assert r["assertions"]["negated"]["accuracy"] == 1.0 and r["assertions"]["negated"]["n"] == 2


def test_cli_extract_json_and_evaluate(tmp_path):
    from nec_nlp.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["extract", "No chest pain. Acute cystitis.", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [d["text"] for d in data] == ["chest pain", "cystitis"]
    assert data[0]["assertion"]["negated"] is True
    res = runner.invoke(app, ["extract", "--evaluate", str(_gold_file(tmp_path))])
    assert res.exit_code == 0, res.output
    assert "CONDITION" in res.output and "negated" in res.output


def test_cli_extract_needs_input():
    from nec_nlp.cli import app
    from nec_nlp.errors import InputError

    res = CliRunner().invoke(app, ["extract"])
    assert isinstance(res.exception, InputError)


def test_lexicon_manifest_has_no_problems():
    from importlib import resources

    manifest = json.loads(resources.files("nec_nlp.pipeline").joinpath("resources", "manifest.json").read_text())
    assert manifest["problems"] == []
    assert manifest["counts"]["CONDITION"] > 5000 and manifest["counts"]["DRUG"] > 5000


@pytest.mark.parametrize("label,word", [("CONDITION", "history"), ("CONDITION", "left"), ("CONDITION", "old"),
                                        ("CONDITION", "blood"), ("CONDITION", "heart"), ("SITE", "pain"),
                                        ("SITE", "left"), ("SITE", "old"), ("TYPE", "left")])
def test_lexicon_common_words_filtered(label, word):
    from nec_nlp.pipeline.rules import default_lexicon

    assert not any(t.label == label and t.term == word for t in default_lexicon())


def test_lexicon_abbreviation_expansions_are_terms():
    from nec_nlp.pipeline.rules import default_abbreviations, default_lexicon

    terms = {(t.label, t.term) for t in default_lexicon()}
    for a in default_abbreviations():
        assert (a.label, a.expansion.lower()) in terms, a.abbr


def test_build_lexicons_script_is_deterministic(shared_dir, tmp_path, project_root):
    """The script rebuilds the packaged lexicons from the sources byte for byte."""
    import shutil
    import subprocess
    import sys

    out = tmp_path / "res"
    shutil.copytree(project_root / "nec_nlp" / "pipeline" / "resources", out)
    subprocess.run([sys.executable, str(project_root / "scripts" / "build_lexicons.py"), "--shared",
                    str(shared_dir), "--out", str(out)], check=True, capture_output=True)
    for name in ("conditions.jsonl", "sites.jsonl", "types.jsonl", "causes.jsonl"):
        packaged = (project_root / "nec_nlp" / "pipeline" / "resources" / name).read_bytes()
        assert (out / name).read_bytes() == packaged, name


@pytest.mark.parametrize(
    "text, condition",
    [
        ("Adenocarcinoma of the sigmoid colon.", "Adenocarcinoma"),  # index: see also Neoplasm, malignant
        ("Malignant melanoma of the chin.", "melanoma"),  # a morphology name, not a neoplasm-table site
        ("Preeclampsia at 34 weeks.", "Preeclampsia"),  # closed form of the index's "Pre-eclampsia"
        ("Accidental oxycodone overdose, initial encounter.", "overdose"),  # index: see Table of Drugs
    ],
)
def test_pipeline_table_referenced_and_morphology_conditions(nlp, text, condition):
    doc = nlp(text)
    assert condition in [e.text for e in doc.ents]
    assert condition.lower() not in [s.text.lower() for s in doc.spans["details"] if s.label_ == "SITE"]
