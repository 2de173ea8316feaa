//! The demo's clinic: a real `cairn-clinic` server (SQLite, in a folder
//! beside the demo store) on a loopback port, in this process. The demo
//! phone enrolls, syncs over HTTP, the clinic acknowledges a flag, and the
//! phone sees the acknowledgement after its next sync.

use std::path::Path;
use std::sync::Arc;

use cairn_clinic::{Server, admin, records};
use cairn_core::Store;

use crate::Failure;

const PATIENT: &str = "Demo patient";

fn clinic_err(e: cairn_clinic::Error) -> Failure {
    Failure::other(format!("the demo clinic: {e}"))
}

pub fn round(store: &Store, dir: &Path) -> Result<(), Failure> {
    let now = cairn_clinic::now_ms();
    let storage = cairn_clinic::open_sqlite(&dir.join("clinic"), None, now).map_err(clinic_err)?;
    let server = Arc::new(Server::new(Box::new(storage)));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = server.clone();
    let thread = std::thread::spawn(move || -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let _ = addr_tx.send(listener.local_addr()?);
            cairn_clinic::http::serve(listener, serving, async {
                let _ = stop_rx.await;
            })
            .await
        })
    });
    let addr = addr_rx
        .recv()
        .map_err(|_| Failure::other("the demo clinic did not start"))?;
    let url = format!("http://{addr}");
    println!(
        "\nClinic: a cairn-clinic server on {url} (SQLite in {})",
        dir.join("clinic").display()
    );

    let code = admin::enrollment_code(&server, PATIENT, 14, &url, now).map_err(clinic_err)?;
    let req = store.sync_enroll(&code, crate::sync::DEFAULT_SHARING)?;
    let outcome = crate::sync::run_sync(store, Some(req), None)?;
    println!("  enrolled  as \"{PATIENT}\" with the default sharing (no notes or journal text)");
    println!("  synced    {}", crate::sync::summary(&outcome));
    let held = admin::entries(server.storage(), PATIENT).map_err(clinic_err)?;
    let flags = records::flags_json(server.storage()).map_err(clinic_err)?;
    println!(
        "  clinic    holds {} entries (journal text stays on the phone) and {} open flag(s) \
         for review",
        held.len(),
        flags.iter().filter(|f| f["state"] == "open").count()
    );
    if let Some(f) = flags.iter().find(|f| f["state"] == "open") {
        let id = records::parse_id(f["id"].as_str().unwrap_or_default()).map_err(clinic_err)?;
        records::ack_flag(
            &server,
            PATIENT,
            &id,
            Some("Dr Demo"),
            cairn_clinic::now_ms(),
        )
        .map_err(clinic_err)?;
        println!(
            "  reviewed  \"{}\" acknowledged at the clinic by Dr Demo",
            f["title"].as_str().unwrap_or_default()
        );
        crate::sync::run_sync(store, None, None)?;
        let on_phone = store
            .flags()?
            .into_iter()
            .find(|p| Some(p.id.as_str()) == f["id"].as_str());
        println!(
            "  phone     after the next sync the flag shows: {}",
            on_phone.map_or("(missing)", |p| p.state())
        );
    }
    let _ = stop_tx.send(());
    match thread.join() {
        Ok(Ok(())) => Ok(()),
        _ => Err(Failure::other("the demo clinic did not stop cleanly")),
    }
}
