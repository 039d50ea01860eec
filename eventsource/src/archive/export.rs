//! Exporting archived ranges to files for cold storage: JSON lines, one
//! event a line, gzip-compressed, a file per run of events, and a manifest
//! naming each file with its positions, count and size.
//!
//! Files are written under a temporary name and renamed when complete, and
//! the manifest (`manifest.json`) last: a directory without a manifest is
//! an export that did not finish. [`read_export`] reads an export back,
//! checking every file against the manifest.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ArchiveError;
use crate::event::{Metadata, RecordedEvent};
use crate::store::EventStore;

/// The format a manifest names, and [`read_export`] accepts.
pub const EXPORT_FORMAT: &str = "eventsource-archive-export/1";

/// The manifest's file name in an export directory.
const MANIFEST: &str = "manifest.json";

/// Which archived events to export, and how to cut them into files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// The first position (inclusive).
    pub from_position: u64,
    /// The last position (inclusive).
    pub to_position: u64,
    /// Events per file (at least 1).
    pub events_per_file: u64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            from_position: 1,
            to_position: u64::MAX,
            events_per_file: 100_000,
        }
    }
}

/// How far an export is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportProgress {
    /// Files completed.
    pub files: u64,
    /// Events written.
    pub events: u64,
}

/// One line of an export file: an archived event with every stored field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedEvent {
    /// Its global position.
    pub global_position: u64,
    /// Its id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// The stream's aggregate type.
    pub aggregate_type: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its name.
    pub event_name: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The payload, as JSON.
    pub payload: serde_json::Value,
    /// Its metadata.
    pub metadata: Metadata,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl ExportedEvent {
    fn from_record(record: &RecordedEvent) -> Result<Self, serde_json::Error> {
        Ok(Self {
            global_position: record.global_position,
            event_id: record.event_id,
            stream_id: record.stream_id.to_string(),
            aggregate_type: record.aggregate_type.to_string(),
            stream_version: record.stream_version,
            event_name: record.event_name.to_string(),
            schema_version: record.schema_version,
            payload: serde_json::from_str(&record.payload)?,
            metadata: (*record.metadata).clone(),
            recorded_at: record.recorded_at,
        })
    }

    /// The event as the store recorded it.
    pub fn into_record(self) -> RecordedEvent {
        RecordedEvent {
            event_name: self.event_name.into(),
            payload: self.payload.to_string().into(),
            stream_version: self.stream_version,
            global_position: self.global_position,
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            stream_id: self.stream_id.into(),
            aggregate_type: self.aggregate_type.into(),
            event_id: self.event_id,
            metadata: Arc::new(self.metadata),
        }
    }
}

/// One file of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its name in the export directory.
    pub name: String,
    /// The position of its first event.
    pub first_position: u64,
    /// The position of its last event.
    pub last_position: u64,
    /// How many events it holds.
    pub events: u64,
    /// Its size on disk, compressed.
    pub bytes: u64,
    /// How it is compressed (`gzip`).
    pub compression: String,
}

/// What an export holds: written last, so its presence says the export is whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// When the export finished.
    pub created_at: DateTime<Utc>,
    /// The range asked for (inclusive).
    pub from_position: u64,
    /// The range asked for (inclusive).
    pub to_position: u64,
    /// Events exported.
    pub events: u64,
    /// The files, by position.
    pub files: Vec<ManifestFile>,
}

/// An open export file.
struct Part {
    temp: PathBuf,
    writer: GzEncoder<BufWriter<File>>,
    first: u64,
    last: u64,
    events: u64,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the archived events from `options.from_position` to
/// `options.to_position` into `dir` (created if missing), and the manifest.
///
/// Reads the archive as a stream (memory stays bounded) and writes files
/// synchronously: run it from a batch job, not from a request handler.
pub async fn export(
    store: &dyn EventStore,
    dir: &Path,
    options: ExportOptions,
    mut progress: impl FnMut(&ExportProgress) + Send,
) -> Result<Manifest, ArchiveError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let per_file = options.events_per_file.max(1);
    let mut files = Vec::new();
    let mut at = ExportProgress::default();
    let mut part: Option<Part> = None;
    let mut events = store.read_archive(options.from_position, options.to_position);
    while let Some(record) = events.try_next().await? {
        let line =
            ExportedEvent::from_record(&record).map_err(|e| ArchiveError::InvalidExport {
                path: dir.to_owned(),
                reason: format!(
                    "the payload of the event at position {} is not JSON: {e}",
                    record.global_position
                ),
            })?;
        let open = match part.take() {
            Some(open) => open,
            None => {
                let temp = dir.join(format!(".part-{:020}.tmp", record.global_position));
                let file = File::create(&temp).map_err(io_error(&temp))?;
                Part {
                    writer: GzEncoder::new(BufWriter::new(file), Compression::default()),
                    temp,
                    first: record.global_position,
                    last: record.global_position,
                    events: 0,
                }
            }
        };
        let mut open = open;
        serde_json::to_writer(&mut open.writer, &line).map_err(|e| ArchiveError::Io {
            path: open.temp.clone(),
            source: e.into(),
        })?;
        open.writer.write_all(b"\n").map_err(io_error(&open.temp))?;
        open.last = record.global_position;
        open.events += 1;
        at.events += 1;
        if open.events >= per_file {
            files.push(finish(dir, open)?);
            at.files += 1;
            progress(&at);
        } else {
            part = Some(open);
        }
    }
    if let Some(open) = part {
        files.push(finish(dir, open)?);
        at.files += 1;
        progress(&at);
    }
    let manifest = Manifest {
        format: EXPORT_FORMAT.to_owned(),
        created_at: Utc::now(),
        from_position: options.from_position,
        to_position: options.to_position,
        events: at.events,
        files,
    };
    let path = dir.join(MANIFEST);
    let temp = dir.join(".manifest.json.tmp");
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Io {
        path: temp.clone(),
        source: e.into(),
    })?;
    fs::write(&temp, text).map_err(io_error(&temp))?;
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    Ok(manifest)
}

/// Closes `part` and gives it its final name.
fn finish(dir: &Path, part: Part) -> Result<ManifestFile, ArchiveError> {
    let Part {
        temp,
        writer,
        first,
        last,
        events,
    } = part;
    let mut inner = writer.finish().map_err(io_error(&temp))?;
    inner.flush().map_err(io_error(&temp))?;
    let file = inner
        .into_inner()
        .map_err(|e| io_error(&temp)(e.into_error()))?;
    file.sync_all().map_err(io_error(&temp))?;
    let name = format!("archive-{first:020}-{last:020}.jsonl.gz");
    let path = dir.join(&name);
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    let bytes = fs::metadata(&path).map_err(io_error(&path))?.len();
    Ok(ManifestFile {
        name,
        first_position: first,
        last_position: last,
        events,
        bytes,
        compression: "gzip".to_owned(),
    })
}

/// Reads the export in `dir` back, checking each file against the
/// manifest: the events in position order, and the manifest.
pub fn read_export(dir: &Path) -> Result<(Manifest, Vec<RecordedEvent>), ArchiveError> {
    let path = dir.join(MANIFEST);
    let text = fs::read(&path).map_err(io_error(&path))?;
    let invalid = |path: &Path, reason: String| ArchiveError::InvalidExport {
        path: path.to_owned(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| invalid(&path, format!("the manifest does not decode: {e}")))?;
    if manifest.format != EXPORT_FORMAT {
        return Err(invalid(
            &path,
            format!("format `{}`, expected `{EXPORT_FORMAT}`", manifest.format),
        ));
    }
    let mut events = Vec::new();
    let mut after = 0;
    for file in &manifest.files {
        let path = dir.join(&file.name);
        if file.compression != "gzip" || file.name.contains(['/', '\\']) {
            return Err(invalid(&path, "not a gzip file of this export".to_owned()));
        }
        let reader = BufReader::new(GzDecoder::new(File::open(&path).map_err(io_error(&path))?));
        let mut count = 0;
        for (number, line) in reader.lines().enumerate() {
            let line = line.map_err(io_error(&path))?;
            let event: ExportedEvent = serde_json::from_str(&line)
                .map_err(|e| invalid(&path, format!("line {} does not decode: {e}", number + 1)))?;
            if event.global_position <= after {
                return Err(invalid(
                    &path,
                    format!(
                        "line {}: position {} does not follow {after}",
                        number + 1,
                        event.global_position
                    ),
                ));
            }
            after = event.global_position;
            count += 1;
            events.push(event.into_record());
        }
        let first = events.len() as u64 - count;
        let first_position = events
            .get(first as usize)
            .map(|e: &RecordedEvent| e.global_position);
        if count != file.events
            || first_position != Some(file.first_position)
            || after != file.last_position
        {
            return Err(invalid(
                &path,
                format!(
                    "holds {count} events ending at {after}; the manifest says {} from {} to {}",
                    file.events, file.first_position, file.last_position
                ),
            ));
        }
    }
    if events.len() as u64 != manifest.events {
        return Err(invalid(
            &path,
            format!(
                "the files hold {} events; the manifest says {}",
                events.len(),
                manifest.events
            ),
        ));
    }
    Ok((manifest, events))
}
