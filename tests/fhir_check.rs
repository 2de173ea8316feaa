//! Runs tests/fhir_validate.py (the `fhir.resources` parser and the
//! Bundle's own checks) on an exported file; shared by tests/fhir.rs and
//! clinic/tests/fhir.rs. Missing Python or a missing package fails the test:
//! scripts/setup.sh installs them (docs/fhir.md).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (every package is one folder below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package's folder has a parent")
        .to_owned()
}

/// `CAIRN_FHIR_PYTHON`, else the environment scripts/setup.sh makes
/// (build/fhir-venv), else `python3`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_FHIR_PYTHON") {
        return p.into();
    }
    let venv = root().join("build/fhir-venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// The validator's output: `Ok(stdout)` when it accepts the Bundle,
/// `Err(stderr)` when it rejects it. Panics when it cannot run at all.
pub fn validate(file: &Path, extra: &[&str]) -> Result<String, String> {
    let py = python();
    let out = Command::new(&py)
        .arg(root().join("tests/fhir_validate.py"))
        .arg(file)
        .args(extra)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} for the FHIR validator ({e}): run `bash scripts/setup.sh` \
                 (it installs fhir.resources into build/fhir-venv) or set CAIRN_FHIR_PYTHON",
                py.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(stdout),
        Some(1) => Err(stderr),
        _ => panic!(
            "the FHIR validator could not run with {}: {stderr}\nrun `bash scripts/setup.sh` \
             (it installs the pinned fhir.resources into build/fhir-venv) or set \
             CAIRN_FHIR_PYTHON to a Python that has it",
            py.display()
        ),
    }
}

/// Validates, and fails the test with the validator's reasons if rejected.
pub fn assert_valid(file: &Path, extra: &[&str]) -> String {
    validate(file, extra)
        .unwrap_or_else(|e| panic!("the FHIR validator rejects {}:\n{e}", file.display()))
}

/// The validator rejects a damaged copy of `file` (so its acceptance means
/// something): a total as a string, and a reference to nowhere.
pub fn assert_damage_is_caught(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let damaged = file.with_extension("damaged.json");
    type Damage = fn(&str) -> String;
    let cases: [(&str, Damage, &str); 3] = [
        (
            "a total as a string",
            |t| {
                let i = t.find("\"valueInteger\": ").expect("a valueInteger") + 16;
                let end = i + t[i..].find(|c: char| !c.is_ascii_digit()).unwrap();
                format!("{}\"{}\"{}", &t[..i], &t[i..end], &t[end..])
            },
            "valueInteger",
        ),
        (
            "a reference to nowhere",
            |t| {
                t.replacen(
                    "\"reference\": \"urn:uuid:",
                    "\"reference\": \"urn:uuid:0",
                    1,
                )
            },
            "not in the Bundle",
        ),
        (
            "an element FHIR does not have",
            |t| {
                t.replacen(
                    "\"status\": \"final\"",
                    "\"status\": \"final\", \"mood\": 3",
                    1,
                )
            },
            "fhir.resources rejects",
        ),
    ];
    for (what, damage, reason) in cases {
        std::fs::write(&damaged, damage(&text)).unwrap();
        match validate(&damaged, &[]) {
            Ok(out) => panic!("the validator accepts {what}: {out}"),
            Err(e) => assert!(e.contains(reason), "{what}: {e}"),
        }
    }
    std::fs::remove_file(damaged).unwrap();
}

/// Every resource in a Bundle, parsed.
pub fn resources(bundle: &serde_json::Value) -> Vec<&serde_json::Value> {
    bundle["entry"]
        .as_array()
        .map(|a| a.iter().map(|e| &e["resource"]).collect())
        .unwrap_or_default()
}

/// The resources whose `code` has `code`.
pub fn with_code<'a>(bundle: &'a serde_json::Value, code: &str) -> Vec<&'a serde_json::Value> {
    resources(bundle)
        .into_iter()
        .filter(|r| {
            r["code"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["code"] == code))
        })
        .collect()
}
