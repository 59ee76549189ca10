//! One file per workflow step. A command parses its input, calls one library function, maps the error.

pub mod bounds;
pub mod connection;
pub mod files;
pub mod import;
pub mod jobs;
pub mod notify;
pub mod preflight;
pub mod readback;
pub mod repair;
pub mod results;
pub mod uploads;
