use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason a line (or file) would be rejected or deserves a look.
///
/// The kebab-case names are part of Lakedrop's public contract (CLI JSON output, the app, docs): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    InvalidJson,
    NotAnObject,
    BlankLine,
    ByteOrderMark,
    InvalidUtf8,
    LineTooLong,
    MissingResourceType,
    InvalidResourceType,
    UnknownResourceType,
    MissingId,
    InvalidId,
    DuplicateId,
    DuplicateKey,
    UnknownElement,
    WrongType,
    InvalidValue,
    MissingRequired,
    Cardinality,
    InvalidChoice,
    TypeMismatchInFile,
    NotFhir,
    ConditionalReference,
    /// More files than HealthLake takes in one import job.
    TooManyFiles,
    /// At `strict`, a `meta.profile` HealthLake validates against and Lakedrop cannot check.
    UncheckedProfile,
    /// An R4 invariant (a FHIRPath constraint of the definitions, such as `ext-1`) does not hold.
    Invariant,
}

impl Code {
    /// A problem with the resource's R4 structure: it blocks the line at `strict` and `structure-only`, and at
    /// `minimal` HealthLake stores the resource anyway, with a warning.
    pub fn is_structural(self) -> bool {
        matches!(
            self,
            Code::UnknownElement
                | Code::WrongType
                | Code::InvalidValue
                | Code::MissingRequired
                | Code::Cardinality
                | Code::InvalidChoice
                | Code::DuplicateKey
                | Code::Invariant
        )
    }

    /// The stable kebab-case name, as printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid-json",
            Code::NotAnObject => "not-an-object",
            Code::BlankLine => "blank-line",
            Code::ByteOrderMark => "byte-order-mark",
            Code::InvalidUtf8 => "invalid-utf8",
            Code::LineTooLong => "line-too-long",
            Code::MissingResourceType => "missing-resource-type",
            Code::InvalidResourceType => "invalid-resource-type",
            Code::UnknownResourceType => "unknown-resource-type",
            Code::MissingId => "missing-id",
            Code::InvalidId => "invalid-id",
            Code::DuplicateId => "duplicate-id",
            Code::DuplicateKey => "duplicate-key",
            Code::UnknownElement => "unknown-element",
            Code::WrongType => "wrong-type",
            Code::InvalidValue => "invalid-value",
            Code::MissingRequired => "missing-required",
            Code::Cardinality => "cardinality",
            Code::InvalidChoice => "invalid-choice",
            Code::TypeMismatchInFile => "type-mismatch-in-file",
            Code::NotFhir => "not-fhir",
            Code::ConditionalReference => "conditional-reference",
            Code::TooManyFiles => "too-many-files",
            Code::UncheckedProfile => "unchecked-profile",
            Code::Invariant => "invariant",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an issue blocks the line at the chosen level (`Error`) or is only worth knowing (`Warning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
}

/// HealthLake's `ValidationLevel`, with the wire names the service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// HealthLake's default: R4 plus the profiles named in `meta.profile`.
    Strict,
    /// R4 structure, ignoring profiles.
    #[default]
    StructureOnly,
    /// Only what search and storage need; structure problems become warnings.
    Minimal,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Strict => "strict",
            Level::StructureOnly => "structure-only",
            Level::Minimal => "minimal",
        }
    }

    /// Parses the wire name (`strict`, `structure-only`, `minimal`).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "strict" => Some(Level::Strict),
            "structure-only" => Some(Level::StructureOnly),
            "minimal" => Some(Level::Minimal),
            _ => None,
        }
    }
}
