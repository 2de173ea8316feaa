#!/usr/bin/env python3
"""Validates a FHIR Bundle written by `cairn export fhir` or
`cairn-clinic export fhir` (docs/fhir.md, "Validation in the tests").

    python3 tests/fhir_validate.py FILE [--expect-subject REF]

Parses FILE with the `fhir.resources` package (pinned in
tests/fhir-requirements.txt; its R4B models, which take these R4 resources
unchanged), then checks what a structural parser does not: a transaction
whose every entry is a PUT to its own urn:uuid, references that resolve
inside the Bundle, integer totals, and the codes, statuses and categories of
the questionnaire resources. Prints a one-line summary and exits 0, or
prints the reasons and exits 1 (2 when the package is missing).
"""

import json
import re
import sys

try:
    from fhir.resources.R4B.bundle import Bundle
except ImportError as e:  # pragma: no cover - the message is the point
    sys.stderr.write(
        f"fhir_validate: cannot import fhir.resources.R4B ({e}); install the pinned "
        "packages: bash scripts/setup.sh (or pip install -r tests/fhir-requirements.txt)\n"
    )
    sys.exit(2)

LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SCREENING = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# Panel code -> total code, for the questionnaires with LOINC codes.
TOTALS = {"44249-1": "44261-6", "55757-9": "55758-7", "69737-5": "70274-6"}
ANSWER_CODES = {
    "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9",  # frequency
    "LA6572-7", "LA6573-5", "LA6574-3", "LA6575-0",  # difficulty
}


def codes(concept, system=None):
    return [
        c.get("code")
        for c in (concept or {}).get("coding", [])
        if system is None or c.get("system") == system
    ]


def walk(node, path=""):
    """Every (path, key, value) in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def check(doc, expect_subject):
    errors = []
    err = errors.append
    if doc.get("resourceType") != "Bundle" or doc.get("type") != "transaction":
        err("not a transaction Bundle")
    entries = doc.get("entry", [])
    by_url = {}
    for i, e in enumerate(entries):
        url, r, req = e.get("fullUrl"), e.get("resource", {}), e.get("request", {})
        where = f"entry[{i}] ({r.get('resourceType')})"
        if not isinstance(url, str) or not UUID.match(url):
            err(f"{where}: fullUrl {url!r} is not a version-8 urn:uuid")
            continue
        if url in by_url:
            err(f"{where}: fullUrl {url} twice")
        by_url[url] = r
        rid = r.get("id", "")
        if not FHIR_ID.match(rid) or url != f"urn:uuid:{rid}":
            err(f"{where}: id {rid!r} does not match fullUrl {url}")
        if req.get("method") != "PUT" or req.get("url") != f"{r.get('resourceType')}/{rid}":
            err(f"{where}: request {req} is not PUT {r.get('resourceType')}/{rid}")

    # Every reference resolves; each kind points at the right type.
    for url, r in by_url.items():
        where = f"{r.get('resourceType')} {url}"
        for path, key, value in walk(r):
            if key == "valueInteger" and type(value) is not int:
                err(f"{where}{path}: valueInteger {value!r} is not a JSON integer")
            if key != "reference" or not isinstance(value, str):
                continue
            if value.startswith("Patient/"):
                if expect_subject is not None and value != expect_subject:
                    err(f"{where}{path}: subject {value}, expected {expect_subject}")
                continue
            target = by_url.get(value)
            if target is None:
                err(f"{where}{path}: reference {value} is not in the Bundle")
            elif ".derivedFrom" in path and target.get("resourceType") != "QuestionnaireResponse":
                err(f"{where}{path}: derivedFrom is not a QuestionnaireResponse")
            elif ".hasMember" in path and target.get("resourceType") != "Observation":
                err(f"{where}{path}: hasMember is not an Observation")
        if expect_subject is not None and r.get("subject", {}).get("reference") != expect_subject:
            err(f"{where}: no subject {expect_subject}")

    # Questionnaire resources: statuses, categories, codes, totals.
    responses = [r for r in by_url.values() if r.get("resourceType") == "QuestionnaireResponse"]
    observations = [r for r in by_url.values() if r.get("resourceType") == "Observation"]
    for r in responses:
        if r.get("status") != "completed":
            err(f"QuestionnaireResponse {r['id']}: status {r.get('status')}")
        for item in r.get("item", []):
            for a in item.get("answer", []):
                coding = a.get("valueCoding", {})
                if coding.get("system") != LOINC or coding.get("code") not in ANSWER_CODES:
                    err(f"QuestionnaireResponse {r['id']} {item.get('linkId')}: answer {coding}")
    for o in observations:
        if o.get("status") != "final":
            err(f"Observation {o['id']}: status {o.get('status')}")
        if "survey" not in [c for cat in o.get("category", []) for c in codes(cat, CATEGORY)]:
            err(f"Observation {o['id']}: no survey category")
        if "derivedFrom" in o and expect_subject is not None:
            if SCREENING not in o.get("meta", {}).get("profile", []):
                err(f"Observation {o['id']}: no US Core screening-assessment profile")
    panels = [o for o in observations if "hasMember" in o]
    for p in panels:
        members = [by_url.get(m["reference"], {}) for m in p["hasMember"]]
        for panel_code in codes(p.get("code"), LOINC):
            total_code = TOTALS.get(panel_code)
            if total_code is None:
                err(f"panel {p['id']}: unknown LOINC panel {panel_code}")
                continue
            totals = [m for m in members if total_code in codes(m.get("code"), LOINC)]
            if not totals:
                # An incomplete answer set: no total, and fewer items.
                continue
            if len(totals) != 1 or type(totals[0].get("valueInteger")) is not int:
                err(f"panel {p['id']}: total {total_code} is not one integer")
        for m in members:
            if m.get("derivedFrom") != p.get("derivedFrom"):
                err(f"panel {p['id']}: member {m.get('id')} derives from elsewhere")
    return errors, len(responses), len(observations), len(panels)


def main(argv):
    args = argv[1:]
    expect_subject = None
    if "--expect-subject" in args:
        i = args.index("--expect-subject")
        expect_subject = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    with open(args[0], encoding="utf-8") as f:
        text = f.read()
    doc = json.loads(text)
    try:
        Bundle.model_validate(doc) if hasattr(Bundle, "model_validate") else Bundle.parse_obj(doc)
    except Exception as e:  # pydantic's ValidationError, or a model error
        sys.stderr.write(f"fhir_validate: fhir.resources rejects the Bundle:\n{e}\n")
        return 1
    errors, responses, observations, panels = check(doc, expect_subject)
    if errors:
        sys.stderr.write("fhir_validate: " + "\nfhir_validate: ".join(errors) + "\n")
        return 1
    import fhir.resources

    print(
        f"valid FHIR R4 transaction Bundle (fhir.resources {fhir.resources.__version__}, R4B): "
        f"{len(doc.get('entry', []))} entries, {responses} QuestionnaireResponse, "
        f"{observations} Observation, {panels} panels"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
