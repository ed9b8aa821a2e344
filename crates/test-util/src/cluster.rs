//! A throwaway PostgreSQL cluster (initdb + pg_ctl from the installed binaries) that a test can
//! stop and start again, e.g. to prove the registry survives a database restart.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};

pub struct TempCluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
    /// `-c` settings added to every start (TLS, for one).
    extra: String,
}

/// Where `initdb`/`pg_ctl` live: `$BINDERY_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`,
/// else `$PATH`.
pub fn pg_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BINDERY_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_default()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl TempCluster {
    /// initdb into a fresh temp directory (not started).
    fn init() -> anyhow::Result<Self> {
        let cluster = Self::empty()?;
        cluster
            .run_pg("initdb", &["-A", "trust", "--no-sync", "-U", "postgres", "-D", &cluster.data()])
            .context("initdb of the throwaway cluster")?;
        Ok(cluster)
    }

    /// A fresh temp directory and a free port, no data directory yet.
    fn empty() -> anyhow::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bindery-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let as_postgres = is_root();
        if as_postgres {
            // Postgres refuses to run as root: hand the directory to the postgres user.
            run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(Self { dir, bin: pg_bin_dir(), port, as_postgres, extra: String::new() })
    }

    /// A streaming-replication standby of this (running) cluster: `pg_basebackup -R` of its data
    /// directory, started on its own port as a hot standby following this one.
    pub fn start_standby(&self) -> anyhow::Result<Self> {
        let standby = Self::empty()?;
        let port = self.port.to_string();
        standby
            .run_pg(
                "pg_basebackup",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-D",
                    &standby.data(),
                    "-R",
                    "-X",
                    "stream",
                    "-N",
                    // Checkpoint now rather than spread over minutes.
                    "--checkpoint=fast",
                ],
            )
            .context("pg_basebackup of the standby")?;
        standby.start_again()?;
        Ok(standby)
    }

    /// Promotes this standby to a primary (`pg_ctl promote`, waiting until it accepts writes).
    pub fn promote(&self) -> anyhow::Result<()> {
        self.run_pg("pg_ctl", &["-D", &self.data(), "-w", "-t", "60", "promote"])
    }

    /// Stops the server the way a crash does (`immediate`: no checkpoint, connections cut).
    pub fn crash(&self) -> anyhow::Result<()> {
        self.run_pg("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"])
    }

    /// initdb and start on a free port.
    pub fn start() -> anyhow::Result<Self> {
        let cluster = Self::init()?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// A cluster that accepts TCP connections only over TLS, serving `cert`/`key` (PEM).
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<Self> {
        let mut cluster = Self::init()?;
        let data = PathBuf::from(cluster.data());
        std::fs::copy(cert, data.join("server.crt"))?;
        std::fs::copy(key, data.join("server.key"))?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )?;
        if cluster.as_postgres {
            run(Command::new("chown").arg("-R").arg("postgres:postgres").arg(&data))?;
        }
        run(Command::new("chmod").arg("600").arg(data.join("server.key")))?;
        cluster.extra = "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key".into();
        cluster.start_again()?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let exe = if self.bin.as_os_str().is_empty() { PathBuf::from(tool) } else { self.bin.join(tool) };
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).current_dir(&self.dir);
        run(&mut cmd).with_context(|| format!("running {}", exe.display()))
    }

    /// The connection URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown: open connections are terminated).
    pub fn stop(&self) -> anyhow::Result<()> {
        self.run_pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
    }

    /// Starts the (stopped) server again on the same port.
    pub fn start_again(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200 {}",
            self.port,
            self.dir.display(),
            self.extra
        );
        let log = self.dir.join("postgres.log").display().to_string();
        self.run_pg("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &opts, "-w", "-t", "60", "start"])
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.run_pg("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
