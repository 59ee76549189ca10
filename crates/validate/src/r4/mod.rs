//! FHIR R4 (4.0.1) structure: generated tables (`model.rs`), primitive formats, and the walk that checks a line
//! against them.

#[rustfmt::skip]
mod model;
mod narrative;
mod primitive;
mod schema;
mod walk;

pub use schema::{ElementInfo, element_at, is_r4_resource_type};
pub(crate) use walk::{Root, RootId, truncate, walk};
