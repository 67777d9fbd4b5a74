//! Selecting a tenant's jobs and schedules by SAP's two query languages, pure logic over the
//! stored model (the handlers load the tenant's definitions and page the result):
//!
//! - [`q`]: the `q` of `GET /scheduler/search/jobs` and `GET /scheduler/search/schedules`:
//!   free text and the `active`, `startTime` and `endTime` qualifiers.
//! - [`filter`]: the `filter`, `sort_by` and `sort_order` of `GET /scheduler/jobs`.

pub mod filter;
pub mod q;
