//! The outcome of a conformance run.

use std::fmt;
use std::time::Duration;

/// How one check went.
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The check's name, `module::check`.
    pub name: &'static str,
    /// `Err` holds what the store did wrong.
    pub outcome: Result<(), String>,
    /// How long the check took, store set-up included.
    pub elapsed: Duration,
}

impl CheckResult {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Every check's result, in run order.
#[derive(Clone, Debug)]
pub struct ConformanceReport {
    results: Vec<CheckResult>,
}

impl ConformanceReport {
    pub(super) fn new(results: Vec<CheckResult>) -> Self {
        Self { results }
    }

    /// All results.
    pub fn results(&self) -> &[CheckResult] {
        &self.results
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| !r.passed())
    }

    /// Whether every check passed (and at least one ran).
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.failures().next().is_none()
    }

    /// Panics with every failing check and its message, unless all passed.
    ///
    /// Also panics when no check ran, so a mistyped filter is not a pass.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("{self}");
        }
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        if self.results.is_empty() {
            return f.write_str("store conformance: no check ran");
        }
        writeln!(
            f,
            "store conformance: {} passed, {failed} failed",
            self.results.len() - failed
        )?;
        for result in &self.results {
            match &result.outcome {
                Ok(()) => writeln!(f, "  ok    {} ({:?})", result.name, result.elapsed)?,
                Err(message) => writeln!(f, "  FAIL  {}: {message}", result.name)?,
            }
        }
        Ok(())
    }
}
