//! `cairn report`: the period's outcomes for the appointment, as one HTML
//! page and as JSON (docs/report.md).

use crate::Failure;
use crate::insights::day;
use cairn_core::Store;
use cairn_core::report::report_html;
use chrono::Days;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "The page is one file with no scripts and nothing fetched: open it in any browser, \
                  print it, or send it. It holds the patient's data: keep it as you would the store."
)]
pub struct ReportArgs {
    /// First local day (YYYY-MM-DD) [default: 8 weeks before --to]
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last local day, inclusive [default: today]
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Write the page to FILE (created with owner-only permissions)
    #[arg(long, value_name = "FILE", required_unless_present = "json")]
    out: Option<PathBuf>,
    /// Print the report's data as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub fn run(store: &Store, a: &ReportArgs) -> Result<(), Failure> {
    let to = match day(a.to.as_deref(), "--to")? {
        Some(d) => d,
        None => crate::reminders::today_in(&crate::default_zone())
            .or_else(|_| crate::reminders::today_in("UTC"))?,
    };
    let from = day(a.from.as_deref(), "--from")?
        .unwrap_or_else(|| to.checked_sub_days(Days::new(55)).unwrap_or(to));
    if from > to {
        return Err(Failure::usage("--from is after --to"));
    }
    let r = store.report(from, to)?;
    if let Some(out) = &a.out {
        crate::export::write_private(out, report_html(&r).as_bytes())?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).expect("the report serialises")
        );
    }
    if r.skipped_records > 0 {
        // After writing what could be read, as every listing does.
        return Err(Failure {
            message: format!(
                "{} record(s) could not be opened (altered or damaged) and are left out",
                r.skipped_records
            ),
            code: 4,
        });
    }
    Ok(())
}
