//! A throwaway PostgreSQL cluster on loopback, for the tests and the sandbox of the PostgreSQL
//! store: `initdb` in a temporary folder, `postgres` on a free loopback port with its socket in that
//! folder, stopped and removed when dropped. It needs Debian's `postgresql` package (or any
//! PostgreSQL whose `initdb` is on `PATH` or under `/usr/lib/postgresql/<version>/bin`).
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as `nobody`
//! (through `setpriv`), in a folder handed to that user. Nobody else can connect: it listens on
//! 127.0.0.1 only, with `trust` authentication for the one role it creates.
//!
//! Failure: a missing PostgreSQL, a failed `initdb` or a server that does not start is a
//! [`PgClusterError`] naming the command and what it printed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Why a throwaway cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum PgClusterError {
    /// No `initdb` was found.
    #[error(
        "PostgreSQL is not installed: no initdb on PATH or under /usr/lib/postgresql/*/bin \
         (Debian: apt-get install postgresql)"
    )]
    NotInstalled,
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A PostgreSQL command exited with an error.
    #[error("{command} failed ({status}): {output}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed (the last lines).
        output: String,
    },
}

/// The role the cluster's owner connects as.
pub const ROLE: &str = "zfsync";

/// A running throwaway cluster; stopped (immediately) and removed when dropped.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// The unprivileged user the server runs as, when this process is root.
    run_as: Option<&'static str>,
}

impl PgCluster {
    /// Creates and starts a cluster on a free loopback port (trying another port if one is taken
    /// between choosing it and the server binding it), with `fsync` off: for tests.
    pub fn start() -> Result<PgCluster, PgClusterError> {
        PgCluster::start_with(false)
    }

    /// [`PgCluster::start`] with `fsync` on when `durable`: for figures whose cost is the commit.
    pub fn start_with(durable: bool) -> Result<PgCluster, PgClusterError> {
        let bin = find_bin_dir().ok_or(PgClusterError::NotInstalled)?;
        let run_as = running_as_root().then_some("nobody");
        let dir = tempfile::Builder::new()
            .prefix("zfsync-pg-")
            .tempdir()
            .map_err(|e| io("cannot create the cluster's folder", e))?;
        if run_as.is_some() {
            hand_over(dir.path())?;
        }
        let data = dir.path().join("data");
        let cluster = PgCluster {
            dir,
            bin,
            port: 0,
            run_as,
        };
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                ROLE.as_ref(),
                "--auth=trust".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let mut cluster = cluster;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
                cluster.dir.path().display(),
                if durable { "on" } else { "off" }
            );
            let log = cluster.dir.path().join("server.log");
            match cluster.run(
                "pg_ctl",
                &[
                    "start".as_ref(),
                    "-w".as_ref(),
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-o".as_ref(),
                    options.as_ref(),
                ],
            ) {
                Ok(_) => {
                    cluster.port = port;
                    return Ok(cluster);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(PgClusterError::NotInstalled))
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the cluster's role.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database (e.g. one per test).
    pub fn create_database(&self, name: &str) -> Result<(), PgClusterError> {
        self.client("createdb", &[name.as_ref()]).map(|_| ())
    }

    /// Runs one SQL command through `psql` and returns what it printed (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, PgClusterError> {
        let out = self.client(
            "psql",
            &[
                "-X".as_ref(),
                "-q".as_ref(),
                "-A".as_ref(),
                "-t".as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-d".as_ref(),
                database.as_ref(),
                "-c".as_ref(),
                sql.as_ref(),
            ],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The whole database as `pg_dump` writes it (plain SQL: schema and rows), to tell whether
    /// anything in it changed.
    pub fn dump(&self, database: &str) -> Result<String, PgClusterError> {
        let out = self.client("pg_dump", &["--no-owner".as_ref(), database.as_ref()])?;
        // pg_dump 15.14 and later fence the dump with a random key (`\restrict KEY`), new at
        // every run: those lines say nothing of the database.
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Runs a client program (`createdb`, `psql`, `pg_dump`) against the server, as its role.
    fn client(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, PgClusterError> {
        let port = self.port.to_string();
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "-h".as_ref(),
            "127.0.0.1".as_ref(),
            "-p".as_ref(),
            port.as_ref(),
            "-U".as_ref(),
            ROLE.as_ref(),
        ];
        all.extend_from_slice(args);
        self.run(program, &all)
    }

    /// The folder holding the cluster (removed on drop).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Stops and removes the cluster when this process ends, even if it is never dropped (a
    /// cluster shared by a test binary through a `static` is not): a small watchdog process
    /// waits for this one to exit, then stops the server and removes its folder.
    pub fn stop_when_this_process_ends(&self) -> Result<(), PgClusterError> {
        let data = self.dir.path().join("data");
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = match self.run_as {
            Some(user) => format!(
                "setpriv --reuid={user} --regid=nogroup --clear-groups -- \"$2\" stop -D \"$3\" -m immediate -w"
            ),
            None => "\"$2\" stop -D \"$3\" -m immediate -w".to_string(),
        };
        let script = format!(
            "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf \"$4\""
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("zfsync-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&pg_ctl)
            .arg(&data)
            .arg(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| io("cannot start the cluster's watchdog", e))
    }

    /// Runs a PostgreSQL program of the cluster's installation, as the cluster's user.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, PgClusterError> {
        let exe = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={user}"),
                    "--regid=nogroup",
                    "--clear-groups",
                    "--",
                ])
                .arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env("LC_ALL", "C");
        let out = cmd
            .output()
            .map_err(|e| io(&format!("cannot run {}", exe.display()), e))?;
        if out.status.success() {
            return Ok(out);
        }
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().chain(log.lines()).rev().take(12).collect();
        Err(PgClusterError::Command {
            command: format!("{program} {}", display_args(args)),
            status: out.status.to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port == 0 {
            return;
        }
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
            ],
        );
    }
}

/// The folder of `initdb`: on `PATH`, else the newest `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("initdb"))
            .find(|f| f.is_file())
    });
    if let Some(initdb) = on_path {
        // Debian links initdb into PATH only sometimes; the real folder holds pg_ctl too.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Gives the cluster's folder to `nobody` (the server refuses a folder it does not own).
fn hand_over(dir: &Path) -> Result<(), PgClusterError> {
    let out = Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(dir)
        .output()
        .map_err(|e| io("cannot run chown", e))?;
    if !out.status.success() {
        return Err(PgClusterError::Command {
            command: format!("chown nobody:nogroup {}", dir.display()),
            status: out.status.to_string(),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

/// A loopback port free now (the server may still lose it to someone else: the caller retries).
fn free_port() -> Result<u16, PgClusterError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| io("cannot find a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| io("cannot find a free port", e))
}

fn io(what: &str, source: std::io::Error) -> PgClusterError {
    PgClusterError::Io {
        what: what.to_string(),
        source,
    }
}

fn display_args(args: &[&std::ffi::OsStr]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// This process's one throwaway cluster, started at the first call and stopped when the process
/// ends: every sandbox of a test binary gets its own database in it.
pub fn shared() -> Result<&'static PgCluster, String> {
    static CLUSTER: std::sync::OnceLock<Result<PgCluster, String>> = std::sync::OnceLock::new();
    started(&CLUSTER, false)
}

/// This process's one cluster with `fsync` on (benchmarks whose cost is the commit).
pub fn shared_durable() -> Result<&'static PgCluster, String> {
    static CLUSTER: std::sync::OnceLock<Result<PgCluster, String>> = std::sync::OnceLock::new();
    started(&CLUSTER, true)
}

fn started(
    cell: &'static std::sync::OnceLock<Result<PgCluster, String>>,
    durable: bool,
) -> Result<&'static PgCluster, String> {
    cell.get_or_init(|| {
        let cluster = PgCluster::start_with(durable).map_err(|e| e.to_string())?;
        cluster
            .stop_when_this_process_ends()
            .map_err(|e| e.to_string())?;
        Ok(cluster)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The URL of a new, empty database in this process's cluster ([`shared`]).
pub fn fresh_database() -> Result<String, String> {
    fresh_in(shared()?)
}

/// The URL of a new, empty database in this process's durable cluster ([`shared_durable`]).
pub fn fresh_durable_database() -> Result<String, String> {
    fresh_in(shared_durable()?)
}

fn fresh_in(cluster: &PgCluster) -> Result<String, String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "zfsync_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    cluster.create_database(&name).map_err(|e| e.to_string())?;
    Ok(cluster.url(&name))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A cluster starts, takes SQL in a database of its own, and is gone (server and folder)
    /// once dropped.
    #[test]
    fn a_cluster_starts_answers_and_is_removed() {
        if find_bin_dir().is_none() {
            let why = PgClusterError::NotInstalled.to_string();
            return crate::prerequisites::missing("postgres", &why).unwrap_or(());
        }
        let cluster = PgCluster::start().unwrap();
        cluster.create_database("t1").unwrap();
        let answer = cluster
            .psql(
                "t1",
                "CREATE TABLE x (v int); INSERT INTO x VALUES (41), (1); SELECT sum(v) FROM x",
            )
            .unwrap();
        assert_eq!(answer, "42");
        let (path, port) = (cluster.path().to_path_buf(), cluster.port());
        drop(cluster);
        assert!(!path.exists(), "the cluster's folder is removed");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server is stopped"
        );
    }
}
