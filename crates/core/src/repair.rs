//! Repair plans (issue 18): repairs as data, so one plan fixes this month's rejected lines and next month's.
//!
//! A plan is JSON: `{"version": 1, "rules": [{"resourceType", "path", "action", ...arguments}]}`. A rule applies
//! to the resources of its type (`*` for any) at an element path (`gender`, `name.given`, `meta.project`),
//! stepping through arrays at every level, as FHIRPath does. Actions:
//! - `replace-code` with `map` (old value to new), for codes written wrongly everywhere (`"M"` for `male`);
//! - `remove`, for an element HealthLake does not accept;
//! - `reformat-date` with `from` (a pattern of `YYYY`, `MM`, `DD`, `hh`, `mm`, `ss` and literal characters) and,
//!   when the pattern has a time, `zone` (`Z`, `+02:00`), since a FHIR dateTime with a time needs one;
//! - `set` with `value`, for a missing required element (it never overwrites one that is there).
//!
//! [`RepairPlan::repair`] applies a plan to one line and says, element by element, what it changed; a line the
//! plan does not touch is given back unchanged, byte for byte. Changed lines are written again by `serde_json`,
//! so their members may come in another order (which FHIR's JSON does not constrain).

use std::collections::BTreeMap;

use std::io::{BufRead, Write};
use std::path::Path;

use lakedrop_validate::{Options, check_line, open_lines};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::files::{FilesError, write_private};

/// The version of the plan format this code reads and writes.
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepairPlan {
    pub version: u32,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// The resource type the rule applies to, or `*` for every type.
    pub resource_type: String,
    /// The element path from the resource, members separated by dots.
    pub path: String,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    ReplaceCode { map: BTreeMap<String, String> },
    Remove,
    ReformatDate { from: String, zone: Option<String> },
    Set { value: Value },
}

/// One element a repair changed: where, what it was, what it is now (`None`: absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The index of the rule in its plan.
    pub rule: usize,
    /// The element's path with array indices, e.g. `name[0].given[1]`.
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What a plan did to one line.
#[derive(Debug, Clone, PartialEq)]
pub enum LineRepair {
    /// Not touched: write the line as it was.
    Unchanged,
    /// Changed: the new line (one JSON object, no newline), every change, and the resource's type and id.
    Changed { line: String, changes: Vec<Change>, resource_type: Option<String>, resource_id: Option<String> },
}

/// Why a plan cannot be used, in words for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl RepairPlan {
    /// Reads and checks a plan.
    pub fn parse(text: &str) -> Result<RepairPlan, PlanError> {
        let plan: RepairPlan = serde_json::from_str(text)
            .map_err(|e| PlanError(format!("the plan is not a repair plan: {e}")))?;
        if plan.version != PLAN_VERSION {
            return Err(PlanError(format!(
                "the plan is version {}; this Lakedrop reads version {PLAN_VERSION}",
                plan.version
            )));
        }
        for (i, rule) in plan.rules.iter().enumerate() {
            rule.check().map_err(|why| PlanError(format!("rule {} ({}): {why}", i + 1, rule.path)))?;
        }
        Ok(plan)
    }

    /// Applies the plan to one line. A line that is not a JSON object, or that no rule touches, is unchanged.
    pub fn repair(&self, line: &[u8]) -> LineRepair {
        if !self.may_touch(line) {
            return LineRepair::Unchanged;
        }
        let Ok(Value::Object(mut resource)) = serde_json::from_slice::<Value>(line) else {
            return LineRepair::Unchanged;
        };
        let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string();
        let resource_id = resource.get("id").and_then(Value::as_str).map(str::to_string);
        let mut changes = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.resource_type != "*" && rule.resource_type != resource_type {
                continue;
            }
            let segments: Vec<&str> = rule.path.split('.').collect();
            apply(&mut resource, &segments, "", &mut |parent, name, path| {
                if let Some((before, after)) = rule.action.apply(parent, name) {
                    changes.push(Change { rule: index, path: path.to_string(), before, after });
                }
            });
        }
        if changes.is_empty() {
            return LineRepair::Unchanged;
        }
        match serde_json::to_string(&Value::Object(resource)) {
            Ok(line) => LineRepair::Changed {
                line,
                changes,
                resource_type: (!resource_type.is_empty()).then_some(resource_type),
                resource_id,
            },
            Err(_) => LineRepair::Unchanged,
        }
    }
}

impl RepairPlan {
    /// Whether a rule may apply to the line, decided on its bytes before it is parsed: the line must name the
    /// rule's type (unless `*`), and, but for `set`, hold the member the rule changes (and for `replace-code` one
    /// of the codes it replaces). Most lines of a file are then never parsed, which keeps repairing a file near
    /// the validator's speed. A match is only a maybe (the name may stand in a string); no match is a sure no.
    fn may_touch(&self, line: &[u8]) -> bool {
        let has = |needle: &str| memchr::memmem::find(line, needle.as_bytes()).is_some();
        self.rules.iter().any(|rule| {
            let typed = rule.resource_type == "*" || names_type(line, &rule.resource_type);
            let member = rule.path.rsplit('.').next().unwrap_or(&rule.path);
            typed
                && match &rule.action {
                    Action::Set { .. } => true,
                    Action::ReplaceCode { map } => {
                        has(&format!("\"{member}\"")) && map.keys().any(|code| has(&format!("\"{code}\"")))
                    }
                    Action::Remove | Action::ReformatDate { .. } => has(&format!("\"{member}\"")),
                }
        })
    }
}

/// Whether the line has `"resourceType": "<name>"` (at any depth).
fn names_type(line: &[u8], name: &str) -> bool {
    let needle = b"\"resourceType\"";
    memchr::memmem::find_iter(line, needle).any(|found| {
        let rest = &line[found + needle.len()..];
        let rest = rest.trim_ascii_start();
        let rest = rest.strip_prefix(b":").unwrap_or(rest).trim_ascii_start();
        rest.strip_prefix(b"\"")
            .and_then(|value| value.strip_prefix(name.as_bytes()))
            .is_some_and(|after| after.first() == Some(&b'"'))
    })
}

impl Rule {
    fn check(&self) -> Result<(), String> {
        if self.resource_type != "*"
            && (self.resource_type.is_empty() || !self.resource_type.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(format!("resourceType `{}` is not a resource type or `*`", self.resource_type));
        }
        let valid_segment = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if self.path.is_empty() || !self.path.split('.').all(valid_segment) {
            return Err("the path must be element names separated by dots, e.g. `name.given`".into());
        }
        match &self.action {
            Action::ReplaceCode { map } if map.is_empty() => Err("`map` lists no codes to replace".into()),
            Action::ReformatDate { from, zone } => {
                let pattern = DatePattern::parse(from)?;
                if pattern.has_time && zone.is_none() {
                    return Err("a pattern with a time needs `zone` (e.g. `Z` or `+01:00`): a FHIR dateTime with a time has one".into());
                }
                if let Some(zone) = zone
                    && !valid_zone(zone)
                {
                    return Err(format!("`zone` {zone} is not `Z` or `+hh:mm`/`-hh:mm`"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What [`apply`] calls at each element: the object holding it, its name, its concrete path.
type Visit<'a> = dyn FnMut(&mut Map<String, Value>, &str, &str) + 'a;

/// An element's value before and after a change (`None`: absent).
type Edit = (Option<Value>, Option<Value>);

/// Walks `segments` from `object`, through arrays at every level, and calls `at` with each object holding the
/// last segment, the segment, and the concrete path of the element.
fn apply(object: &mut Map<String, Value>, segments: &[&str], prefix: &str, at: &mut Visit<'_>) {
    let Some((first, rest)) = segments.split_first() else { return };
    let path = if prefix.is_empty() { (*first).to_string() } else { format!("{prefix}.{first}") };
    if rest.is_empty() {
        at(object, first, &path);
        return;
    }
    match object.get_mut(*first) {
        Some(Value::Object(child)) => apply(child, rest, &path, at),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(child) = item {
                    apply(child, rest, &format!("{path}[{i}]"), at);
                }
            }
        }
        _ => {}
    }
}

impl Action {
    /// Applies the action to the member `name` of `parent`: `Some((before, after))` when it changed it.
    fn apply(&self, parent: &mut Map<String, Value>, name: &str) -> Option<Edit> {
        match self {
            Action::Remove => parent.remove(name).map(|before| (Some(before), None)),
            Action::Set { value } => {
                if parent.contains_key(name) {
                    return None;
                }
                parent.insert(name.to_string(), value.clone());
                Some((None, Some(value.clone())))
            }
            Action::ReplaceCode { map } => rewrite_strings(parent.get_mut(name)?, |s| map.get(s).cloned()),
            Action::ReformatDate { from, zone } => {
                let pattern = DatePattern::parse(from).ok()?;
                rewrite_strings(parent.get_mut(name)?, |s| pattern.reformat(s, zone.as_deref()))
            }
        }
    }
}

/// Replaces a string (or each string of an array of them) by what `new` gives; the whole element before and
/// after, when anything changed.
fn rewrite_strings(value: &mut Value, new: impl Fn(&str) -> Option<String>) -> Option<Edit> {
    let before = value.clone();
    let mut changed = false;
    let mut one = |v: &mut Value| {
        if let Some(replacement) = v.as_str().and_then(&new).filter(|r| v.as_str() != Some(r.as_str())) {
            *v = Value::String(replacement);
            changed = true;
        }
    };
    match &mut *value {
        Value::Array(items) => items.iter_mut().for_each(&mut one),
        other => one(other),
    }
    changed.then(|| (Some(before), Some(value.clone())))
}

/// One line of a change record (`changes.ndjson`): a changed element of a repaired line. It holds the element's
/// value before and after, so it is patient data: written only where the person asked, readable by them alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub file: String,
    pub line: u64,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The rule's index in the plan, or `None` for a repair made by hand.
    pub rule: Option<usize>,
}

/// Writes change records (NDJSON, as [`repair_file`] writes them) as CSV for an audit: a header, then one row per
/// changed element (`file, line, resourceType, resourceId, path, before, after, rule`, values as JSON text,
/// `rule` counted from 1 and empty for a repair by hand). Returns the rows written.
pub fn changes_to_csv(records: impl BufRead, out: &mut dyn Write) -> std::io::Result<u64> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(["file", "line", "resourceType", "resourceId", "path", "before", "after", "rule"])?;
    let mut rows = 0;
    for line in records.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: ChangeRecord = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        let json = |v: &Option<Value>| v.as_ref().map_or_else(String::new, Value::to_string);
        csv.write_record([
            record.file,
            record.line.to_string(),
            record.resource_type.unwrap_or_default(),
            record.resource_id.unwrap_or_default(),
            record.path,
            json(&record.before),
            json(&record.after),
            record.rule.map_or_else(String::new, |r| (r + 1).to_string()),
        ])?;
        rows += 1;
    }
    csv.flush()?;
    Ok(rows)
}

/// What repairing one file did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRepair {
    pub lines: u64,
    /// Lines a rule changed.
    pub changed: u64,
    /// Per rule of the plan, how many lines it changed.
    pub by_rule: Vec<u64>,
    /// Lines HealthLake would still reject after the repair, at the level checked.
    pub still_invalid: u64,
    /// The first of those (line numbers), for a look.
    pub still_invalid_lines: Vec<u64>,
    /// Lines replaced by a repair made by hand (the app's; the CLI makes none).
    #[serde(skip)]
    pub by_hand: u64,
}

/// Lines repaired by hand, by 1-based line number: each is written in place of its line, whole.
pub type ByHand = BTreeMap<u64, String>;

/// How many still-invalid line numbers a [`FileRepair`] lists.
const LISTED_INVALID: usize = 100;

/// Repairs a file with a plan, streaming: every line is written to `out` (changed or as it was, blank lines
/// too, so line numbers stay), each written line is checked as HealthLake would check it, and every change goes
/// to `changes` as a [`ChangeRecord`]. `out` is written whole or not at all, 0600.
pub fn repair_file(
    plan: &RepairPlan,
    input: &Path,
    label: &str,
    out: &Path,
    options: &Options,
    changes: &mut dyn Write,
) -> Result<FileRepair, FilesError> {
    let mut failure: Option<FilesError> = None;
    let mut report = FileRepair::default();
    write_private(out, |writer| {
        report = repair_into(plan, &ByHand::new(), input, label, writer, options, changes)
            .map_err(|e| std::io::Error::other(store(&mut failure, e)))?;
        Ok(())
    })
    .map_err(|e| failure.take().unwrap_or(e))?;
    Ok(report)
}

fn store(slot: &mut Option<FilesError>, e: FilesError) -> String {
    let text = e.to_string();
    *slot = Some(e);
    text
}

/// [`repair_file`] with lines repaired by hand (written in their place, recorded with `rule` `None`), into any
/// writer: the app's fixed copy, or nothing at all for a preview of what a plan would do.
pub fn repair_into(
    plan: &RepairPlan,
    by_hand: &ByHand,
    input: &Path,
    label: &str,
    writer: &mut dyn Write,
    options: &Options,
    changes: &mut dyn Write,
) -> Result<FileRepair, FilesError> {
    let read_err = |source| FilesError::Io { path: input.to_path_buf(), source };
    let mut reader = open_lines(input).map_err(read_err)?;
    let mut report = FileRepair { by_rule: vec![0; plan.rules.len()], ..FileRepair::default() };
    let write_err = |source| FilesError::Io { path: input.to_path_buf(), source };
    let mut run = || -> Result<(), FilesError> {
        let mut block: Vec<Vec<u8>> = Vec::with_capacity(BLOCK_LINES);
        loop {
            block.clear();
            while block.len() < BLOCK_LINES {
                let mut buf = Vec::new();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return Err(read_err(e)),
                }
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                block.push(buf);
            }
            if block.is_empty() {
                break;
            }
            // Lines are repaired and checked on every core; written, counted and recorded in order.
            let first = report.lines + 1;
            let processed: Vec<Processed> = block
                .par_iter()
                .enumerate()
                .map(|(i, line)| Processed::of(plan, by_hand, first + i as u64, line, options))
                .collect();
            for (line, processed) in block.iter().zip(processed) {
                report.lines += 1;
                if processed.rejected {
                    report.note_invalid();
                }
                if let Some(edited) = by_hand.get(&report.lines) {
                    report.by_hand += 1;
                    let records = crate::quickfix::record_line_by_hand(
                        label,
                        report.lines,
                        line,
                        edited.as_bytes(),
                        (None, None),
                    );
                    for record in records {
                        serde_json::to_writer(&mut *changes, &record)
                            .map_err(std::io::Error::from)
                            .map_err(write_err)?;
                        changes.write_all(b"\n").map_err(write_err)?;
                    }
                    writer.write_all(edited.as_bytes()).map_err(write_err)?;
                    writer.write_all(b"\n").map_err(write_err)?;
                    continue;
                }
                let LineRepair::Changed { line: fixed, changes: changed, resource_type, resource_id } =
                    processed.repair
                else {
                    writer.write_all(line).map_err(write_err)?;
                    writer.write_all(b"\n").map_err(write_err)?;
                    continue;
                };
                report.changed += 1;
                let mut rules: Vec<usize> = changed.iter().map(|c| c.rule).collect();
                rules.dedup();
                for rule in rules {
                    report.by_rule[rule] += 1;
                }
                for change in changed {
                    let record = ChangeRecord {
                        file: label.to_string(),
                        line: report.lines,
                        resource_type: resource_type.clone(),
                        resource_id: resource_id.clone(),
                        path: change.path,
                        before: change.before,
                        after: change.after,
                        rule: Some(change.rule),
                    };
                    serde_json::to_writer(&mut *changes, &record)
                        .map_err(std::io::Error::from)
                        .map_err(write_err)?;
                    changes.write_all(b"\n").map_err(write_err)?;
                }
                writer.write_all(fixed.as_bytes()).map_err(write_err)?;
                writer.write_all(b"\n").map_err(write_err)?;
            }
        }
        Ok(())
    };
    run()?;
    Ok(report)
}

/// Lines repaired and checked together, on every core.
const BLOCK_LINES: usize = 4096;

/// One line, repaired and checked.
struct Processed {
    repair: LineRepair,
    /// The written line (repaired or not) would be rejected.
    rejected: bool,
}

impl Processed {
    fn of(plan: &RepairPlan, by_hand: &ByHand, line_no: u64, line: &[u8], options: &Options) -> Processed {
        let edited = by_hand.get(&line_no);
        let repair = if edited.is_some() { LineRepair::Unchanged } else { plan.repair(line) };
        let written = match (&repair, edited) {
            (_, Some(edited)) => edited.as_bytes(),
            (LineRepair::Changed { line, .. }, None) => line.as_bytes(),
            (LineRepair::Unchanged, None) => line,
        };
        let blank = written.iter().all(u8::is_ascii_whitespace);
        let rejected = !blank && check_line(line_no, written, options).rejected;
        Processed { repair, rejected }
    }
}

impl FileRepair {
    fn note_invalid(&mut self) {
        self.still_invalid += 1;
        if self.still_invalid_lines.len() < LISTED_INVALID {
            self.still_invalid_lines.push(self.lines);
        }
    }
}

fn valid_zone(zone: &str) -> bool {
    let b = zone.as_bytes();
    zone == "Z"
        || (b.len() == 6
            && (b[0] == b'+' || b[0] == b'-')
            && b[1..3].iter().all(u8::is_ascii_digit)
            && b[3] == b':'
            && b[4..6].iter().all(u8::is_ascii_digit))
}

/// A date pattern: fields and the literal text between them.
#[derive(Debug)]
struct DatePattern {
    parts: Vec<Part>,
    has_time: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

#[derive(Debug)]
enum Part {
    Field(Field),
    Literal(char),
}

impl DatePattern {
    fn parse(pattern: &str) -> Result<DatePattern, String> {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            let field = [
                ("YYYY", Field::Year),
                ("MM", Field::Month),
                ("DD", Field::Day),
                ("hh", Field::Hour),
                ("mm", Field::Minute),
                ("ss", Field::Second),
            ]
            .into_iter()
            .find(|(token, _)| rest.starts_with(token));
            match field {
                Some((token, field)) => {
                    parts.push(Part::Field(field));
                    rest = &rest[token.len()..];
                }
                None => {
                    let c = rest.chars().next().unwrap_or(' ');
                    if c.is_ascii_alphanumeric() {
                        return Err(format!(
                            "`{pattern}` has `{c}` outside YYYY, MM, DD, hh, mm and ss: write fields in those letters"
                        ));
                    }
                    parts.push(Part::Literal(c));
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        let has = |f: Field| parts.iter().any(|p| matches!(p, Part::Field(x) if *x == f));
        if !(has(Field::Year) && has(Field::Month) && has(Field::Day)) {
            return Err(format!("`{pattern}` needs YYYY, MM and DD"));
        }
        let has_time = has(Field::Hour);
        if has(Field::Minute) && !has_time || has(Field::Second) && !has(Field::Minute) {
            return Err(format!("`{pattern}` has minutes or seconds without the hour"));
        }
        Ok(DatePattern { parts, has_time })
    }

    /// The value in FHIR's form, if it matches the pattern and is a real date and time.
    fn reformat(&self, value: &str, zone: Option<&str>) -> Option<String> {
        let mut fields: BTreeMap<u8, u32> = BTreeMap::new();
        let mut rest = value;
        for part in &self.parts {
            match part {
                Part::Literal(c) => rest = rest.strip_prefix(*c)?,
                Part::Field(field) => {
                    let width = if *field == Field::Year { 4 } else { 2 };
                    // One-digit months, days and hours are common in exports (`3/7/1965`).
                    let digits = rest.chars().take_while(char::is_ascii_digit).take(width).count();
                    if digits == 0 || (*field == Field::Year && digits != 4) {
                        return None;
                    }
                    fields.insert(*field as u8, rest[..digits].parse().ok()?);
                    rest = &rest[digits..];
                }
            }
        }
        if !rest.is_empty() {
            return None;
        }
        let get = |f: Field| fields.get(&(f as u8)).copied();
        let (year, month, day) = (get(Field::Year)?, get(Field::Month)?, get(Field::Day)?);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        if !(1..=12).contains(&month) || day == 0 || day > days[month as usize - 1] {
            return None;
        }
        let date = format!("{year:04}-{month:02}-{day:02}");
        if !self.has_time {
            return Some(date);
        }
        let (hour, minute, second) =
            (get(Field::Hour)?, get(Field::Minute).unwrap_or(0), get(Field::Second).unwrap_or(0));
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        Some(format!("{date}T{hour:02}:{minute:02}:{second:02}{}", zone?))
    }
}

/// `value` read with `pattern` (as a `reformat-date` rule reads it) in FHIR's form, when it matches and is a real
/// date and time; `None` also when the pattern itself is not one.
pub(crate) fn reformat_date(value: &str, pattern: &str, zone: Option<&str>) -> Option<String> {
    DatePattern::parse(pattern).ok()?.reformat(value, zone)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn plan(rules: Value) -> RepairPlan {
        RepairPlan::parse(&json!({"version": 1, "rules": rules}).to_string()).expect("plan")
    }

    fn changed(plan: &RepairPlan, line: &Value) -> (Value, Vec<Change>) {
        match plan.repair(line.to_string().as_bytes()) {
            LineRepair::Changed { line, changes, .. } => {
                (serde_json::from_str(&line).expect("json"), changes)
            }
            LineRepair::Unchanged => panic!("unchanged: {line}"),
        }
    }

    #[test]
    fn codes_are_replaced_by_the_map_and_recorded_with_their_path() {
        let p = plan(json!([{"resourceType": "Patient", "path": "gender", "action": "replace-code",
                             "map": {"M": "male", "F": "female"}}]));
        let (fixed, changes) = changed(&p, &json!({"resourceType": "Patient", "id": "a", "gender": "M"}));
        assert_eq!(fixed["gender"], "male");
        assert_eq!(
            changes,
            vec![Change {
                rule: 0,
                path: "gender".into(),
                before: Some(json!("M")),
                after: Some(json!("male"))
            }]
        );
        assert_eq!(p.repair(br#"{"resourceType":"Patient","gender":"male"}"#), LineRepair::Unchanged);
        assert_eq!(
            p.repair(br#"{"resourceType":"Person","gender":"M"}"#),
            LineRepair::Unchanged,
            "another type"
        );
    }

    #[test]
    fn paths_step_through_arrays_and_remove_takes_the_element_everywhere() {
        let p = plan(json!([{"resourceType": "*", "path": "name.period", "action": "remove"}]));
        let line = json!({"resourceType": "Patient", "name": [{"family": "A", "period": {}}, {"family": "B"},
                                                               {"period": {"start": "2020"}}]});
        let (fixed, changes) = changed(&p, &line);
        assert!(fixed["name"].as_array().expect("names").iter().all(|n| n.get("period").is_none()));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["name[0].period", "name[2].period"]);
    }

    #[test]
    fn dates_are_reformatted_from_the_stated_pattern_when_they_are_real() {
        let p = plan(json!([{"resourceType": "Patient", "path": "birthDate", "action": "reformat-date",
                             "from": "MM/DD/YYYY"}]));
        let (fixed, _) = changed(&p, &json!({"resourceType": "Patient", "birthDate": "3/07/1965"}));
        assert_eq!(fixed["birthDate"], "1965-03-07");
        for untouched in ["1965-03-07", "02/30/1965", "13/01/1965", "03/07/65"] {
            let line = json!({"resourceType": "Patient", "birthDate": untouched}).to_string();
            assert_eq!(p.repair(line.as_bytes()), LineRepair::Unchanged, "{untouched}");
        }
        let timed =
            plan(json!([{"resourceType": "Encounter", "path": "period.start", "action": "reformat-date",
                                 "from": "DD.MM.YYYY hh:mm", "zone": "+01:00"}]));
        let (fixed, _) =
            changed(&timed, &json!({"resourceType": "Encounter", "period": {"start": "07.03.2021 09:05"}}));
        assert_eq!(fixed["period"]["start"], "2021-03-07T09:05:00+01:00");
    }

    #[test]
    fn set_adds_a_missing_element_and_never_overwrites() {
        let p = plan(
            json!([{"resourceType": "Observation", "path": "status", "action": "set", "value": "final"}]),
        );
        let (fixed, changes) = changed(&p, &json!({"resourceType": "Observation", "code": {"text": "x"}}));
        assert_eq!(fixed["status"], "final");
        assert_eq!(changes[0].before, None);
        assert_eq!(p.repair(br#"{"resourceType":"Observation","status":"amended"}"#), LineRepair::Unchanged);
    }

    #[test]
    fn a_plan_that_cannot_work_says_why() {
        let bad = |rules: Value| {
            RepairPlan::parse(&json!({"version": 1, "rules": rules}).to_string()).expect_err("bad").0
        };
        assert!(
            bad(json!([{"resourceType": "Patient", "path": "birth Date", "action": "remove"}]))
                .contains("path")
        );
        assert!(bad(json!([{"resourceType": "Patient", "path": "x", "action": "reformat-date", "from": "YYYY-MM-DD hh:mm"}]))
            .contains("needs `zone`"));
        assert!(bad(json!([{"resourceType": "Patient", "path": "x", "action": "reformat-date", "from": "DD/MM/YY"}]))
            .contains("YYYY"));
        assert!(
            bad(json!([{"resourceType": "Patient", "path": "x", "action": "replace-code", "map": {}}]))
                .contains("map")
        );
        assert!(
            bad(json!([{"resourceType": "Patient", "path": "x", "action": "rename"}]))
                .contains("not a repair plan")
        );
        let version = RepairPlan::parse(r#"{"version": 2, "rules": []}"#).expect_err("version").0;
        assert!(version.contains("version 2"), "{version}");
    }

    #[test]
    fn a_file_is_repaired_line_by_line_with_every_change_recorded_and_what_is_still_invalid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("Patient.ndjson");
        let lines = [
            r#"{"resourceType":"Patient","id":"a","gender":"M"}"#,
            "",
            r#"{"resourceType":"Patient","id":"b","gender":"female"}"#,
            r#"{"resourceType":"Patient","id":"c","gender":"X"}"#,
        ];
        std::fs::write(&input, lines.join("\n") + "\n").expect("write");
        let p = plan(
            json!([{"resourceType": "Patient", "path": "gender", "action": "replace-code", "map": {"M": "male"}}]),
        );
        let out = dir.path().join("out.ndjson");
        let mut changes = Vec::new();
        let report = repair_file(&p, &input, "Patient.ndjson", &out, &Options::default(), &mut changes)
            .expect("repair");
        assert_eq!((report.lines, report.changed, report.by_rule.clone()), (4, 1, vec![1]));
        assert_eq!(
            (report.still_invalid, report.still_invalid_lines.clone()),
            (1, vec![4]),
            "gender X stays invalid"
        );
        let written = std::fs::read_to_string(&out).expect("out");
        let written: Vec<&str> = written.lines().collect();
        assert_eq!(written.len(), 4, "blank lines kept, so line numbers hold");
        assert_eq!(written[2], lines[2], "an untouched line is written byte for byte");
        assert!(written[0].contains(r#""gender":"male""#));
        let record: ChangeRecord =
            serde_json::from_slice(changes.strip_suffix(b"\n").expect("a line")).expect("record");
        assert_eq!(
            (record.line, record.resource_id.as_deref(), record.path.as_str()),
            (1, Some("a"), "gender")
        );
        assert_eq!((record.before, record.after), (Some(json!("M")), Some(json!("male"))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn change_records_become_csv_rows_with_json_values() {
        let record = ChangeRecord {
            file: "a, b.ndjson".into(),
            line: 7,
            resource_type: Some("Patient".into()),
            resource_id: Some("p1".into()),
            path: "name[0].family".into(),
            before: Some(json!("O\"Brien")),
            after: None,
            rule: Some(0),
        };
        let text = format!("{}\n", serde_json::to_string(&record).expect("json"));
        let mut out = Vec::new();
        assert_eq!(changes_to_csv(text.as_bytes(), &mut out).expect("csv"), 1);
        let csv = String::from_utf8(out).expect("utf-8");
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "file,line,resourceType,resourceId,path,before,after,rule");
        assert_eq!(rows[1], r#""a, b.ndjson",7,Patient,p1,name[0].family,"""O\""Brien""",,1"#);
    }

    #[test]
    fn lines_that_are_not_objects_are_left_alone() {
        let p = plan(json!([{"resourceType": "*", "path": "x", "action": "remove"}]));
        for line in [&b"not json"[..], b"[1,2]", b""] {
            assert_eq!(p.repair(line), LineRepair::Unchanged);
        }
    }
}
