//! FHIR R4 export: questionnaire answers and daily tracker values as a
//! transaction Bundle for a clinic system (docs/fhir.md).
//!
//! [`bundle`] is pure: the same records and options give the same bytes,
//! on the device and on the clinic server alike. Resource ids are UUIDs
//! derived from record ids ([`resource_id`]), every Bundle entry is a `PUT`,
//! so posting a Bundle twice updates rather than duplicates. Journal text,
//! notes, tags and medication entries are left out.
//!
//! The JSON is written here rather than through serde_json, which the
//! shipped library does not otherwise carry.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};

use crate::crypto::to_hex;
use crate::journal::Entry;
use crate::questionnaires::{QUESTIONNAIRES, Questionnaire};
use crate::trackers::{BUILTIN_TRACKERS, Value};

/// Cairn's code system for trackers (code: the tracker's id).
pub const TRACKER_SYSTEM: &str = "https://cairn.example/fhir/CodeSystem/tracker";
/// Cairn's code system for questionnaire panels and totals without a LOINC
/// code (`gad2`, `gad2-total`).
pub const QUESTIONNAIRE_SYSTEM: &str = "https://cairn.example/fhir/CodeSystem/questionnaire";
/// Canonical URL prefix of questionnaires without a LOINC form (`…/gad2`).
pub const QUESTIONNAIRE_BASE: &str = "https://cairn.example/fhir/Questionnaire/";
/// Canonical URL prefix of LOINC forms (`http://loinc.org/q/44249-1`).
pub const LOINC_FORM_BASE: &str = "http://loinc.org/q/";
/// LOINC's system URL.
pub const LOINC: &str = "http://loinc.org";
/// The US Core profile claimed by questionnaire Observations (with a subject).
pub const SCREENING_PROFILE: &str =
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment";
/// The US Core profile claimed by QuestionnaireResponses (with a subject).
pub const RESPONSE_PROFILE: &str =
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-questionnaireresponse";
const CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const UCUM: &str = "http://unitsofmeasure.org";
const SLEEP_LOINC: &str = "93832-4";
const DAY_MS: i64 = 86_400_000;

/// One entry to export: what the device's [`Entry`] and the clinic's
/// stored entry bodies both give.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    /// The entry's record id (32 hex characters).
    pub id: &'a str,
    /// Its tracker's id.
    pub tracker: &'a str,
    /// Its value.
    pub value: &'a Value,
    /// When it happened, ms since the epoch.
    pub at_ms: i64,
    /// The UTC offset in force where the patient was, seconds.
    pub utc_offset_seconds: i32,
}

impl<'a> From<&'a Entry> for Record<'a> {
    fn from(e: &'a Entry) -> Self {
        Record {
            id: &e.id,
            tracker: &e.tracker,
            value: &e.value,
            at_ms: e.at_ms,
            utc_offset_seconds: e.utc_offset_seconds,
        }
    }
}

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The subject of every resource, a reference such as
    /// `Patient/0123…`; `None`: no subject, and no US Core profile claimed
    /// (US Core requires one).
    pub subject: Option<String>,
    /// Only entries on or after this local day (in each entry's offset).
    pub from: Option<NaiveDate>,
    /// Only entries on or before this local day.
    pub to: Option<NaiveDate>,
}

/// A Bundle as JSON text, and what went into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The Bundle, pretty-printed JSON ending in a newline.
    pub json: String,
    /// Entries exported (each as one or more resources).
    pub exported: usize,
    /// Entries in the date range left out: journal text, medication, and
    /// answer sets that do not fit their questionnaire.
    pub left_out: usize,
    /// Resources in the Bundle.
    pub resources: usize,
}

/// The resource id (a version-8 UUID, RFC 9562) for the resource playing
/// `role` (`response`, `panel`, `total`, `item-3`, `observation`) for the
/// record `record_id`: the first 16 bytes of SHA-256 of `cairn-fhir-1`,
/// the record id and the role, with the version and variant bits set.
pub fn resource_id(record_id: &str, role: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in ["cairn-fhir-1", record_id, role] {
        ctx.update(part.as_bytes());
        ctx.update(&[0]);
    }
    let digest = ctx.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = to_hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The transaction Bundle for `records` (docs/fhir.md). Records outside
/// the options' days are skipped; the rest are exported in time order
/// (then by id), whatever order they come in.
pub fn bundle(records: &[Record<'_>], options: &Options) -> Bundle {
    let mut chosen: Vec<&Record<'_>> = records
        .iter()
        .filter(|r| {
            let day = local_date(r);
            options.from.is_none_or(|f| day >= f) && options.to.is_none_or(|t| day <= t)
        })
        .collect();
    chosen.sort_by(|a, b| (a.at_ms, a.id).cmp(&(b.at_ms, b.id)));
    let subject = options.subject.as_deref();
    let mut out = Vec::new();
    let (mut exported, mut left_out) = (0, 0);
    for r in chosen {
        let before = out.len();
        let questionnaire = QUESTIONNAIRES.iter().find(|q| q.id == r.tracker);
        match (questionnaire, r.value) {
            (Some(q), Value::Answers { answers, .. }) => {
                answer_set(&mut out, r, q, answers, subject)
            }
            (None, _) => tracker(&mut out, r, subject),
            (Some(_), _) => {}
        }
        if out.len() > before {
            exported += 1;
        } else {
            left_out += 1;
        }
    }
    let resources = out.len();
    let mut fields = vec![("resourceType", s("Bundle")), ("type", s("transaction"))];
    if !out.is_empty() {
        fields.push((
            "entry",
            J::Arr(out.into_iter().map(Resource::into_entry).collect()),
        ));
    }
    let mut json = String::new();
    J::Obj(fields).write(&mut json, 0);
    json.push('\n');
    Bundle {
        json,
        exported,
        left_out,
        resources,
    }
}

fn offset(r: &Record<'_>) -> FixedOffset {
    FixedOffset::east_opt(r.utc_offset_seconds)
        .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"))
}

fn local_date(r: &Record<'_>) -> NaiveDate {
    let local_ms = r.at_ms + i64::from(r.utc_offset_seconds) * 1000;
    DateTime::from_timestamp_millis(local_ms.div_euclid(DAY_MS) * DAY_MS)
        .unwrap_or_default()
        .date_naive()
}

/// The entry's time with the patient's offset then (FHIR dateTime).
fn when(r: &Record<'_>) -> J {
    let t = DateTime::from_timestamp_millis(r.at_ms)
        .unwrap_or_default()
        .with_timezone(&offset(r));
    s(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

struct Resource {
    kind: &'static str,
    id: String,
    fields: Vec<(&'static str, J)>,
}

impl Resource {
    fn url(&self) -> String {
        format!("urn:uuid:{}", self.id)
    }

    fn into_entry(self) -> J {
        let mut resource = vec![("resourceType", s(self.kind)), ("id", s(&self.id))];
        let full_url = self.url();
        let request = format!("{}/{}", self.kind, self.id);
        resource.extend(self.fields);
        J::Obj(vec![
            ("fullUrl", s(full_url)),
            ("resource", J::Obj(resource)),
            (
                "request",
                J::Obj(vec![("method", s("PUT")), ("url", s(request))]),
            ),
        ])
    }
}

fn reference(url: String) -> J {
    J::Obj(vec![("reference", s(url))])
}

fn coding(system: &str, code: &str, display: Option<&str>) -> J {
    let mut f = vec![("system", s(system)), ("code", s(code))];
    if let Some(d) = display {
        f.push(("display", s(d)));
    }
    J::Obj(f)
}

fn concept(codings: Vec<J>, text: Option<&str>) -> J {
    let mut f = vec![("coding", J::Arr(codings))];
    if let Some(t) = text {
        f.push(("text", s(t)));
    }
    J::Obj(f)
}

/// A LOINC code where the table has one, else Cairn's questionnaire code.
fn loinc_or_own(loinc: Option<&str>, own: &str) -> J {
    match loinc {
        Some(c) => coding(LOINC, c, None),
        None => coding(QUESTIONNAIRE_SYSTEM, own, None),
    }
}

fn quantity(value: J, unit: &str) -> J {
    J::Obj(vec![
        ("value", value),
        ("unit", s(unit)),
        ("system", s(UCUM)),
        ("code", s(unit)),
    ])
}

/// The fields every Observation here starts with, up to its time.
fn observation_head(
    code: J,
    profile: bool,
    r: &Record<'_>,
    subject: Option<&str>,
) -> Vec<(&'static str, J)> {
    let mut f = Vec::with_capacity(10);
    if profile && subject.is_some() {
        f.push((
            "meta",
            J::Obj(vec![("profile", J::Arr(vec![s(SCREENING_PROFILE)]))]),
        ));
    }
    f.push(("status", s("final")));
    f.push((
        "category",
        J::Arr(vec![concept(
            vec![coding(CATEGORY_SYSTEM, "survey", Some("Survey"))],
            None,
        )]),
    ));
    f.push(("code", code));
    if let Some(subj) = subject {
        f.push(("subject", reference(subj.to_owned())));
    }
    f.push(("effectiveDateTime", when(r)));
    f
}

fn answer_set(
    out: &mut Vec<Resource>,
    r: &Record<'_>,
    q: &Questionnaire,
    answers: &[Option<u8>],
    subject: Option<&str>,
) {
    let Ok(score) = q.score(answers) else {
        return;
    };
    let response = Resource {
        kind: "QuestionnaireResponse",
        id: resource_id(r.id, "response"),
        fields: Vec::new(),
    };
    let response_url = response.url();
    let derived = || ("derivedFrom", J::Arr(vec![reference(response_url.clone())]));
    let mut items = Vec::new();
    let mut members = Vec::new();
    let mut observations = Vec::new();
    for (i, (answer, item)) in answers.iter().zip(q.items).enumerate() {
        let Some(option) = answer.and_then(|a| item.options.iter().find(|o| o.value == a)) else {
            continue;
        };
        let n = i + 1;
        let answer_coding = || coding(LOINC, option.loinc, Some(option.text));
        items.push(J::Obj(vec![
            (
                "linkId",
                s(item
                    .loinc
                    .map_or_else(|| n.to_string(), |c| format!("/{c}"))),
            ),
            ("text", s(item.text)),
            (
                "answer",
                J::Arr(vec![J::Obj(vec![("valueCoding", answer_coding())])]),
            ),
        ]));
        let code = concept(
            vec![loinc_or_own(item.loinc, &format!("{}-{n}", q.id))],
            Some(item.text),
        );
        let mut fields = observation_head(code, true, r, subject);
        fields.push((
            "valueCodeableConcept",
            concept(vec![answer_coding()], Some(option.text)),
        ));
        fields.push(derived());
        let obs = Resource {
            kind: "Observation",
            id: resource_id(r.id, &format!("item-{n}")),
            fields,
        };
        members.push(reference(obs.url()));
        observations.push(obs);
    }
    if let Some(total) = score.total {
        let text = format!("{} total score", q.name);
        let code = concept(
            vec![loinc_or_own(q.total_loinc, &format!("{}-total", q.id))],
            Some(&text),
        );
        let mut fields = observation_head(code, true, r, subject);
        fields.push(("valueInteger", J::Raw(total.to_string())));
        if let Some(band) = score.band {
            fields.push((
                "interpretation",
                J::Arr(vec![J::Obj(vec![("text", s(band))])]),
            ));
        }
        if score.prorated {
            let note = format!(
                "Prorated: {} of {} scored items answered; the total is scaled to every item",
                score.answered,
                score.answered + score.missing
            );
            fields.push(("note", J::Arr(vec![J::Obj(vec![("text", s(note))])])));
        }
        fields.push(derived());
        let obs = Resource {
            kind: "Observation",
            id: resource_id(r.id, "total"),
            fields,
        };
        members.push(reference(obs.url()));
        observations.push(obs);
    }

    let mut response = response;
    let questionnaire_url = match q.panel_loinc {
        Some(c) => format!("{LOINC_FORM_BASE}{c}"),
        None => format!("{QUESTIONNAIRE_BASE}{}", q.id),
    };
    if subject.is_some() {
        response.fields.push((
            "meta",
            J::Obj(vec![("profile", J::Arr(vec![s(RESPONSE_PROFILE)]))]),
        ));
    }
    response
        .fields
        .push(("questionnaire", s(questionnaire_url)));
    response.fields.push(("status", s("completed")));
    if let Some(subj) = subject {
        response
            .fields
            .push(("subject", reference(subj.to_owned())));
    }
    response.fields.push(("authored", when(r)));
    if !items.is_empty() {
        response.fields.push(("item", J::Arr(items)));
    }
    out.push(response);

    if !members.is_empty() {
        let text = q.name.to_owned();
        let code = concept(vec![loinc_or_own(q.panel_loinc, q.id)], Some(&text));
        let mut fields = observation_head(code, true, r, subject);
        fields.push(("hasMember", J::Arr(members)));
        fields.push(derived());
        out.push(Resource {
            kind: "Observation",
            id: resource_id(r.id, "panel"),
            fields,
        });
    }
    out.extend(observations);
}

fn tracker(out: &mut Vec<Resource>, r: &Record<'_>, subject: Option<&str>) {
    let name = BUILTIN_TRACKERS
        .iter()
        .find(|t| t.id == r.tracker)
        .map(|t| t.name);
    let own = coding(TRACKER_SYSTEM, r.tracker, name);
    let (codings, value) = match r.value {
        Value::Scale(x) if x.is_finite() => (
            vec![own],
            vec![("valueQuantity", quantity(J::Raw(x.to_string()), "{score}"))],
        ),
        Value::YesNo(b) => (vec![own], vec![("valueBoolean", J::Bool(*b))]),
        Value::Count(n) => (vec![own], vec![("valueInteger", J::Raw(n.to_string()))]),
        Value::Duration { minutes } => (
            vec![own],
            vec![(
                "valueQuantity",
                quantity(J::Raw(minutes.to_string()), "min"),
            )],
        ),
        Value::Sleep { minutes, quality } => {
            let mut v = vec![(
                "valueQuantity",
                quantity(J::Raw(minutes.to_string()), "min"),
            )];
            if let Some(q) = quality {
                v.push((
                    "component",
                    J::Arr(vec![J::Obj(vec![
                        (
                            "code",
                            concept(
                                vec![coding(
                                    TRACKER_SYSTEM,
                                    "sleep-quality",
                                    Some("Sleep quality"),
                                )],
                                Some("Sleep quality (0-10)"),
                            ),
                        ),
                        ("valueInteger", J::Raw(q.to_string())),
                    ])]),
                ));
            }
            (
                vec![coding(LOINC, SLEEP_LOINC, Some("Sleep duration")), own],
                v,
            )
        }
        // Free text and medication names stay on the device (docs/fhir.md).
        Value::Scale(_) | Value::Text(_) | Value::Medication { .. } | Value::Answers { .. } => {
            return;
        }
    };
    let mut fields = observation_head(concept(codings, name), false, r, subject);
    fields.extend(value);
    out.push(Resource {
        kind: "Observation",
        id: resource_id(r.id, "observation"),
        fields,
    });
}

/// A JSON value, written in the order built (so the output is stable).
enum J {
    Str(String),
    /// A number, already formatted.
    Raw(String),
    Bool(bool),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

fn s(v: impl Into<String>) -> J {
    J::Str(v.into())
}

fn write_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

impl J {
    /// Pretty-printed, two spaces a level.
    fn write(&self, out: &mut String, depth: usize) {
        match self {
            J::Str(v) => write_str(out, v),
            J::Raw(v) => out.push_str(v),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Arr(items) if items.is_empty() => out.push_str("[]"),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            J::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    write_str(out, k);
                    out.push_str(": ");
                    v.write(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    const PHQ9_ID: &str = "0123456789abcdef0123456789abcdef";
    const GAD7_ID: &str = "11111111111111111111111111111111";
    const MOOD_ID: &str = "22222222222222222222222222222222";
    const SLEEP_ID: &str = "33333333333333333333333333333333";
    const JOURNAL_ID: &str = "44444444444444444444444444444444";
    // 2026-11-27T08:30:00Z, in Paris (+01:00).
    const AT: i64 = 1_795_768_200_000;

    fn answers(v: &[Option<u8>]) -> Value {
        Value::Answers {
            version: 1,
            answers: v.to_vec(),
        }
    }

    fn values() -> Vec<(&'static str, &'static str, Value, i64)> {
        vec![
            (
                SLEEP_ID,
                "sleep",
                Value::Sleep {
                    minutes: 450,
                    quality: Some(6),
                },
                AT - 3_600_000,
            ),
            (
                PHQ9_ID,
                "phq9",
                answers(&[
                    Some(1),
                    Some(2),
                    Some(3),
                    Some(0),
                    Some(1),
                    Some(2),
                    Some(0),
                    Some(1),
                    Some(0),
                    Some(1),
                ]),
                AT,
            ),
            (GAD7_ID, "gad7", answers(&[Some(1); 7]), AT + 60_000),
            (MOOD_ID, "mood", Value::Scale(6.0), AT + 120_000),
            (
                JOURNAL_ID,
                "journal",
                Value::Text("a private thought".into()),
                AT + 180_000,
            ),
        ]
    }

    fn records<'a>(v: &'a [(&'static str, &'static str, Value, i64)]) -> Vec<Record<'a>> {
        v.iter()
            .map(|(id, tracker, value, at_ms)| Record {
                id,
                tracker,
                value,
                at_ms: *at_ms,
                utc_offset_seconds: 3600,
            })
            .collect()
    }

    fn options() -> Options {
        Options {
            subject: Some("Patient/abc".into()),
            ..Default::default()
        }
    }

    fn parse(b: &Bundle) -> Json {
        serde_json::from_str(&b.json).expect("the Bundle is JSON")
    }

    fn resources(doc: &Json) -> Vec<&Json> {
        doc["entry"]
            .as_array()
            .map(|a| a.iter().map(|e| &e["resource"]).collect())
            .unwrap_or_default()
    }

    fn with_code<'a>(doc: &'a Json, code: &str) -> Vec<&'a Json> {
        resources(doc)
            .into_iter()
            .filter(|r| {
                r["code"]["coding"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["code"] == code))
            })
            .collect()
    }

    #[test]
    fn ids_are_deterministic_uuids() {
        let a = resource_id(PHQ9_ID, "panel");
        assert_eq!(a, resource_id(PHQ9_ID, "panel"));
        assert_ne!(a, resource_id(PHQ9_ID, "total"));
        assert_ne!(a, resource_id(GAD7_ID, "panel"));
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {a}");
        assert!("89ab".contains(&parts[3][..1]), "RFC 9562 variant: {a}");
    }

    #[test]
    fn same_records_give_the_same_bytes_in_any_order() {
        let v = values();
        let once = bundle(&records(&v), &options());
        let mut reversed = records(&v);
        reversed.reverse();
        assert_eq!(once, bundle(&records(&v), &options()));
        assert_eq!(once, bundle(&reversed, &options()));
        assert_eq!(once.exported, 4);
        assert_eq!(once.left_out, 1, "the journal entry");
        assert!(!once.json.contains("private thought"));
    }

    #[test]
    fn totals_are_integers_and_references_resolve() {
        let b = bundle(&records(&values()), &options());
        let doc = parse(&b);
        assert_eq!(doc["resourceType"], "Bundle");
        assert_eq!(doc["type"], "transaction");
        let entries = doc["entry"].as_array().unwrap();
        assert_eq!(entries.len(), b.resources);
        let urls: Vec<&str> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        for e in entries {
            let r = &e["resource"];
            let id = r["id"].as_str().unwrap();
            assert_eq!(e["fullUrl"], format!("urn:uuid:{id}"));
            assert_eq!(e["request"]["method"], "PUT");
            assert_eq!(
                e["request"]["url"],
                format!("{}/{id}", r["resourceType"].as_str().unwrap())
            );
            for key in ["hasMember", "derivedFrom"] {
                for m in r[key].as_array().into_iter().flatten() {
                    let target = m["reference"].as_str().unwrap();
                    assert!(urls.contains(&target), "{key} {target} resolves");
                }
            }
        }

        let total = with_code(&doc, "44261-6");
        assert_eq!(total.len(), 1);
        assert!(total[0]["valueInteger"].is_u64());
        assert_eq!(total[0]["valueInteger"], 10);
        assert_eq!(total[0]["interpretation"][0]["text"], "moderate");
        let gad = with_code(&doc, "70274-6");
        assert_eq!(gad[0]["valueInteger"], 7);
        assert!(b.json.contains("\"valueInteger\": 10,"));

        // The panel has the 10 items and the total; each derives from the
        // response.
        let panel = with_code(&doc, "44249-1");
        assert_eq!(panel.len(), 1);
        assert_eq!(panel[0]["hasMember"].as_array().unwrap().len(), 11);
        let response = resources(&doc)
            .into_iter()
            .find(|r| r["questionnaire"] == "http://loinc.org/q/44249-1")
            .unwrap();
        assert_eq!(response["status"], "completed");
        assert_eq!(response["authored"], "2026-11-27T09:30:00+01:00");
        assert_eq!(response["item"].as_array().unwrap().len(), 10);
        assert_eq!(response["item"][2]["linkId"], "/44259-0");
        assert_eq!(
            response["item"][2]["answer"][0]["valueCoding"]["code"],
            "LA6571-9"
        );
        let qr_url = format!("urn:uuid:{}", response["id"].as_str().unwrap());
        assert_eq!(panel[0]["derivedFrom"][0]["reference"], qr_url.as_str());
        assert_eq!(
            panel[0]["meta"]["profile"][0],
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
        );
        assert_eq!(panel[0]["subject"]["reference"], "Patient/abc");
        assert_eq!(panel[0]["category"][0]["coding"][0]["code"], "survey");
        let item9 = with_code(&doc, "44260-8");
        assert_eq!(
            item9[0]["valueCodeableConcept"]["coding"][0]["code"],
            "LA6568-5"
        );
        assert_eq!(item9[0]["derivedFrom"][0]["reference"], qr_url.as_str());

        let sleep = with_code(&doc, "93832-4");
        assert_eq!(sleep[0]["valueQuantity"]["value"], 450);
        assert_eq!(sleep[0]["valueQuantity"]["code"], "min");
        assert_eq!(sleep[0]["component"][0]["valueInteger"], 6);
        let mood = with_code(&doc, "mood");
        assert_eq!(mood[0]["code"]["coding"][0]["system"], TRACKER_SYSTEM);
        assert_eq!(mood[0]["valueQuantity"]["value"], 6);
        assert!(mood[0].get("meta").is_none(), "no profile for trackers");
    }

    #[test]
    fn an_incomplete_phq9_has_no_total() {
        // Three scored items unanswered: more than PHQ-9's two.
        let v = vec![(
            PHQ9_ID,
            "phq9",
            answers(&[
                Some(1),
                None,
                None,
                None,
                Some(2),
                Some(0),
                Some(1),
                Some(0),
                Some(0),
            ]),
            AT,
        )];
        let b = bundle(&records(&v), &options());
        let doc = parse(&b);
        assert!(with_code(&doc, "44261-6").is_empty());
        let panel = with_code(&doc, "44249-1");
        assert_eq!(panel[0]["hasMember"].as_array().unwrap().len(), 6);
        assert_eq!(resources(&doc).len(), 1 + 1 + 6);
        assert!(!b.json.contains("valueInteger"));

        // Two unanswered: a prorated total, said so.
        let v = vec![(
            PHQ9_ID,
            "phq9",
            answers(&[
                Some(1),
                None,
                None,
                Some(3),
                Some(2),
                Some(0),
                Some(1),
                Some(0),
                Some(0),
            ]),
            AT,
        )];
        let doc = parse(&bundle(&records(&v), &options()));
        let total = with_code(&doc, "44261-6");
        assert_eq!(total[0]["valueInteger"], 9);
        assert!(
            total[0]["note"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Prorated: 7 of 9")
        );
    }

    #[test]
    fn gad2_uses_cairns_codes_and_no_subject_claims_no_profile() {
        let v = vec![(GAD7_ID, "gad2", answers(&[Some(2), Some(2)]), AT)];
        let doc = parse(&bundle(&records(&v), &Options::default()));
        let panel = with_code(&doc, "gad2");
        assert_eq!(
            panel[0]["code"]["coding"][0]["system"],
            QUESTIONNAIRE_SYSTEM
        );
        assert_eq!(with_code(&doc, "gad2-total")[0]["valueInteger"], 4);
        let rs = resources(&doc);
        assert_eq!(
            rs[0]["questionnaire"],
            "https://cairn.example/fhir/Questionnaire/gad2"
        );
        assert!(
            rs.iter()
                .all(|r| r.get("meta").is_none() && r.get("subject").is_none())
        );
    }

    #[test]
    fn days_are_local_and_inclusive() {
        let v = values();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        // 2026-11-27 in Paris; the sleep entry is at 08:30 local.
        let only = |from, to| {
            bundle(
                &records(&v),
                &Options {
                    from,
                    to,
                    ..options()
                },
            )
            .exported
        };
        assert_eq!(only(day("2026-11-27"), day("2026-11-27")), 4);
        assert_eq!(only(day("2026-11-28"), None), 0);
        assert_eq!(only(None, day("2026-11-26")), 0);
        // An entry at 23:30 UTC on the 26th is the 27th in Paris.
        let late = vec![(MOOD_ID, "mood", Value::Scale(3.0), AT - 9 * 3_600_000)];
        let b = bundle(
            &records(&late),
            &Options {
                from: day("2026-11-27"),
                to: day("2026-11-27"),
                ..options()
            },
        );
        assert_eq!(b.exported, 1);
        let empty = bundle(&[], &options());
        assert_eq!(parse(&empty)["entry"], Json::Null, "no empty array");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        J::Obj(vec![("k", s("a\"b\\c\nd\u{1}é"))]).write(&mut out, 0);
        let v: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(v["k"], "a\"b\\c\nd\u{1}é");
    }
}
