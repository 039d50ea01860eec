//! Exit codes, and the errors that choose them.

use std::process::ExitCode;

use eventsource::ops::OpsError;

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  failed: a store error, or the owner could not carry the request out
  2  usage: unknown command or bad arguments
  3  check or registry found problems
  4  not found: no such projection, stream, event, saga or instance
  5  timed out: no instance owning the projection took the request up in time
  6  unavailable: this application has no such part (no saga store; nothing to migrate in memory)";

/// The exit codes of [`run`](crate::run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// A store failed, or the owner refused.
    Failed = 1,
    /// Bad arguments.
    Usage = 2,
    /// `check` or `registry` found problems.
    Problems = 3,
    /// Nothing of that name.
    NotFound = 4,
    /// No owner took a request up in time.
    Timeout = 5,
    /// The application has no such part.
    Unavailable = 6,
}

impl Exit {
    /// The code as a number, for `std::process::exit`.
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// The exit code for `error`.
pub(crate) fn exit_for(error: &OpsError) -> Exit {
    match error {
        OpsError::Timeout { .. } => Exit::Timeout,
        OpsError::Unavailable(_) => Exit::Unavailable,
        OpsError::Invalid(_) => Exit::Usage,
        e if e.is_not_found() => Exit::NotFound,
        _ => Exit::Failed,
    }
}
