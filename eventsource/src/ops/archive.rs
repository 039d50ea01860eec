//! Archiving and truncating by policy, and exporting the archive, for
//! operators (see `archive` for the jobs and `store::archive` for the rules).

use std::path::Path;

use super::{Operations, OpsError};
use crate::archive::{
    ArchiveError, ArchiveJob, ArchivePolicy, ArchiveProgress, ArchiveReport, ExportOptions,
    ExportProgress, Manifest, TruncateJob, TruncatePolicy, TruncateProgress, TruncateReport,
};
use crate::store::{ArchiveStatus, StoreError};

/// A job's failure as an operator error: a store that cannot archive is
/// "unavailable", a bad policy a bad argument.
fn job_error(error: ArchiveError) -> OpsError {
    match error {
        ArchiveError::Store(StoreError::Unsupported { operation }) => {
            OpsError::Unavailable(format!("this store does not support {operation}"))
        }
        ArchiveError::InvalidPolicy(reason) => OpsError::Invalid(reason),
        other => OpsError::Archive(other),
    }
}

impl Operations {
    /// Applies `policy` once (see [`ArchiveJob::run`]), calling `progress`
    /// after each step.
    pub async fn archive(
        &self,
        policy: ArchivePolicy,
        progress: impl FnMut(&ArchiveProgress) + Send,
    ) -> Result<ArchiveReport, OpsError> {
        ArchiveJob::new(self.store.clone(), policy)
            .with_clock(self.clock.clone())
            .run(progress)
            .await
            .map_err(job_error)
    }

    /// What the archive holds.
    pub async fn archive_status(&self) -> Result<ArchiveStatus, OpsError> {
        Ok(self.store.archive_status().await?)
    }

    /// Exports archived events to files in `dir` (see
    /// [`export`](crate::archive::export)).
    pub async fn export_archive(
        &self,
        dir: &Path,
        options: ExportOptions,
        progress: impl FnMut(&ExportProgress) + Send,
    ) -> Result<Manifest, OpsError> {
        crate::archive::export(&*self.store, dir, options, progress)
            .await
            .map_err(job_error)
    }

    /// Applies a truncation `policy` once (see [`TruncateJob::run`]); needs
    /// the snapshot store ([`Operations::with_snapshots`]).
    pub async fn truncate_by_policy(
        &self,
        policy: TruncatePolicy,
        progress: impl FnMut(&TruncateProgress) + Send,
    ) -> Result<TruncateReport, OpsError> {
        let Some(snapshots) = &self.snapshots else {
            return Err(OpsError::Unavailable(
                "truncation by policy needs the snapshot store, which this application's \
                 operations do not have"
                    .to_owned(),
            ));
        };
        TruncateJob::new(self.store.clone(), snapshots.clone(), policy)
            .run(progress)
            .await
            .map_err(job_error)
    }
}
