//! Crisis resources that work offline, by country, and the statement that
//! tells the patient who watches what they share and how soon (never
//! around the clock).
//!
//! Both are reviewed data (docs/safety.md): [`CRISIS_TABLE`] holds only
//! what the review could confirm (a line left out rather than guessed),
//! each number with the official page to check it against, and
//! [`CRISIS_REVIEWED`] is the day the whole table was last reviewed.
//! The statement's sentences are the constants below, filled in by
//! [`monitoring_statement`]; none of them reassures.

use serde::Serialize;

use crate::error::{Error, Result};

/// The day [`CRISIS_TABLE`] was last reviewed against its sources (ISO 8601).
pub const CRISIS_REVIEWED: &str = "2026-12-02";

/// A crisis line: who answers, how to reach them, when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrisisLine {
    /// The service's name.
    pub name: &'static str,
    /// How to reach it, in words for the patient: "call or text 988",
    /// "text HOME to 741741".
    pub how: &'static str,
    /// The main number to dial or text, digits only (for `tel:` and `sms:`
    /// links).
    pub number: &'static str,
    /// When it answers: "24/7" where that is true.
    pub hours: &'static str,
    /// The official page this line was checked against.
    pub source: &'static str,
}

/// What to do in a crisis in one country, or the international fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrisisResources {
    /// ISO 3166-1 alpha-2 code, upper case; empty for the fallback.
    pub country: &'static str,
    /// The country's name in English ("International" for the fallback).
    pub name: &'static str,
    /// The emergency number, digits only; empty for the fallback (no one
    /// number is right everywhere: see [`CrisisResources::emergency_advice`]).
    pub emergency: &'static str,
    /// The official page for the emergency number.
    pub emergency_source: &'static str,
    /// National crisis lines, the main one first; may be empty (the table
    /// leaves out what could not be confirmed).
    pub lines: &'static [CrisisLine],
}

const EU_112: &str = "https://digital-strategy.ec.europa.eu/en/policies/112";
const ALL_DAY: &str = "24/7";

const fn line(
    name: &'static str,
    how: &'static str,
    number: &'static str,
    source: &'static str,
) -> CrisisLine {
    CrisisLine {
        name,
        how,
        number,
        hours: ALL_DAY,
        source,
    }
}

const fn country(
    country: &'static str,
    name: &'static str,
    emergency: &'static str,
    emergency_source: &'static str,
    lines: &'static [CrisisLine],
) -> CrisisResources {
    CrisisResources {
        country,
        name,
        emergency,
        emergency_source,
        lines,
    }
}

const SAMARITANS: &str = "Samaritans";

/// Crisis resources by country, sorted by code. Every line here answers
/// around the clock; lines with shorter hours were left out rather than
/// risk a wrong time (docs/safety.md, "Review").
pub const CRISIS_TABLE: &[CrisisResources] = &[
    country(
        "AT",
        "Austria",
        "112",
        EU_112,
        &[line(
            "TelefonSeelsorge",
            "call 142 (free)",
            "142",
            "https://www.telefonseelsorge.at/",
        )],
    ),
    country(
        "AU",
        "Australia",
        "000",
        "https://www.triplezero.gov.au/",
        &[
            line(
                "Lifeline",
                "call 13 11 14",
                "131114",
                "https://www.lifeline.org.au/",
            ),
            line(
                "Suicide Call Back Service",
                "call 1300 659 467",
                "1300659467",
                "https://www.suicidecallbackservice.org.au/",
            ),
            line(
                "Beyond Blue",
                "call 1300 22 4636",
                "1300224636",
                "https://www.beyondblue.org.au/",
            ),
        ],
    ),
    country(
        "BE",
        "Belgium",
        "112",
        EU_112,
        &[
            line(
                "Zelfmoordlijn 1813 (in Dutch)",
                "call 1813",
                "1813",
                "https://www.zelfmoord1813.be/",
            ),
            line(
                "Centre de Prévention du Suicide (in French)",
                "call 0800 32 123 (free)",
                "080032123",
                "https://www.preventionsuicide.be/",
            ),
        ],
    ),
    country(
        "CA",
        "Canada",
        "911",
        "https://crtc.gc.ca/eng/phone/911/can.htm",
        &[
            line(
                "9-8-8 Suicide Crisis Helpline",
                "call or text 988",
                "988",
                "https://988.ca/",
            ),
            line(
                "Kids Help Phone (young people)",
                "call 1-800-668-6868 or text CONNECT to 686868",
                "18006686868",
                "https://kidshelpphone.ca/",
            ),
        ],
    ),
    country(
        "DE",
        "Germany",
        "112",
        EU_112,
        &[line(
            "TelefonSeelsorge",
            "call 0800 111 0 111, 0800 111 0 222 or 116 123 (free)",
            "08001110111",
            "https://www.telefonseelsorge.de/",
        )],
    ),
    country(
        "ES",
        "Spain",
        "112",
        EU_112,
        &[line(
            "Línea 024 (suicidal behaviour)",
            "call 024 (free)",
            "024",
            "https://www.sanidad.gob.es/linea024/home.htm",
        )],
    ),
    country(
        "FR",
        "France",
        "112",
        EU_112,
        &[line(
            "3114 (national suicide prevention line)",
            "call 3114 (free)",
            "3114",
            "https://3114.fr/",
        )],
    ),
    country(
        "GB",
        "United Kingdom",
        "999",
        "https://www.gov.uk/guidance/999-and-112-the-uks-national-emergency-numbers",
        &[
            line(
                SAMARITANS,
                "call 116 123 (free)",
                "116123",
                "https://www.samaritans.org/",
            ),
            line(
                "Shout",
                "text SHOUT to 85258",
                "85258",
                "https://giveusashout.org/",
            ),
        ],
    ),
    country(
        "IE",
        "Ireland",
        "112",
        EU_112,
        &[
            line(
                SAMARITANS,
                "call 116 123 (free)",
                "116123",
                "https://www.samaritans.org/ireland/",
            ),
            line(
                "Pieta",
                "call 1800 247 247",
                "1800247247",
                "https://www.pieta.ie/",
            ),
        ],
    ),
    country(
        "IN",
        "India",
        "112",
        "https://112.gov.in/",
        &[line(
            "Tele-MANAS",
            "call 14416 or 1-800-891-4416 (free)",
            "14416",
            "https://telemanas.mohfw.gov.in/",
        )],
    ),
    country("IT", "Italy", "112", EU_112, &[]),
    country(
        "NL",
        "Netherlands",
        "112",
        EU_112,
        &[line(
            "113 Zelfmoordpreventie",
            "call 113, or 0800-0113 for free, or chat at 113.nl",
            "113",
            "https://www.113.nl/",
        )],
    ),
    country(
        "NZ",
        "New Zealand",
        "111",
        "https://www.govt.nz/browse/crime-and-justice/crimes-and-emergencies/111-emergency-service/",
        &[
            line(
                "1737 (Need to talk?)",
                "call or text 1737",
                "1737",
                "https://1737.org.nz/",
            ),
            line(
                "Lifeline Aotearoa",
                "call 0800 543 354",
                "0800543354",
                "https://www.lifeline.org.nz/",
            ),
        ],
    ),
    country(
        "US",
        "United States",
        "911",
        "https://www.911.gov/calling-911/",
        &[
            line(
                "988 Suicide & Crisis Lifeline",
                "call or text 988, or chat at 988lifeline.org",
                "988",
                "https://988lifeline.org/",
            ),
            line(
                "Crisis Text Line",
                "text HOME to 741741",
                "741741",
                "https://www.crisistextline.org/",
            ),
        ],
    ),
];

/// What an unknown country gets: no number, and
/// [`CrisisResources::emergency_advice`] says to call the local one.
pub const CRISIS_FALLBACK: CrisisResources = country("", "International", "", EU_112, &[]);

/// For the fallback: 112 is the emergency number in every EU country;
/// elsewhere many networks pass it on from a mobile phone, not all.
const FALLBACK_112: &str = "In the European Union, 112 reaches emergency services everywhere; \
     in many other countries a mobile phone also connects 112 to the local emergency number, \
     but not in all of them.";

/// Every assigned ISO 3166-1 alpha-2 code, sorted, two letters each (from
/// the tz database's iso3166.tab, current as of ISO/TC 46 N1108, 2023).
const ISO_3166: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ\
    CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGH\
    GIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALB\
    LCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOM\
    PAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTG\
    THTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/// A country code checked and in upper case. `UK` (reserved by ISO for the
/// United Kingdom, and what many people type) is read as `GB`.
pub fn country_code(code: &str) -> Result<String> {
    let c = code.trim().to_ascii_uppercase();
    let bad = |reason: &str| Error::invalid("country", reason);
    if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(
            "expected a two-letter ISO 3166-1 code such as US or GB",
        ));
    }
    if c == "UK" {
        return Ok("GB".into());
    }
    if !ISO_3166.as_bytes().chunks(2).any(|p| p == c.as_bytes()) {
        return Err(bad("not an assigned ISO 3166-1 alpha-2 code"));
    }
    Ok(c)
}

/// The crisis resources for a country (ISO 3166-1 alpha-2, any case), or
/// [`CRISIS_FALLBACK`] for `None` and for a country not in the table: never
/// an empty answer. `InvalidInput` (field `country`) if the code is not an
/// assigned one.
pub fn crisis_resources(country: Option<&str>) -> Result<&'static CrisisResources> {
    let Some(code) = country else {
        return Ok(&CRISIS_FALLBACK);
    };
    let code = country_code(code)?;
    Ok(CRISIS_TABLE
        .iter()
        .find(|r| r.country == code)
        .unwrap_or(&CRISIS_FALLBACK))
}

impl CrisisResources {
    /// Whether this is the fallback for a country not in the table.
    pub fn is_fallback(&self) -> bool {
        self.country.is_empty()
    }

    /// What to do in an emergency, as one sentence or two.
    pub fn emergency_advice(&self) -> String {
        if self.is_fallback() {
            format!("Call the local emergency number. {FALLBACK_112}")
        } else {
            format!("In an emergency, call {}.", self.emergency)
        }
    }

    /// Every source for this country, the emergency number's first, each once.
    pub fn sources(&self) -> Vec<&'static str> {
        let mut out = vec![self.emergency_source];
        for l in self.lines {
            if !out.contains(&l.source) {
                out.push(l.source);
            }
        }
        out
    }
}

// The monitoring statement, sentence by sentence. `{clinic}` is the clinic's
// name or "your clinic" (capitalised at the start of a sentence), `{within}`
// the review time the clinic set. Reviewed wording: plain facts, nothing
// that reassures (docs/safety.md, "The monitoring statement").
const WHO_SEES: &str = "What you choose to share from this app goes to {clinic}, where the \
     people who look after your care can read it. What you do not share stays on this device.";
const WHO_SEES_NOBODY: &str = "This app is not connected to a clinic: what you enter stays on this device and is not sent \
     to anyone.";
const REVIEW_WITHIN: &str = "{clinic} has said that it reviews flags (answers that may need a \
     clinician's attention, such as thoughts of self-harm) within {within}.";
const REVIEW_UNSET: &str = "{clinic} has not said how soon it reviews flags (answers that may \
     need a clinician's attention, such as thoughts of self-harm).";
const REVIEW_NOT_SHARED: &str = "You do not share flags (answers that may need a clinician's \
     attention, such as thoughts of self-harm) with {clinic}, so no one there sees them.";
const REVIEW_NOBODY: &str = "No clinic receives flags from this app.";
const NOT_MONITORED: &str = "This app is not monitored around the clock: what you enter may not \
     be seen for hours or days. Do not rely on it to get help in a crisis.";
const IN_CRISIS: &str = "If you are in danger or thinking about ending your life, call {emergency} \
     now or go to the nearest emergency department.";
const IN_CRISIS_FALLBACK: &str = "If you are in danger or thinking about ending your life, call \
     the local emergency number now or go to the nearest emergency department.";
const CRISIS_LINE: &str = "You can also contact {name}: {how}; open {hours}.";
const YOUR_CLINIC: &str = "your clinic";

/// Longest clinic name or review time accepted, in characters.
pub const MAX_MONITORING_FIELD_CHARS: usize = 100;

/// The monitoring statement shown to the patient, in four parts (an app
/// may lay them out apart); [`MonitoringStatement::to_text`] joins them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitoringStatement {
    /// Who sees what the patient shares.
    pub who_sees: String,
    /// How soon the clinic reviews flags, or that it has not said.
    pub review: String,
    /// That the app is not monitored around the clock.
    pub not_monitored: String,
    /// What to do in a crisis: the emergency number and the main crisis
    /// line for the patient's country.
    pub in_crisis: String,
}

impl MonitoringStatement {
    /// The four parts as paragraphs, separated by blank lines.
    pub fn to_text(&self) -> String {
        [
            &self.who_sees,
            &self.review,
            &self.not_monitored,
            &self.in_crisis,
        ]
        .map(String::as_str)
        .join("\n\n")
    }
}

fn field(name: &'static str, v: Option<&str>) -> Result<Option<String>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_MONITORING_FIELD_CHARS || v.chars().any(char::is_control) {
        return Err(Error::invalid(
            name,
            format!(
                "longer than {MAX_MONITORING_FIELD_CHARS} characters or holds a control character"
            ),
        ));
    }
    Ok(Some(v.to_owned()))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// Fills `{key}` placeholders in one pass, so that a value holding braces
/// (a clinic's name) is never read as a placeholder.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('}').expect("placeholders are closed");
        let key = &after[..end];
        let value = values.iter().find(|(k, _)| *k == key);
        out.push_str(value.expect("every placeholder has a value").1);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What the monitoring statement is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitoringFacts {
    /// Whether the journal is enrolled with a clinic (enrolling, or
    /// syncing). If not, the statement says nothing is sent, and `clinic`,
    /// `flags_shared` and `review_within` are not used.
    pub enrolled: bool,
    /// Whether the patient shares flags with the clinic.
    pub flags_shared: bool,
    /// The clinic's name; `None`: "your clinic".
    pub clinic: Option<String>,
    /// How soon the clinic reviews flags, as the clinic worded it ("2
    /// working days"; a leading "within" is dropped); `None`: the statement
    /// says the clinic has not said.
    pub review_within: Option<String>,
    /// The patient's country, ISO 3166-1 alpha-2, for the crisis part
    /// ([`crisis_resources`]); `None`: the international fallback.
    pub country: Option<String>,
}

/// The monitoring statement for a patient, from the sentences reviewed
/// above. `InvalidInput` for a bad country code, or a clinic name or review
/// time longer than [`MAX_MONITORING_FIELD_CHARS`] or holding control
/// characters.
pub fn monitoring_statement(facts: &MonitoringFacts) -> Result<MonitoringStatement> {
    let clinic = field("clinic", facts.clinic.as_deref())?;
    let within = field("review time", facts.review_within.as_deref())?.map(|w| match w.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("within ") => w[7..].trim_start().to_owned(),
        _ => w,
    });
    let resources = crisis_resources(facts.country.as_deref())?;
    let name = clinic.as_deref().unwrap_or(YOUR_CLINIC);
    let title = capitalised(name);
    let (who_sees, review) = if !facts.enrolled {
        (WHO_SEES_NOBODY.to_owned(), REVIEW_NOBODY.to_owned())
    } else {
        let review = match (&within, facts.flags_shared) {
            (_, false) => fill(REVIEW_NOT_SHARED, &[("clinic", name)]),
            (Some(w), true) => fill(REVIEW_WITHIN, &[("clinic", &title), ("within", w)]),
            (None, true) => fill(REVIEW_UNSET, &[("clinic", &title)]),
        };
        (fill(WHO_SEES, &[("clinic", name)]), review)
    };
    let mut in_crisis = if resources.is_fallback() {
        format!("{IN_CRISIS_FALLBACK} {FALLBACK_112}")
    } else {
        fill(IN_CRISIS, &[("emergency", resources.emergency)])
    };
    if let Some(l) = resources.lines.first() {
        in_crisis.push(' ');
        in_crisis.push_str(&fill(
            CRISIS_LINE,
            &[("name", l.name), ("how", l.how), ("hours", l.hours)],
        ));
    }
    Ok(MonitoringStatement {
        who_sees,
        review,
        not_monitored: NOT_MONITORED.to_owned(),
        in_crisis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_has_an_emergency_number_and_sources() {
        assert!(CRISIS_TABLE.len() >= 10);
        for r in CRISIS_TABLE {
            assert_eq!(country_code(r.country).unwrap(), r.country);
            assert!(!r.name.is_empty());
            assert!(
                !r.emergency.is_empty() && r.emergency.bytes().all(|b| b.is_ascii_digit()),
                "{}",
                r.country
            );
            assert!(r.emergency_source.starts_with("https://"), "{}", r.country);
            for l in r.lines {
                assert!(l.source.starts_with("https://"), "{}", l.name);
                assert!(!l.name.is_empty() && !l.how.is_empty() && !l.hours.is_empty());
                assert!(l.number.bytes().all(|b| b.is_ascii_digit()) && !l.number.is_empty());
                let digits: String = l.how.chars().filter(char::is_ascii_digit).collect();
                assert!(digits.contains(l.number), "{}: {}", l.name, l.how);
            }
            assert_eq!(r.sources()[0], r.emergency_source);
        }
        // Sorted and unique, so a reviewer finds each country in one place.
        assert!(CRISIS_TABLE.windows(2).all(|w| w[0].country < w[1].country));
        assert!(ISO_3166.len() == 249 * 2);
        assert!(ISO_3166.as_bytes().chunks(2).is_sorted());
        assert_eq!(CRISIS_REVIEWED.len(), 10);
    }

    #[test]
    fn the_lines_named_in_the_domain_guide_are_there() {
        let has = |c: &str, number: &str, how: &str| {
            let r = crisis_resources(Some(c)).unwrap();
            assert!(
                r.lines
                    .iter()
                    .any(|l| l.number == number && l.how.contains(how)),
                "{c} {number}"
            );
        };
        has("US", "988", "call or text 988");
        has("US", "741741", "text HOME to 741741");
        has("GB", "116123", "116 123");
        has("IE", "116123", "116 123");
        has("AU", "131114", "13 11 14");
        has("CA", "988", "call or text 988");
        let emergency = |c: &str| crisis_resources(Some(c)).unwrap().emergency;
        assert_eq!(emergency("US"), "911");
        assert_eq!(emergency("GB"), "999");
        assert_eq!(emergency("AU"), "000");
        assert_eq!(emergency("FR"), "112");
    }

    #[test]
    fn lookups_ignore_case_and_spaces() {
        for c in ["gb", "Gb", " GB ", "uk", "UK"] {
            assert_eq!(crisis_resources(Some(c)).unwrap().country, "GB", "{c}");
        }
    }

    #[test]
    fn an_unknown_country_gets_the_fallback_with_emergency_advice() {
        for c in [None, Some("JP"), Some("br"), Some("AQ")] {
            let r = crisis_resources(c).unwrap();
            assert!(r.is_fallback());
            assert!(r.emergency.is_empty() && r.lines.is_empty());
            let advice = r.emergency_advice();
            assert!(advice.contains("local emergency number"), "{advice}");
            assert!(advice.contains("112"), "{advice}");
        }
        assert_eq!(
            crisis_resources(Some("US")).unwrap().emergency_advice(),
            "In an emergency, call 911."
        );
    }

    #[test]
    fn bad_country_codes_are_refused() {
        for c in ["", "U", "USA", "U1", "12", "ÜS", "XX", "ZZ", "EU", "us-"] {
            match crisis_resources(Some(c)) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "country", "{c}"),
                other => panic!("{c:?}: {other:?}"),
            }
        }
    }

    fn facts(clinic: Option<&str>, within: Option<&str>, country: Option<&str>) -> MonitoringFacts {
        MonitoringFacts {
            enrolled: true,
            flags_shared: true,
            clinic: clinic.map(Into::into),
            review_within: within.map(Into::into),
            country: country.map(Into::into),
        }
    }

    #[test]
    fn the_statement_names_the_clinic_and_its_review_time() {
        let f = facts(
            Some("Lakeside Clinic"),
            Some("Within 2 working days"),
            Some("gb"),
        );
        let s = monitoring_statement(&f).unwrap();
        assert!(
            s.who_sees.contains("goes to Lakeside Clinic,"),
            "{}",
            s.who_sees
        );
        assert_eq!(
            s.review,
            "Lakeside Clinic has said that it reviews flags (answers that may need a \
             clinician's attention, such as thoughts of self-harm) within 2 working days."
        );
        assert!(s.not_monitored.contains("not monitored around the clock"));
        assert!(s.in_crisis.contains("call 999 now"), "{}", s.in_crisis);
        assert!(
            s.in_crisis
                .contains("Samaritans: call 116 123 (free); open 24/7.")
        );
        assert_eq!(s.to_text().split("\n\n").count(), 4);
        // Braces in a name are text, not placeholders.
        let odd = monitoring_statement(&facts(Some("{within}"), Some("{clinic}"), None)).unwrap();
        assert!(
            odd.review.starts_with("{within} has said"),
            "{}",
            odd.review
        );
        assert!(odd.review.ends_with("within {clinic}."), "{}", odd.review);
    }

    #[test]
    fn an_unset_review_time_or_name_is_said_plainly() {
        let s = monitoring_statement(&facts(None, Some("  "), Some("US"))).unwrap();
        assert!(s.who_sees.contains("goes to your clinic,"));
        assert!(
            s.review.starts_with("Your clinic has not said how soon"),
            "{}",
            s.review
        );
        assert!(s.in_crisis.contains("call 911 now"));
        assert!(
            s.in_crisis
                .contains("988 Suicide & Crisis Lifeline: call or text 988")
        );
    }

    #[test]
    fn flags_not_shared_are_not_seen_whatever_the_review_time() {
        let mut f = facts(Some("Lakeside Clinic"), Some("1 day"), Some("US"));
        f.flags_shared = false;
        let s = monitoring_statement(&f).unwrap();
        assert!(
            s.review.starts_with("You do not share flags"),
            "{}",
            s.review
        );
        assert!(
            s.review
                .contains("with Lakeside Clinic, so no one there sees them")
        );
        assert!(!s.review.contains("1 day"));
    }

    #[test]
    fn without_a_clinic_or_a_country_it_still_says_what_to_do() {
        let mut f = facts(Some("Ignored"), Some("1 day"), None);
        f.enrolled = false;
        let s = monitoring_statement(&f).unwrap();
        assert!(s.who_sees.contains("not connected to a clinic"));
        assert_eq!(s.review, REVIEW_NOBODY);
        assert!(!s.to_text().contains("Ignored"));
        assert!(s.in_crisis.contains("local emergency number"));
        assert!(s.in_crisis.contains("112"));
        // A country without a confirmed line: the emergency number alone.
        let it = monitoring_statement(&facts(None, None, Some("IT"))).unwrap();
        assert!(it.in_crisis.contains("call 112 now"));
        assert!(!it.in_crisis.contains("You can also"));
    }

    #[test]
    fn nothing_in_the_statement_reassures() {
        let all = [
            WHO_SEES,
            WHO_SEES_NOBODY,
            REVIEW_WITHIN,
            REVIEW_UNSET,
            REVIEW_NOT_SHARED,
            REVIEW_NOBODY,
            NOT_MONITORED,
            IN_CRISIS,
            IN_CRISIS_FALLBACK,
            CRISIS_LINE,
            FALLBACK_112,
        ]
        .join(" ")
        .to_lowercase();
        for word in [
            "don't worry",
            "do not worry",
            "you are safe",
            "you're safe",
            "safe with us",
            "always here",
            "we are here",
            "someone will",
            "right away",
            "immediately",
        ] {
            assert!(!all.contains(word), "{word}");
        }
        assert!(all.contains("not monitored around the clock"));
    }

    #[test]
    fn bad_statement_fields_are_refused() {
        let long = "x".repeat(MAX_MONITORING_FIELD_CHARS + 1);
        assert!(matches!(
            monitoring_statement(&facts(Some(&long), None, None)),
            Err(Error::InvalidInput {
                field: "clinic",
                ..
            })
        ));
        assert!(matches!(
            monitoring_statement(&facts(None, Some("2\ndays"), None)),
            Err(Error::InvalidInput {
                field: "review time",
                ..
            })
        ));
        assert!(matches!(
            monitoring_statement(&facts(None, None, Some("USA"))),
            Err(Error::InvalidInput {
                field: "country",
                ..
            })
        ));
    }
}
