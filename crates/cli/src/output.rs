//! Output formats shared by the commands, and the one way a command prints its `--output json` document.

use clap::ValueEnum;
pub use lakedrop_core::text::thousands;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For scripts: one JSON document on stdout (its fields are listed in the user guide).
    Json,
}

/// The version of every `--output json` document. It goes up only on an incompatible change (a field renamed,
/// removed or given another type, an enum value dropped); a new field or a new enum value leaves it as it is,
/// so scripts read the fields they know and ignore the others.
pub const SCHEMA_VERSION: u32 = 1;

/// A command's document: `version` and `command` first, then the command's own fields, flattened beside them.
#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    version: u32,
    command: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Prints `body` as the command's JSON document on stdout. `command` is the command as typed (`validate`, `jobs
/// list`); `body` must serialize as a JSON object (a struct of `crate::schema`), whose fields follow `version`
/// and `command`.
pub fn print_document(command: &str, body: &impl Serialize) -> anyhow::Result<()> {
    let document = Document { version: SCHEMA_VERSION, command, body };
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct Body {
        count: u32,
    }

    #[test]
    fn a_document_leads_with_its_version_and_command() {
        let document = super::Document {
            version: super::SCHEMA_VERSION,
            command: "jobs list",
            body: &Body { count: 2 },
        };
        assert_eq!(
            serde_json::to_string(&document).expect("serializes"),
            r#"{"version":1,"command":"jobs list","count":2}"#
        );
    }
}
