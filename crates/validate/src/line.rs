use crate::r4::{self, Root, RootId, truncate};
use crate::{Code, Issue, Level, Options, Severity};

/// What one NDJSON line turned out to be.
#[derive(Debug, Clone, Default)]
pub struct LineVerdict {
    /// `resourceType`, when the line is an object that names a well-formed one.
    pub resource_type: Option<String>,
    /// `id`, when present and well formed.
    pub id: Option<String>,
    /// Everything found on the line, errors and warnings.
    pub issues: Vec<Issue>,
    /// HealthLake would reject this line at the chosen level.
    pub rejected: bool,
    /// The line held no data at all (only white space).
    pub blank: bool,
    /// The line is a JSON object with no `resourceType`: many of these and no resources means "not FHIR".
    pub untyped_object: bool,
}

impl LineVerdict {
    fn push(&mut self, line: u64, code: Code, severity: Severity, path: Option<String>, message: String) {
        if severity == Severity::Error {
            self.rejected = true;
        }
        self.issues.push(Issue { line, code, severity, path, message });
    }
}

/// Checks one line (without its `\n`; a trailing `\r` is allowed) as HealthLake would.
pub fn check_line(line_no: u64, bytes: &[u8], options: &Options) -> LineVerdict {
    let mut verdict = LineVerdict::default();
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);

    if bytes.len() > options.max_line_bytes {
        verdict.push(
            line_no,
            Code::LineTooLong,
            Severity::Error,
            None,
            format!(
                "line is {} bytes, over the {}-byte limit; split the resource or raise the limit",
                bytes.len(),
                options.max_line_bytes
            ),
        );
        return verdict;
    }
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => {
            verdict.push(
                line_no,
                Code::ByteOrderMark,
                Severity::Error,
                None,
                "line starts with a byte-order mark, which HealthLake reads as invalid JSON; save the file as UTF-8 without BOM".into(),
            );
            rest
        }
        None => bytes,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            verdict.push(
                line_no,
                Code::InvalidUtf8,
                Severity::Error,
                None,
                format!("byte {} is not valid UTF-8; re-export the file as UTF-8", e.valid_up_to() + 1),
            );
            return verdict;
        }
    };
    if text.trim().is_empty() {
        verdict.blank = true;
        verdict.push(
            line_no,
            Code::BlankLine,
            Severity::Warning,
            None,
            "blank line; some importers count it as invalid JSON, remove it".into(),
        );
        return verdict;
    }

    let outcome = match r4::walk(text, options.invariants) {
        Ok(outcome) => outcome,
        Err(e) => {
            let message = if e.to_string().starts_with("trailing characters") {
                format!(
                    "more than one JSON value on the line (column {}); put each resource on its own line",
                    e.column()
                )
            } else {
                format!(
                    "invalid JSON at column {}: {}; fix the syntax or drop the line",
                    e.column(),
                    strip_position(&e)
                )
            };
            verdict.push(line_no, Code::InvalidJson, Severity::Error, None, message);
            return verdict;
        }
    };

    match outcome.root {
        Root::NotObject(kind) => {
            verdict.push(
                line_no,
                Code::NotAnObject,
                Severity::Error,
                None,
                format!(
                    "the line is a JSON {kind}, not a resource object; each line must be one {{...}} resource"
                ),
            );
            return verdict;
        }
        Root::Untyped => {
            verdict.untyped_object = true;
            verdict.push(
                line_no,
                Code::MissingResourceType,
                Severity::Error,
                None,
                "no resourceType; every line must be a FHIR resource such as {\"resourceType\": \"Patient\", ...}".into(),
            );
        }
        Root::TypeNotString(kind) => verdict.push(
            line_no,
            Code::InvalidResourceType,
            Severity::Error,
            Some("resourceType".into()),
            format!("resourceType must be a string, found a JSON {kind}"),
        ),
        Root::Unknown(rt) if !is_resource_type_syntax(&rt) => verdict.push(
            line_no,
            Code::InvalidResourceType,
            Severity::Error,
            Some("resourceType".into()),
            format!(
                "resourceType {:?} must be 1-256 letters (HealthLake pattern [A-Za-z]{{1,256}})",
                truncate(&rt, 80)
            ),
        ),
        Root::Unknown(rt) => verdict.push(
            line_no,
            Code::UnknownResourceType,
            Severity::Error,
            Some("resourceType".into()),
            format!("{:?} is not a FHIR R4 resource type; check the spelling and case", truncate(&rt, 80)),
        ),
        Root::Typed(rt) => verdict.resource_type = Some(rt.to_string()),
    }
    let type_name = verdict.resource_type.clone().unwrap_or_else(|| "Resource".into());

    match outcome.id {
        RootId::Missing => verdict.push(
            line_no,
            Code::MissingId,
            Severity::Error,
            Some(format!("{type_name}.id")),
            "no id; HealthLake imports only resources with an id (1-64 of A-Z a-z 0-9 - .)".into(),
        ),
        RootId::Str(id) if is_id_syntax(&id) => verdict.id = Some(id),
        RootId::Str(id) => verdict.push(
            line_no,
            Code::InvalidId,
            Severity::Error,
            Some(format!("{type_name}.id")),
            format!("id {:?} must be 1-64 characters of A-Z a-z 0-9 - .", truncate(&id, 80)),
        ),
        RootId::NotString(kind) => verdict.push(
            line_no,
            Code::InvalidId,
            Severity::Error,
            Some(format!("{type_name}.id")),
            format!("id must be a string, found a JSON {kind}"),
        ),
    }

    for found in outcome.found {
        if found.code == Code::UncheckedProfile && options.level != Level::Strict {
            continue;
        }
        let severity = severity_of(found.code, options.level);
        verdict.push(line_no, found.code, severity, Some(found.path), found.message);
    }
    verdict
}

/// Structure problems block a line at `strict` and `structure-only`; at `minimal` HealthLake stores the resource
/// with a warning (`SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/`).
pub(crate) fn severity_of(code: Code, level: Level) -> Severity {
    match code {
        Code::ConditionalReference
        | Code::TypeMismatchInFile
        | Code::DuplicateId
        | Code::BlankLine
        | Code::UncheckedProfile => Severity::Warning,
        code if code.is_structural() && level == Level::Minimal => Severity::Warning,
        _ => Severity::Error,
    }
}

fn is_resource_type_syntax(s: &str) -> bool {
    (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_id_syntax(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// serde_json appends " at line L column C"; the column is reported separately and the line is always 1.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
