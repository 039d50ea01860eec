//! Child processes of the suite (this binary's `agent` commands): started,
//! killed with SIGKILL, frozen with SIGSTOP and thawed with SIGCONT; their
//! output lines are collected as they come.

use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running agent process.
pub(crate) struct Agent {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    /// Starts `agent <args>` of this very binary.
    pub(crate) fn spawn(name: impl Into<String>, args: &[String]) -> Result<Self> {
        let name = name.into();
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        let mut child = Command::new(exe)
            .arg("agent")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start agent {name}"))?;
        let stdout = child.stdout.take().context("the agent has no stdout")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        Ok(Self { name, child, lines })
    }

    fn pid(&self) -> Result<Pid> {
        let id = self
            .child
            .id()
            .with_context(|| format!("agent {} has exited", self.name))?;
        Ok(Pid::from_raw(i32::try_from(id)?))
    }

    /// Kills the process with SIGKILL and reaps it.
    pub(crate) async fn kill(&mut self) -> Result<()> {
        if let Ok(pid) = self.pid() {
            // A frozen process dies of SIGKILL too.
            kill(pid, Signal::SIGKILL).with_context(|| format!("cannot kill {}", self.name))?;
        }
        self.child.wait().await?;
        Ok(())
    }

    /// Asks the process to stop (SIGTERM) and waits up to `timeout` for it
    /// to exit; kills it if it does not.
    pub(crate) async fn terminate(&mut self, timeout: Duration) -> Result<()> {
        if let Ok(pid) = self.pid() {
            kill(pid, Signal::SIGTERM).with_context(|| format!("cannot stop {}", self.name))?;
        }
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                status?;
                Ok(())
            }
            Err(_) => {
                self.kill().await?;
                bail!(
                    "agent {} did not stop within {timeout:?} of SIGTERM",
                    self.name
                )
            }
        }
    }

    /// Freezes the process (SIGSTOP).
    pub(crate) fn freeze(&self) -> Result<()> {
        kill(self.pid()?, Signal::SIGSTOP).with_context(|| format!("cannot stop {}", self.name))
    }

    /// Thaws a frozen process (SIGCONT).
    pub(crate) fn thaw(&self) -> Result<()> {
        kill(self.pid()?, Signal::SIGCONT).with_context(|| format!("cannot continue {}", self.name))
    }

    /// The lines printed so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (up to `timeout`) for a line starting with `prefix`.
    pub(crate) async fn wait_for_line(
        &mut self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.starts_with(prefix)) {
                return Ok(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "agent {} exited ({status}) before printing `{prefix}`",
                    self.name
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "agent {} printed no `{prefix}` within {timeout:?}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
