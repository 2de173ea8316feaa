//! A private PostgreSQL cluster for the tests: `initdb` in a temporary
//! folder, the server on a free loopback port (and a socket in the same
//! folder), one database per test. One cluster per test binary, started on
//! first use.
//!
//! It needs the PostgreSQL 15 server binaries in [`BIN`] (Debian:
//! `apt-get install -y postgresql-15`); the tests install nothing and fail,
//! naming the package, when they are missing. `initdb` and `pg_ctl` refuse
//! to run as root: as root they run as the `postgres` user (`runuser`),
//! with the folder given to it.
//!
//! The shared cluster lives in a `static`, which Rust never drops; a small
//! guardian process (`sh`) holds the read end of a pipe whose write end
//! only this test process has, and stops the cluster (`pg_ctl stop -m
//! immediate`) and removes the folder when the pipe closes: when the test
//! binary exits, however it exits. A [`Cluster`] that is dropped does the
//! same at once.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Where Debian's PostgreSQL 15 puts its server binaries.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The Debian package that has them.
pub const PACKAGE: &str = "postgresql-15";
/// The cluster's superuser.
pub const USER: &str = "cairn";

/// Waits for the pipe to close, then stops the cluster and removes its
/// folder. $1 data directory, $2 folder, $3 "runuser" or "", $4 bin dir.
const GUARDIAN: &str = r#"trap '' INT TERM HUP
read _ignored
if [ -n "$3" ]; then
  runuser -u postgres -- "$4/pg_ctl" -D "$1" stop -m immediate >/dev/null 2>&1
else
  "$4/pg_ctl" -D "$1" stop -m immediate >/dev/null 2>&1
fi
rm -rf "$2""#;

/// A running cluster.
pub struct Cluster {
    root: PathBuf,
    /// Its loopback port.
    pub port: u16,
    guardian: Mutex<Option<(Child, ChildStdin)>>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The test binary's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(Cluster::start)
}

/// A PostgreSQL program.
pub fn bin(name: &str) -> PathBuf {
    Path::new(BIN).join(name)
}

fn check(what: &str, out: std::io::Result<Output>) {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Creates and starts a cluster in a new temporary folder.
    pub fn start() -> Cluster {
        for tool in ["initdb", "pg_ctl", "postgres", "pg_dump"] {
            assert!(
                bin(tool).exists(),
                "{} is missing: the PostgreSQL tests need the PostgreSQL 15 server binaries \
                 in {BIN} (Debian package {PACKAGE}: apt-get install -y {PACKAGE})",
                bin(tool).display()
            );
        }
        let root = tempfile::Builder::new()
            .prefix("cairn-pg-")
            .tempdir()
            .unwrap()
            .keep();
        // The folder is ours: owned by root when the tests run as root.
        let as_postgres = std::fs::metadata(&root).unwrap().uid() == 0;
        if as_postgres {
            check(
                "chown postgres",
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&root)
                    .output(),
            );
        }
        let data = root.join("data");
        let tool = |name: &str| {
            let mut c = if as_postgres {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin(name));
                c
            } else {
                Command::new(bin(name))
            };
            c.current_dir(&root).stdin(Stdio::null());
            c
        };
        // From here on the guardian removes the folder, whatever happens.
        let mut guardian = Command::new("sh")
            .arg("-c")
            .arg(GUARDIAN)
            .arg("sh")
            .arg(&data)
            .arg(&root)
            .arg(if as_postgres { "runuser" } else { "" })
            .arg(BIN)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let pipe = guardian.stdin.take().unwrap();
        let mut cluster = Cluster {
            root: root.clone(),
            port: 0,
            guardian: Mutex::new(Some((guardian, pipe))),
        };
        check(
            "initdb",
            tool("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C", "-N"])
                .output(),
        );
        // A port found free may be taken before the server binds it: try
        // another.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port();
            let out = tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(format!(
                    "-k {} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off \
                     -c full_page_writes=off -c max_connections=200",
                    root.display()
                ))
                .arg("-l")
                .arg(root.join("log"))
                .args(["start", "-w", "-t", "60"])
                .output()
                .expect("pg_ctl runs");
            if out.status.success() {
                cluster.port = port;
                return cluster;
            }
            last = Some(out);
        }
        let log = std::fs::read_to_string(root.join("log")).unwrap_or_default();
        panic!("the test cluster did not start: {last:?}\n{log}");
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "cairn_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = self.client("postgres");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        self.url(&name)
    }

    /// A connection to database `name`.
    pub fn client(&self, name: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(name), postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"))
    }

    /// `pg_dump` of the database at `url` (plain SQL).
    pub fn dump(&self, url: &str) -> Vec<u8> {
        let out = Command::new(bin("pg_dump"))
            .args(["--no-password", "--dbname"])
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The folder the cluster lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let guardian = self
            .guardian
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((mut child, pipe)) = guardian {
            drop(pipe);
            let _ = child.wait();
        }
    }
}
