//! `cairn crisis` and `cairn monitoring`: the core's offline crisis table
//! and monitoring statement, printed. Neither needs the network.

use cairn_core::sync::device::{Category, Enrollment};
use cairn_core::{
    CRISIS_REVIEWED, CrisisResources, Error, MonitoringFacts, Store, crisis_resources,
    monitoring_statement,
};
use serde_json::json;

use crate::Failure;

/// The country to use: `--country` or CAIRN_COUNTRY (both checked: a bad
/// code is an error), else the region of the locale (LC_ALL, then LANG:
/// `en_GB.UTF-8` gives GB; ignored when it names no valid country), else
/// none (the international fallback).
pub fn country(flag: Option<&str>) -> Result<Option<String>, Failure> {
    if let Some(c) = flag.filter(|c| !c.trim().is_empty()) {
        return Ok(Some(cairn_core::country_code(c)?));
    }
    for var in ["LC_ALL", "LANG"] {
        let Ok(locale) = std::env::var(var) else {
            continue;
        };
        if locale.is_empty() {
            continue;
        }
        let region = locale
            .split(['.', '@'])
            .next()
            .and_then(|l| l.split_once('_'))
            .map(|(_, r)| r);
        return Ok(region.and_then(|r| cairn_core::country_code(r).ok()));
    }
    Ok(None)
}

/// `cairn crisis`.
pub fn crisis(flag: Option<&str>, json: bool) -> Result<(), Failure> {
    let r = crisis_resources(country(flag)?.as_deref())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&crisis_json(r)).expect("JSON values serialise")
        );
        return Ok(());
    }
    println!("{}", r.emergency_advice());
    if r.is_fallback() {
        println!(
            "(no crisis lines for your country in this table; give --country or set CAIRN_COUNTRY)"
        );
    } else {
        println!("Crisis lines in {} ({}):", r.name, r.country);
        if r.lines.is_empty() {
            println!("  none confirmed in this table yet");
        }
        for l in r.lines {
            println!("  {}: {}; open {}", l.name, l.how, l.hours);
        }
    }
    println!("Sources (reviewed {CRISIS_REVIEWED}):");
    for s in r.sources() {
        println!("  {s}");
    }
    Ok(())
}

fn crisis_json(r: &CrisisResources) -> serde_json::Value {
    let blank = |s: &'static str| (!s.is_empty()).then_some(s);
    json!({
        "country": blank(r.country),
        "name": r.name,
        "fallback": r.is_fallback(),
        "emergency": blank(r.emergency),
        "emergency_advice": r.emergency_advice(),
        "lines": r.lines,
        "sources": r.sources(),
        "reviewed": CRISIS_REVIEWED,
    })
}

/// `cairn monitoring`. `store` is `None` when there is no store (then
/// nothing is sent anywhere).
pub fn monitoring(
    store: Option<&Store>,
    country_flag: Option<&str>,
    clinic: Option<&str>,
    review_within: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let status = match store.map(Store::sync_status) {
        None | Some(Err(Error::NotEnrolled)) => None,
        Some(Ok(st)) => Some(st),
        Some(Err(e)) => return Err(e.into()),
    };
    let status =
        status.filter(|st| matches!(st.enrollment, Enrollment::Active | Enrollment::Pending));
    // What the clinic told this device through sync (its name, how soon it
    // reviews flags), unless given here; without a name, the server's host
    // says where shared data goes.
    let told = match (store, &status) {
        (Some(st), Some(_)) => st.clinic_settings()?,
        _ => cairn_core::ClinicSettings::default(),
    };
    let review_within = review_within.map(str::to_owned).or(told.review_within);
    let clinic = clinic.map(str::to_owned).or(told.clinic_name).or_else(|| {
        status
            .as_ref()
            .map(|st| format!("your clinic at {}", host(&st.server_url)))
    });
    let facts = MonitoringFacts {
        enrolled: status.is_some(),
        flags_shared: status
            .as_ref()
            .is_some_and(|st| st.sharing.contains(&Category::Flags)),
        clinic,
        review_within,
        country: country(country_flag)?,
    };
    let s = monitoring_statement(&facts)?;
    if json {
        let v = json!({
            "enrolled": facts.enrolled,
            "flags_shared": facts.flags_shared,
            "clinic": facts.clinic,
            "review_within": facts.review_within,
            "country": facts.country,
            "who_sees": s.who_sees,
            "review": s.review,
            "not_monitored": s.not_monitored,
            "in_crisis": s.in_crisis,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("JSON values serialise")
        );
    } else {
        println!("{}", s.to_text());
    }
    Ok(())
}

/// The host of a server URL (`https://clinic.example:8443/base` gives
/// `clinic.example`).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', ':', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clinic_is_named_by_its_servers_host() {
        assert_eq!(super::host("https://clinic.example"), "clinic.example");
        assert_eq!(
            super::host("https://clinic.example:8443/base"),
            "clinic.example"
        );
        assert_eq!(super::host("http://10.0.0.2/x?y"), "10.0.0.2");
    }
}
