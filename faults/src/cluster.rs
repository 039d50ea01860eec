//! A throwaway PostgreSQL cluster the suite owns, so it may crash and restart it.
//!
//! Never the server of `DATABASE_URL`: a fault run stops its server with
//! `pg_ctl -m immediate`, which nobody else's server should suffer. The
//! cluster keeps `synchronous_commit = on`, since an immediate stop must not
//! lose an acknowledged commit; `fsync` is off because a stopped process
//! (unlike a crashed machine) leaves its writes in the operating system's
//! cache.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How `pg_ctl` stops the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// `-m immediate`: every process quits at once; recovery replays the WAL.
    Immediate,
    /// `-m fast`: sessions are ended, then a clean shutdown checkpoint.
    Fast,
}

impl StopMode {
    fn flag(self) -> &'static str {
        match self {
            Self::Immediate => "immediate",
            Self::Fast => "fast",
        }
    }
}

/// A running throwaway server, removed when dropped.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Runs the server's tools as an unprivileged user when we are root.
    run_as: Vec<String>,
    running: bool,
}

impl Cluster {
    /// Creates and starts a cluster in a fresh temporary directory.
    pub(crate) fn start() -> Result<Self> {
        let bin = find_bin()?;
        let dir = std::env::temp_dir().join(format!(
            "eventsource-faults-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let run_as = unprivileged(&dir)?;
        let mut cluster = Self {
            bin,
            dir,
            port: 0,
            run_as,
            running: false,
        };
        cluster.initdb()?;
        cluster.start_on_free_port()?;
        Ok(cluster)
    }

    /// The URL of the `postgres` database.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server with `mode` and starts it again on the same port.
    /// Returns how long the server was unavailable (stop + start + recovery).
    pub(crate) fn restart(&mut self, mode: StopMode) -> Result<Duration> {
        let began = Instant::now();
        self.pg_ctl(&["-m", mode.flag(), "-w", "-t", "60", "stop"])
            .context("pg_ctl stop failed")?;
        self.running = false;
        self.pg_ctl(&self.start_args(self.port))
            .context("pg_ctl start after the stop failed")?;
        self.running = true;
        Ok(began.elapsed())
    }

    fn initdb(&self) -> Result<()> {
        let data = self.dir.join("data");
        let output = self
            .tool("initdb")
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }

    fn start_on_free_port(&mut self) -> Result<()> {
        for _ in 0..5 {
            let port = free_port()?;
            if self.pg_ctl(&self.start_args(port)).is_ok() {
                self.port = port;
                self.running = true;
                return Ok(());
            }
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        bail!(
            "could not start PostgreSQL in {}:\n{log}",
            self.dir.display()
        )
    }

    fn start_args(&self, port: u16) -> Vec<String> {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 \
             -c fsync=off -c full_page_writes=off -c synchronous_commit=on",
            self.dir.display()
        );
        vec![
            "-l".into(),
            self.dir.join("server.log").display().to_string(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "-o".into(),
            options,
            "start".into(),
        ]
    }

    fn pg_ctl<S: AsRef<str>>(&self, args: &[S]) -> Result<()> {
        let output = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(args.iter().map(AsRef::as_ref))
            .stdin(Stdio::null())
            .output()
            .context("cannot run pg_ctl")?;
        if !output.status.success() {
            bail!(
                "pg_ctl {} failed: {}{}",
                args.last().map_or("", AsRef::as_ref),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// A command running `program` from the server's binaries, as the
    /// unprivileged user when there is one, in a clean environment.
    fn tool(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = match self.run_as.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("LC_ALL", "C")
            .env("HOME", &self.dir);
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory holding `initdb` and `pg_ctl`: `PATH` first, then the
/// usual installation places, newest version first.
fn find_bin() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>());
    let mut versioned: Vec<PathBuf> = ["/usr/lib/postgresql", "/usr/local/pgsql"]
        .iter()
        .filter_map(|root| std::fs::read_dir(root).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .collect();
    versioned.sort_by_key(|dir| std::cmp::Reverse(version_of(dir)));
    on_path
        .chain(versioned)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .context(
            "the fault suite starts (and crashes) a PostgreSQL server of its own and found no \
             server binaries (initdb, pg_ctl): install them, e.g. `apt-get install postgresql` \
             (Debian/Ubuntu), `dnf install postgresql-server` or `brew install postgresql`",
        )
}

/// The major version in a path such as `/usr/lib/postgresql/15/bin`.
fn version_of(dir: &Path) -> u32 {
    dir.parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .unwrap_or(0)
}

/// PostgreSQL refuses to run as root: when we are root, run its tools as an
/// unprivileged user (`PG_TEST_USER`, default `nobody`) that owns `dir`.
fn unprivileged(dir: &Path) -> Result<Vec<String>> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(Vec::new());
    }
    let user = std::env::var("PG_TEST_USER").unwrap_or_else(|_| "nobody".into());
    let found = nix::unistd::User::from_name(&user)
        .ok()
        .flatten()
        .with_context(|| {
            format!("running as root, but user `{user}` does not exist (set PG_TEST_USER)")
        })?;
    nix::unistd::chown(dir, Some(found.uid), Some(found.gid))
        .with_context(|| format!("cannot give {} to `{user}`", dir.display()))?;
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .context("running as root and `runuser` is not available to drop privileges")?;
    Ok(vec![runuser.into(), "-u".into(), user, "--".into()])
}

/// A TCP port nothing listens on now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free TCP port")?;
    Ok(listener.local_addr()?.port())
}
