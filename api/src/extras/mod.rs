//! chime's own run-log extras, beside SAP's run log and apart from the dialects:
//!
//! - [`live`]: `GET /scheduler/jobs/{jobId}/runs/stream`, each run as its result is recorded
//!   (Server-Sent Events).
//! - [`export`]: `GET /scheduler/jobs/{jobId}/runs/export`, the job's runs as NDJSON or CSV.

pub mod export;
pub mod live;
