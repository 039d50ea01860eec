//! What the figures were measured on.

use std::process::Command;

/// The machine, toolchain and date of a run.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    /// The run's date (UTC).
    pub(crate) date: String,
    cpu: String,
    cores: String,
    memory: String,
    os: String,
    rustc: String,
    postgres: String,
    load_before: String,
    load_after: String,
    /// What was measured of the server at the start of the run.
    server: Vec<(String, String)>,
}

impl Machine {
    /// Reads `/proc`, `/etc/os-release`, `uname` and `rustc -V`.
    pub(crate) fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = field(&meminfo, "MemTotal")
            .and_then(|kb| kb.trim_end_matches(" kB").trim().parse::<f64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
            );
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let os_name = release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| std::env::consts::OS.into());
        let kernel = output("uname", &["-r"]).unwrap_or_default();
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cpu,
            cores: format!("{cores} available to the process"),
            memory,
            os: format!("{os_name}, Linux {kernel}"),
            rustc: output("rustc", &["-V"]).unwrap_or_else(|| "unknown".into()),
            postgres: "not used in this run".into(),
            load_before: load_average(),
            load_after: String::new(),
            server: Vec::new(),
        }
    }

    /// Records the server's state as measured at the start of the run.
    pub(crate) fn with_server_state(mut self, state: Vec<(String, String)>) -> Self {
        self.server = state;
        self
    }

    /// Records the load average at the end of the run.
    pub(crate) fn finish(&mut self) {
        self.load_after = load_average();
    }

    /// Records the PostgreSQL server the run used.
    pub(crate) fn with_postgres(mut self, description: &str) -> Self {
        description.clone_into(&mut self.postgres);
        self
    }

    /// The rows of the report's machine table.
    pub(crate) fn rows(&self) -> Vec<(&str, &str)> {
        let mut rows = vec![
            ("date", self.date.as_str()),
            ("CPU", &self.cpu),
            ("cores", &self.cores),
            ("memory", &self.memory),
            ("OS", &self.os),
            ("rustc", &self.rustc),
            (
                "load average (1, 5, 15 min) before the run",
                &self.load_before,
            ),
            (
                "load average (1, 5, 15 min) after the run",
                &self.load_after,
            ),
            ("PostgreSQL", &self.postgres),
        ];
        rows.extend(self.server.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        rows
    }
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "unknown".into())
}

fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
