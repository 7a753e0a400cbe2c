//! A throwaway PostgreSQL cluster, for the API tests and Schemathesis on
//! PostgreSQL (`cargo xtask test`) and for a developer (`cargo xtask postgres`).
//!
//! Debian's own server binaries run a private cluster in a fresh folder under
//! `/tmp`: nothing of the system's clusters (if any) is used or changed.

use crate::cmd::{self, Result};
use crate::tools;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where Debian installs each major version's server binaries.
const DEBIAN_POSTGRESQL: &str = "/usr/lib/postgresql";

/// The bin folder of the highest PostgreSQL version Debian has installed
/// (`/usr/lib/postgresql/<version>/bin`), installing Debian's `postgresql`
/// package first if there is none.
///
/// Note that Debian's package also creates and (where services start) runs
/// its own `main` cluster on port 5432; nothing here uses it.
pub fn ensure_postgres() -> Result<PathBuf> {
    if let Some(bin) = find_postgres() {
        tools::skip("postgresql")?;
        return Ok(bin);
    }
    tools::apt_install(&["postgresql"])?;
    find_postgres().ok_or_else(|| {
        format!("the postgresql package is installed but {DEBIAN_POSTGRESQL}/*/bin has no initdb")
    })
}

fn find_postgres() -> Option<PathBuf> {
    std::fs::read_dir(DEBIAN_POSTGRESQL)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            // "15", or "9.6" before PostgreSQL 10.
            let version: Vec<u32> = path
                .file_name()?
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bin = path.join("bin");
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|p| bin.join(p).is_file())
                .then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// A PostgreSQL cluster that lives as long as this value: in a fresh folder,
/// trusting every connection, listening only on 127.0.0.1 on a free port.
///
/// Loopback only and a 0700 folder for the Unix socket, because `trust`
/// lets whoever connects in as the superuser: that must be no one but this
/// machine. (Other users of this machine could still connect over TCP while
/// it runs; it is for development and test machines.)
///
/// Dropping it stops the server and removes the folder, also when a step
/// fails or panics. When xtask dies without dropping it (Ctrl-C, a kill),
/// a small watchdog process does the same: see [`Cluster::watchdog`].
pub struct Cluster {
    bin: PathBuf,
    /// The folder of everything: `data/`, the Unix socket and `postgres.log`.
    dir: PathBuf,
    port: u16,
    /// Whether initdb and pg_ctl run as the `postgres` user (xtask is root).
    as_postgres: bool,
    watchdog: Option<Child>,
}

impl Cluster {
    /// Makes and starts a new cluster (about two seconds).
    pub fn start() -> Result<Cluster> {
        let bin = ensure_postgres()?;
        let mut cluster = Cluster {
            bin,
            dir: fresh_dir()?,
            port: free_port()?,
            as_postgres: tools::is_root(),
            watchdog: None,
        };
        // From here on, dropping `cluster` cleans up whatever was made.
        cluster.watchdog = Some(cluster.watchdog()?);
        if cluster.as_postgres {
            quiet(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&cluster.dir),
            )?;
        }
        let data = cluster.data();
        // --no-sync: the cluster is thrown away, so initdb need not wait for
        // the disk; the server itself keeps fsync on, as the server's
        // durability is under test. C locale: the same order everywhere,
        // whatever the machine's locale.
        quiet(
            cluster
                .pg("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync"])
                .args(["-E", "UTF8", "--locale", "C", "-D"])
                .arg(&data),
        )?;
        let conf = data.join("postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| {
                writeln!(
                    f,
                    "\n# cargo xtask: loopback only, the socket in the cluster's own folder\n\
                     listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'",
                    cluster.port,
                    cluster.dir.display()
                )
            })
            .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let log = cluster.dir.join("postgres.log");
        quiet(
            cluster
                .pg("pg_ctl")
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(&log),
        )
        .map_err(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{e}\nPostgreSQL's log:\n{log}")
        })?;
        eprintln!(
            "✓ PostgreSQL started at {} (in {})",
            cluster.url(),
            cluster.dir.display()
        );
        Ok(cluster)
    }

    /// The superuser's URL for the `postgres` database, as
    /// `HAVEN_TEST_POSTGRES` takes it.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// The URL of one database of the cluster, as the server's `--database`
    /// takes it.
    pub fn database_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database (a client over TCP: no need to be `postgres`).
    pub fn create_database(&self, name: &str) -> Result {
        quiet(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", name]),
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server program of the cluster. PostgreSQL refuses to run as root,
    /// so when xtask is root it runs as the `postgres` user (which Debian's
    /// package creates) through `runuser`, which needs no password or sudo.
    fn pg(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        // The postgres user may not enter the workspace.
        cmd.current_dir(&self.dir);
        cmd
    }

    /// A shell that waits for its standard input to close, then stops the
    /// cluster and removes its folder if they are still there. xtask holds
    /// the other end of the pipe, and the kernel closes it however xtask
    /// ends, so even Ctrl-C or `kill -9` leave no server running (pg_ctl
    /// starts the server in its own session, so the signal does not reach
    /// it). In its own process group, so Ctrl-C in the terminal does not
    /// reach it either. When [`Drop`] runs, it has already cleaned up and
    /// the shell finds nothing to do.
    fn watchdog(&self) -> Result<Child> {
        const SCRIPT: &str = r#"trap '' INT HUP
cat >/dev/null
[ -d "$0" ] || exit 0
"$@" >/dev/null 2>&1
rm -rf "$0"
echo "✓ PostgreSQL stopped and $0 removed, after xtask ended" >&2"#;
        let stop = self.stop_command();
        Command::new("sh")
            .args(["-c", SCRIPT])
            .arg(&self.dir)
            .arg(stop.get_program())
            .args(stop.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .current_dir("/")
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the PostgreSQL watchdog (sh): {e}"))
    }

    /// `pg_ctl stop -m fast`: ends the sessions and stops at once.
    fn stop_command(&self) -> Command {
        let mut cmd = self.pg("pg_ctl");
        cmd.args(["stop", "-m", "fast", "-D"]).arg(self.data());
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The pid file is there while a server runs, also one whose start
        // timed out.
        let running = self.data().join("postmaster.pid").exists();
        if running {
            if let Err(e) = quiet(&mut self.stop_command()) {
                eprintln!("✗ cannot stop PostgreSQL: {e}");
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => eprintln!(
                "✓ PostgreSQL on port {}{} and {} removed",
                self.port,
                if running { " stopped" } else { " not started" },
                self.dir.display()
            ),
            Err(e) => eprintln!("✗ cannot remove {}: {e}", self.dir.display()),
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

/// A new, empty folder only this user can enter, `/tmp/haven-postgres-PID-N`.
/// In `/tmp` rather than the workspace: the `postgres` user must be able to
/// reach it, and a Unix socket's path must be short (about 100 bytes).
fn fresh_dir() -> Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new("/tmp").join(format!("haven-postgres-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            // Left by an earlier process with the same id.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
}

/// A port that was free a moment ago: bound on 127.0.0.1 by the system's
/// choice, then let go for PostgreSQL to take.
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

/// Runs a command with its output captured, shown only if it fails.
fn quiet(cmd: &mut Command) -> Result {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start `{}`: {e}", cmd::describe(cmd)))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{}` failed with {}:\n{}{}",
        cmd::describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// `cargo xtask postgres`: a throwaway cluster until Ctrl-C or the end of
/// standard input (Ctrl-D), with a `haven` database for `cargo xtask run`.
pub fn run() -> Result {
    let cluster = Cluster::start()?;
    cluster.create_database("haven")?;
    // The admin URL on stdout alone, for scripts.
    println!("{}", cluster.url());
    eprintln!(
        "\nThe API tests on it:\n  HAVEN_TEST_POSTGRES={} cargo test -p haven_server --test api\n\
         The server on its `haven` database:\n  cargo xtask run -- --database {}\n\
         \nCtrl-D or Ctrl-C stops it and removes its data.",
        cluster.url(),
        cluster.database_url("haven")
    );
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(())
}
