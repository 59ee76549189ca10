use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Code, Options, Severity};

/// One finding, tied to a line of a file and, where it applies, to an element of the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// 1-based line number in the file.
    pub line: u64,
    pub code: Code,
    pub severity: Severity,
    /// The FHIR path of the element, e.g. `Patient.name[0].given`, when the issue is about one element.
    pub path: Option<String>,
    /// One line that says what is wrong and what to do.
    pub message: String,
}

/// Everything validation found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    pub path: String,
    /// The file name without its folder, for display.
    pub name: String,
    pub bytes: u64,
    /// Non-empty lines read (blank lines are counted as issues, not as lines).
    pub lines: u64,
    /// Lines HealthLake would accept at the chosen level.
    pub valid: u64,
    /// Lines HealthLake would reject at the chosen level.
    pub invalid: u64,
    /// The file is not FHIR at all (for example a bulk-export log) and should not be imported.
    pub not_fhir: bool,
    /// The file is gzip-compressed: readable here, but HealthLake imports only plain NDJSON.
    pub compressed: bool,
    /// The issues found, in line order: every error (unless `Options::list_errors` is off) and the first
    /// warnings, up to `Options::max_warnings_per_file`.
    pub issues: Vec<Issue>,
    /// Some issues are not in `issues` (warnings past the cap); `by_code` and `groups` still count them all.
    pub issues_truncated: bool,
    /// Warnings in `issues`.
    #[serde(skip)]
    #[cfg_attr(feature = "specta", specta(skip))]
    pub(crate) warnings_listed: usize,
    /// Every issue counted by code.
    pub by_code: BTreeMap<Code, u64>,
    /// Valid resources counted by `resourceType`.
    pub resource_types: BTreeMap<String, u64>,
    /// Every issue grouped by code, severity and resource type, most frequent first, with the first examples.
    pub groups: Vec<IssueGroup>,
    /// The CRC32C of exactly the bytes that were checked (of a plain file; `None` for gzip), read in the same
    /// pass: an upload proves it sends these bytes, not a version of the file written since.
    #[serde(skip)]
    #[cfg_attr(feature = "specta", specta(skip))]
    pub crc32c: Option<u32>,
    /// Bytes of NDJSON the file's lines took: after decompressing a `.gz`, after unbundling a Bundle. What an
    /// upload sends.
    pub ndjson_bytes: u64,
    /// What the file holds: NDJSON lines, or a Bundle read as the NDJSON lines of its entries.
    pub content: Content,
    /// What unbundling did, for a Bundle file or NDJSON lines holding Bundles.
    pub unbundled: Option<BundleSummary>,
}

/// What a file holds, as Lakedrop reads it (whether it is gzip is `FileReport::compressed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum Content {
    /// One resource per line; imported as it is.
    #[default]
    Ndjson,
    /// One Bundle (a `.json` file): imported as its entries, one line each; an issue's `line` is the entry's
    /// number (1-based).
    Bundle,
    /// NDJSON whose lines hold Bundles: each Bundle line is imported as its entries; an issue's `line` is the
    /// line of the file it came from.
    BundleLines,
    /// One Bundle (a `.json` file) kept whole, as asked: imported as one Bundle resource, the file's JSON on one
    /// line (its whitespace outside strings dropped, nothing else changed); issues are at line 1.
    BundleKept,
}

/// What unbundling a file did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BundleSummary {
    /// Bundles read (1 for a Bundle file).
    pub bundles: u64,
    /// `Bundle.type` of the first Bundle (`transaction`, `batch`, `collection`, `searchset`, ...).
    pub bundle_type: Option<String>,
    /// Entries read, and the resources they held (each one NDJSON line).
    pub entries: u64,
    pub resources: u64,
    /// References between entries rewritten to `Type/id`.
    pub rewritten: u64,
    /// `urn:` references that name no entry of their Bundle, counted; the first are in `unresolved_examples`.
    pub unresolved: u64,
    pub unresolved_examples: Vec<UnresolvedReference>,
}

/// A reference to a `urn:` no entry of its Bundle is known by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct UnresolvedReference {
    /// The entry's number (1-based), or for NDJSON lines holding Bundles the line's.
    pub line: u64,
    /// Where in the resource, e.g. `Encounter.subject.reference`.
    pub path: String,
    pub reference: String,
}

/// Issues of one kind in one file: same code, severity and resource type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct IssueGroup {
    pub code: Code,
    pub severity: Severity,
    /// The `resourceType` of the lines, when they named a valid one.
    pub resource_type: Option<String>,
    pub count: u64,
    /// The first few issues of the group, in line order.
    pub examples: Vec<Issue>,
}

impl FileReport {
    /// Whether any line would be rejected, or the file is not FHIR.
    pub fn blocks_anything(&self) -> bool {
        self.invalid > 0 || self.not_fhir
    }

    /// Marks the file as one that cannot be imported at all (a Bundle that breaks off, say), with one file-level
    /// issue in place of whatever its lines said.
    pub fn refuse(&mut self, line: u64, message: String) {
        self.not_fhir = true;
        self.by_code.clear();
        self.issues.clear();
        self.groups.clear();
        self.issues_truncated = false;
        let issue = Issue { line, code: Code::NotFhir, severity: Severity::Error, path: None, message };
        self.record(issue, None, &Options::default());
    }

    pub(crate) fn record(&mut self, issue: Issue, resource_type: Option<&str>, options: &Options) {
        *self.by_code.entry(issue.code).or_default() += 1;
        let group = match self.groups.iter().position(|g| {
            g.code == issue.code
                && g.severity == issue.severity
                && g.resource_type.as_deref() == resource_type
        }) {
            Some(i) => &mut self.groups[i],
            None => {
                self.groups.push(IssueGroup {
                    code: issue.code,
                    severity: issue.severity,
                    resource_type: resource_type.map(str::to_string),
                    count: 0,
                    examples: Vec::new(),
                });
                self.groups.last_mut().expect("just pushed")
            }
        };
        group.count += 1;
        if group.examples.len() < options.examples_per_group {
            group.examples.push(issue.clone());
        }
        let listed = match issue.severity {
            Severity::Error => options.list_errors,
            Severity::Warning => self.warnings_listed < options.max_warnings_per_file,
        };
        if !listed {
            self.issues_truncated = true;
        } else {
            if issue.severity == Severity::Warning {
                self.warnings_listed += 1;
            }
            self.issues.push(issue);
        }
    }
}
