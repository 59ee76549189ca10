//! Output formats shared by the commands.

use clap::ValueEnum;
pub use lakedrop_core::text::thousands;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For scripts: one JSON document on stdout.
    Json,
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
