//! Reading HealthLake's results: FAILURE lines parsed tolerantly, their diagnostics normalized into causes
//! (each with a plain explanation and a fix), counted per cause × resource type × file, and joined back to the
//! original source line.
//!
//! Joining never holds the source in memory: a [`LineIndex`] keeps one byte offset per line, and a line is read
//! when it is needed. Whether `lineId` counts from 0 or 1 is undocumented; [`decide_base`] decides from the
//! evidence (the `resourceType`/`resourceId` a failure line carries against the source line) and says so.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use crate::output::OutputLine;

/// Why resources failed, normalized from HealthLake's diagnostics text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    InvalidJson,
    InvalidResourceType,
    MissingId,
    InvalidId,
    UnknownProperty,
    MissingRequired,
    WrongType,
    BadDate,
    /// A code outside the closed list its element requires (`gender: "dude"`).
    InvalidCode,
    ProfileNotSupported,
    InvalidReference,
    Other,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::InvalidJson => "invalid-json",
            Cause::InvalidResourceType => "invalid-resource-type",
            Cause::MissingId => "missing-id",
            Cause::InvalidId => "invalid-id",
            Cause::UnknownProperty => "unknown-property",
            Cause::MissingRequired => "missing-required",
            Cause::WrongType => "wrong-type",
            Cause::BadDate => "bad-date",
            Cause::InvalidCode => "invalid-code",
            Cause::ProfileNotSupported => "profile-not-supported",
            Cause::InvalidReference => "invalid-reference",
            Cause::Other => "other",
        }
    }

    /// What the cause means, in plain words.
    pub fn explanation(self) -> &'static str {
        match self {
            Cause::InvalidJson => {
                "The line is not valid JSON, so HealthLake could not read a resource from it."
            }
            Cause::InvalidResourceType => {
                "resourceType must be letters only, such as Patient or Observation."
            }
            Cause::MissingId => "The resource has no id; HealthLake imports only resources that carry one.",
            Cause::InvalidId => {
                "The id has characters or a length HealthLake does not accept (1-64 of A-Z a-z 0-9 - .)."
            }
            Cause::UnknownProperty => "The resource has an element FHIR R4 does not define for its type.",
            Cause::MissingRequired => "An element FHIR R4 requires for this resource type is missing.",
            Cause::WrongType => {
                "An element has the wrong JSON type (a list where a single value belongs, or the reverse)."
            }
            Cause::BadDate => "A date or time is not in FHIR's format.",
            Cause::InvalidCode => {
                "A coded element holds a value outside the list FHIR R4 requires for it (e.g. gender must be male, female, other or unknown)."
            }
            Cause::ProfileNotSupported => {
                "The resource claims a profile in meta.profile that HealthLake does not support."
            }
            Cause::InvalidReference => {
                "A reference is malformed or points to something that cannot be resolved."
            }
            Cause::Other => "HealthLake rejected the resource for a reason Lakedrop does not classify yet.",
        }
    }

    /// What to do about it.
    pub fn fix(self) -> &'static str {
        match self {
            Cause::InvalidJson => {
                "Fix the JSON syntax (often a truncated line or two resources on one line) and import the line again."
            }
            Cause::InvalidResourceType => "Correct resourceType to a FHIR R4 type name.",
            Cause::MissingId => "Add an id to each resource before importing.",
            Cause::InvalidId => "Replace the id with 1-64 characters of letters, digits, - and .",
            Cause::UnknownProperty => "Remove the element, or move it into an extension.",
            Cause::MissingRequired => "Add the required element, or import at the minimal validation level.",
            Cause::WrongType => "Give the element the shape FHIR R4 defines for it.",
            Cause::BadDate => "Write dates as YYYY-MM-DD and date-times as YYYY-MM-DDThh:mm:ss+zz:zz.",
            Cause::InvalidCode => {
                "Map the value to one of the codes the element allows (the diagnostics list them)."
            }
            Cause::ProfileNotSupported => {
                "Remove the meta.profile claim, or import with validation level structure-only."
            }
            Cause::InvalidReference => "Use references of the form Type/id.",
            Cause::Other => "Read the diagnostics beside the resource; the rest of the batch was imported.",
        }
    }
}

/// Classifies one diagnostics text.
pub fn classify(diagnostics: &str) -> Cause {
    let d = diagnostics.to_ascii_lowercase();
    if d.contains("invalid json") || d.contains("unexpected character") || d.contains("malformed json") {
        Cause::InvalidJson
    } else if d.contains("at 'resourcetype'")
        || (d.contains("resourcetype") && d.contains("pattern"))
        || d.contains("not a fhir r4 resource type")
        || d.contains("unknown resource type")
    {
        Cause::InvalidResourceType
    } else if d.contains("missing required id") {
        Cause::MissingId
    } else if d.contains("'resourceid'") || d.contains("invalid id") {
        Cause::InvalidId
    } else if d.contains("unrecognised property")
        || d.contains("unrecognized property")
        || d.contains("unknown element")
    {
        Cause::UnknownProperty
    } else if (d.contains("value set") && (d.contains("not in") || d.contains("not found")))
        || d.contains("not an allowed code")
        || d.contains("unknown code")
    {
        Cause::InvalidCode
    } else if d.contains("minimum required") || d.contains("missing required") || d.contains("is required") {
        Cause::MissingRequired
    } else if d.contains("must be an simple value")
        || d.contains("must be a simple value")
        || d.contains("must be an array")
        || d.contains("wrong type")
    {
        Cause::WrongType
    } else if d.contains("date")
        && (d.contains("not a valid") || d.contains("invalid") || d.contains("format"))
    {
        Cause::BadDate
    } else if d.contains("profile")
        && (d.contains("not supported") || d.contains("unknown profile") || d.contains("unable to resolve"))
    {
        Cause::ProfileNotSupported
    } else if d.contains("reference") {
        Cause::InvalidReference
    } else {
        Cause::Other
    }
}

/// One failed resource, as HealthLake reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The input file (its key under the batch prefix).
    pub file: String,
    pub line_id: u64,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub status_code: Option<u16>,
    pub diagnostics: Vec<String>,
    pub cause: Cause,
}

/// Counts of FAILURE lines that could not be read at all (a truncated file, say); reported, never fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    pub lines: u64,
    /// The first few, as `file:line: reason`.
    pub examples: Vec<String>,
}

/// Parses a FAILURE file stream; unreadable lines are counted, not fatal.
pub fn parse_failures(
    file: &str,
    reader: &mut dyn BufRead,
    out: &mut dyn FnMut(Failure),
    unreadable: &mut Unreadable,
) -> io::Result<()> {
    let mut line = String::new();
    let mut n = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        n += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<OutputLine>(text) {
            Ok(parsed) => {
                let diagnostics: Vec<String> = parsed.diagnostics().into_iter().map(str::to_string).collect();
                let cause = diagnostics.first().map_or(Cause::Other, |d| classify(d));
                out(Failure {
                    file: file.to_string(),
                    line_id: parsed.line_id,
                    resource_type: parsed.resource_type,
                    resource_id: parsed.resource_id,
                    status_code: parsed.update_resource_response.map(|r| r.status_code),
                    diagnostics,
                    cause,
                });
            }
            Err(e) => {
                unreadable.lines += 1;
                if unreadable.examples.len() < 5 {
                    unreadable.examples.push(format!("{file}:{n}: {e}"));
                }
            }
        }
    }
}

/// A count of failures for one cause, resource type and file, with the first line ids as examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub cause: Cause,
    pub resource_type: String,
    pub file: String,
    pub count: u64,
    pub example_line_ids: Vec<u64>,
    /// A representative diagnostics text.
    pub diagnostics: String,
}

/// Groups failures by cause × resource type × file, largest first, keeping `examples` line ids each.
#[derive(Default)]
pub struct Grouper {
    groups: BTreeMap<(Cause, String, String), Group>,
    examples: usize,
}

impl Grouper {
    pub fn new(examples: usize) -> Grouper {
        Grouper { groups: BTreeMap::new(), examples }
    }

    pub fn add(&mut self, failure: &Failure) {
        let resource_type = failure.resource_type.clone().unwrap_or_else(|| "(unknown)".into());
        let key = (failure.cause, resource_type.clone(), failure.file.clone());
        let group = self.groups.entry(key).or_insert_with(|| Group {
            cause: failure.cause,
            resource_type,
            file: failure.file.clone(),
            count: 0,
            example_line_ids: Vec::new(),
            diagnostics: failure.diagnostics.first().cloned().unwrap_or_default(),
        });
        group.count += 1;
        if group.example_line_ids.len() < self.examples {
            group.example_line_ids.push(failure.line_id);
        }
    }

    pub fn finish(self) -> Vec<Group> {
        let mut groups: Vec<Group> = self.groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
        groups
    }
}

/// Byte offsets of every line of a source file, so any line can be read back without keeping the file.
pub struct LineIndex {
    /// `offsets[i]` is where line i (0-based) starts; one extra entry marks the end.
    offsets: Vec<u64>,
}

impl LineIndex {
    pub fn build(reader: &mut dyn Read) -> io::Result<LineIndex> {
        let mut offsets = vec![0u64];
        let mut buf = vec![0u8; 1 << 20];
        let mut position = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                if b == b'\n' {
                    offsets.push(position + i as u64 + 1);
                }
            }
            position += n as u64;
        }
        if offsets.last() != Some(&position) {
            offsets.push(position);
        }
        Ok(LineIndex { offsets })
    }

    /// How many lines the file has.
    pub fn lines(&self) -> u64 {
        self.offsets.len() as u64 - 1
    }

    /// Reads line `n` (0-based) without its line ending, as text to show (invalid UTF-8 shown as U+FFFD).
    pub fn read_line<R: Read + Seek>(&self, file: &mut R, n: u64) -> io::Result<Option<String>> {
        Ok(self.read_line_bytes(file, n)?.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Reads line `n` (0-based) without its line ending, byte for byte: what exports and re-imports write, so a
    /// line goes out exactly as it came in, whatever its encoding.
    pub fn read_line_bytes<R: Read + Seek>(&self, file: &mut R, n: u64) -> io::Result<Option<Vec<u8>>> {
        let (Some(&start), Some(&end)) = (self.offsets.get(n as usize), self.offsets.get(n as usize + 1))
        else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = vec![0u8; (end - start) as usize];
        file.read_exact(&mut bytes)?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        Ok(Some(bytes))
    }
}

/// How `lineId` maps to source lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum LineIdBase {
    /// `lineId` 1 is the first line (what the sandbox writes).
    OneBased,
    /// `lineId` 0 is the first line.
    ZeroBased,
    /// The evidence does not tell (no failure carries a resourceType/resourceId that matches either way).
    Undecided,
}

impl LineIdBase {
    /// The 0-based source line for a `lineId`.
    pub fn source_line(self, line_id: u64) -> Option<u64> {
        match self {
            LineIdBase::OneBased | LineIdBase::Undecided => line_id.checked_sub(1),
            LineIdBase::ZeroBased => Some(line_id),
        }
    }
}

/// The evidence behind a base decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BaseDecision {
    pub base: LineIdBase,
    /// Failures whose type/id matched the source line under each reading.
    pub one_based_matches: u64,
    pub zero_based_matches: u64,
    /// Failures that carried a type or id to compare.
    pub compared: u64,
}

/// Whether the source line carries this failure's resourceType and id (when the failure names them).
pub fn line_matches(failure: &Failure, line: &str) -> Option<bool> {
    if failure.resource_type.is_none() && failure.resource_id.is_none() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let type_ok = failure.resource_type.as_deref().is_none_or(|t| value["resourceType"].as_str() == Some(t));
    let id_ok = failure.resource_id.as_deref().is_none_or(|id| value["id"].as_str() == Some(id));
    Some(type_ok && id_ok)
}

/// Decides the base from up to `sample` failures of one file that name their resource.
pub fn decide_base<R: Read + Seek>(
    failures: &[Failure],
    index: &LineIndex,
    file: &mut R,
    sample: usize,
) -> io::Result<BaseDecision> {
    let (mut one, mut zero, mut compared) = (0u64, 0u64, 0u64);
    for failure in
        failures.iter().filter(|f| f.resource_type.is_some() || f.resource_id.is_some()).take(sample)
    {
        compared += 1;
        if let Some(n) = failure.line_id.checked_sub(1)
            && let Some(line) = index.read_line(file, n)?
            && line_matches(failure, &line) == Some(true)
        {
            one += 1;
        }
        if let Some(line) = index.read_line(file, failure.line_id)?
            && line_matches(failure, &line) == Some(true)
        {
            zero += 1;
        }
    }
    let base = if one > zero {
        LineIdBase::OneBased
    } else if zero > one {
        LineIdBase::ZeroBased
    } else {
        LineIdBase::Undecided
    };
    Ok(BaseDecision { base, one_based_matches: one, zero_based_matches: zero, compared })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    const SOURCE: &str = "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Observation\",\"id\":\"c\"}\r\n{broken\n";

    fn failures(text: &str) -> (Vec<Failure>, Unreadable) {
        let mut out = Vec::new();
        let mut unreadable = Unreadable::default();
        parse_failures("Patient.ndjson", &mut text.as_bytes(), &mut |f| out.push(f), &mut unreadable)
            .expect("read");
        (out, unreadable)
    }

    #[test]
    fn healthlake_diagnostics_map_to_causes() {
        assert_eq!(classify("Invalid JSON found in input file"), Cause::InvalidJson);
        assert_eq!(classify("Missing required id field in resource json"), Cause::MissingId);
        assert_eq!(
            classify(
                "1 validation error detected: Value 'Patient123' at 'resourceType' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z]{1,256}"
            ),
            Cause::InvalidResourceType
        );
        assert_eq!(
            classify("2 validation errors detected: Value at 'resourceId' failed to satisfy constraint"),
            Cause::InvalidId
        );
        assert_eq!(classify("Unrecognised property '@gender'"), Cause::UnknownProperty);
        assert_eq!(
            classify(
                "Profile http://hl7.org/fhir/StructureDefinition/EffectEvidenceSynthesis, Element 'EffectEvidenceSynthesis.status': minimum required = 1, but only found 0"
            ),
            Cause::MissingRequired
        );
        assert_eq!(
            classify("This property must be an simple value, not a com.google.gson.JsonArray"),
            Cause::WrongType
        );
        assert_eq!(
            classify("\"Patiennt\" is not a FHIR R4 resource type; check the spelling"),
            Cause::InvalidResourceType
        );
        assert_eq!(
            classify(
                "The value provided ('dude') is not in the value set 'http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1', and a code is required from this value set"
            ),
            Cause::InvalidCode
        );
        assert_eq!(
            classify("\"dude\" is not an allowed code for gender (use one of female, male)"),
            Cause::InvalidCode
        );
        assert_eq!(classify("something nobody has seen"), Cause::Other);
        for cause in [Cause::InvalidJson, Cause::Other] {
            assert!(!cause.explanation().is_empty() && !cause.fix().is_empty());
        }
    }

    #[test]
    fn a_truncated_failure_file_keeps_what_it_can_read() {
        let text = "{\"lineId\":2,\"resourceType\":\"Patient\",\"UpdateResourceResponse\":{\"jsonBlob\":{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"processing\",\"diagnostics\":\"Missing required id field in resource json\"}]},\"statusCode\":400}}\n{\"lineId\":4,\"UpdateRes";
        let (parsed, unreadable) = failures(text);
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            (parsed[0].line_id, parsed[0].cause, parsed[0].status_code),
            (2, Cause::MissingId, Some(400))
        );
        assert_eq!(unreadable.lines, 1);
        assert!(unreadable.examples[0].starts_with("Patient.ndjson:2: "), "{:?}", unreadable.examples);
    }

    #[test]
    fn groups_count_per_cause_type_and_file_largest_first() {
        let mut grouper = Grouper::new(2);
        let f = |line_id, cause, rt: &str| Failure {
            file: "a.ndjson".into(),
            line_id,
            resource_type: Some(rt.into()),
            resource_id: None,
            status_code: Some(400),
            diagnostics: vec!["d".into()],
            cause,
        };
        for failure in [
            f(1, Cause::MissingId, "Patient"),
            f(5, Cause::InvalidJson, "Patient"),
            f(7, Cause::MissingId, "Patient"),
            f(9, Cause::MissingId, "Patient"),
        ] {
            grouper.add(&failure);
        }
        let groups = grouper.finish();
        assert_eq!(groups.len(), 2);
        assert_eq!((groups[0].cause, groups[0].count), (Cause::MissingId, 3));
        assert_eq!(groups[0].example_line_ids, [1, 7], "the first two examples");
    }

    #[test]
    fn the_line_index_reads_any_line_back_with_crlf_and_no_final_newline() {
        let index = LineIndex::build(&mut SOURCE.as_bytes()).expect("index");
        assert_eq!(index.lines(), 4);
        let mut file = Cursor::new(SOURCE.as_bytes());
        assert_eq!(
            index.read_line(&mut file, 2).expect("read").as_deref(),
            Some("{\"resourceType\":\"Observation\",\"id\":\"c\"}")
        );
        assert_eq!(index.read_line(&mut file, 3).expect("read").as_deref(), Some("{broken"));
        assert_eq!(index.read_line(&mut file, 9).expect("read"), None);
    }

    #[test]
    fn the_base_is_decided_from_matching_resources_and_stays_undecided_without_evidence() {
        let index = LineIndex::build(&mut SOURCE.as_bytes()).expect("index");
        let mut file = Cursor::new(SOURCE.as_bytes());
        let observation = |line_id| Failure {
            file: "x".into(),
            line_id,
            resource_type: Some("Observation".into()),
            resource_id: Some("c".into()),
            status_code: Some(400),
            diagnostics: vec![],
            cause: Cause::Other,
        };
        let one = decide_base(&[observation(3)], &index, &mut file, 100).expect("decide");
        assert_eq!((one.base, one.one_based_matches, one.zero_based_matches), (LineIdBase::OneBased, 1, 0));
        let zero = decide_base(&[observation(2)], &index, &mut file, 100).expect("decide");
        assert_eq!(zero.base, LineIdBase::ZeroBased);
        let anonymous = Failure { resource_type: None, resource_id: None, ..observation(4) };
        let none = decide_base(&[anonymous], &index, &mut file, 100).expect("decide");
        assert_eq!((none.base, none.compared), (LineIdBase::Undecided, 0));
        assert_eq!(LineIdBase::OneBased.source_line(4), Some(3));
        assert_eq!(LineIdBase::ZeroBased.source_line(3), Some(3));
    }
}
