//! A private PostgreSQL cluster (feature `testing`), for the clinic's tests
//! and the benchmarks: `initdb` in a temporary folder, the server on a free
//! loopback port (and a socket in the same folder), one database per test.
//! [`cluster`] starts one per process on first use; [`Cluster::start`]
//! starts one of its own. Never in a server build.
//!
//! It needs the PostgreSQL 15 server binaries in [`BIN`] (Debian:
//! `apt-get install -y postgresql-15`); nothing here installs them.
//! [`missing`] says which are absent; [`Cluster::start`] panics, naming the
//! package, when any is. `initdb` and `pg_ctl` refuse to run as root: as
//! root they run as the `postgres` user (`runuser`), with the folder given
//! to it.
//!
//! The shared cluster lives in a `static`, which Rust never drops; a small
//! guardian process (`sh`) holds the read end of a pipe whose write end
//! only this process has, and stops the cluster (`pg_ctl stop -m
//! immediate`) and removes the folder when the pipe closes: when the
//! process exits, however it exits. A [`Cluster`] that is dropped does the
//! same at once.
//!
//! The server runs with `fsync=off`, `synchronous_commit=off` and
//! `full_page_writes=off`: a scratch cluster, for correctness and relative
//! figures, never for durability.

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
const TOOLS: [&str; 4] = ["initdb", "pg_ctl", "postgres", "pg_dump"];

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
static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// This process's shared cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(Cluster::start)
}

/// A PostgreSQL program.
pub fn bin(name: &str) -> PathBuf {
    Path::new(BIN).join(name)
}

/// `None` when the server binaries are all there; otherwise a line naming
/// the first one missing and the package that has it.
pub fn missing() -> Option<String> {
    TOOLS.iter().map(|t| bin(t)).find(|p| !p.exists()).map(|p| {
        format!(
            "{} is missing: a private PostgreSQL cluster needs the PostgreSQL 15 server \
             binaries in {BIN} (Debian package {PACKAGE}: apt-get install -y {PACKAGE})",
            p.display()
        )
    })
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
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A new, empty folder under the system temp dir.
fn new_folder() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    loop {
        let root = std::env::temp_dir().join(format!(
            "cairn-pg-{}-{}-{nanos:08x}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        match std::fs::create_dir(&root) {
            Ok(()) => return root,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", root.display()),
        }
    }
}

impl Cluster {
    /// Creates and starts a cluster in a new temporary folder. Panics when
    /// the server binaries are missing ([`missing`]) or the cluster does
    /// not start.
    pub fn start() -> Cluster {
        if let Some(m) = missing() {
            panic!("{m}");
        }
        let root = new_folder();
        // The folder is ours: owned by root when we run as root.
        let as_postgres = std::fs::metadata(&root).expect("the new folder").uid() == 0;
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
        let pipe = guardian.stdin.take().expect("the guardian's stdin");
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
        panic!("the private PostgreSQL cluster did not start: {last:?}\n{log}");
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
            .unwrap_or_else(|e| panic!("CREATE DATABASE: {e}"));
        self.url(&name)
    }

    /// A connection to database `name`.
    pub fn client(&self, name: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(name), postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the private cluster: {e}"))
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
