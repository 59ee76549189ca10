//! The shapes of the generated R4 tables in `model.rs`, and lookups over them.

use super::model::{CODE_SETS, CODING_SETS, ELEMENTS, RESOURCES, TYPES};

/// A FHIR primitive type; each has its own JSON type and lexical rules (see `primitive.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    Base64Binary,
    Boolean,
    Canonical,
    Code,
    Date,
    DateTime,
    Decimal,
    Id,
    Instant,
    Integer,
    Markdown,
    Oid,
    PositiveInt,
    String,
    Time,
    UnsignedInt,
    Uri,
    Url,
    Uuid,
    Xhtml,
}

impl Prim {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Prim::Base64Binary => "base64Binary",
            Prim::Boolean => "boolean",
            Prim::Canonical => "canonical",
            Prim::Code => "code",
            Prim::Date => "date",
            Prim::DateTime => "dateTime",
            Prim::Decimal => "decimal",
            Prim::Id => "id",
            Prim::Instant => "instant",
            Prim::Integer => "integer",
            Prim::Markdown => "markdown",
            Prim::Oid => "oid",
            Prim::PositiveInt => "positiveInt",
            Prim::String => "string",
            Prim::Time => "time",
            Prim::UnsignedInt => "unsignedInt",
            Prim::Uri => "uri",
            Prim::Url => "url",
            Prim::Uuid => "uuid",
            Prim::Xhtml => "xhtml",
        }
    }
}

/// What a JSON member holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Prim(Prim),
    /// A complex data type or an inline (backbone) element: an index into `TYPES`.
    Complex(u16),
    /// Any resource, named by its own `resourceType` (`contained`, `Bundle.entry.resource`).
    Resource,
}

/// One JSON member of a type: `birthDate`, `valueQuantity` (choice types are expanded).
#[derive(Debug)]
pub(crate) struct Element {
    pub name: &'static str,
    pub kind: Kind,
    /// 1 when the element is required.
    pub min: u8,
    /// The element is a JSON array.
    pub many: bool,
    /// 0, or the 1-based choice group within the type (`value[x]`), of which at most one member may appear.
    pub choice: u8,
    /// 0, or for a required binding the closed list a value must come from: for a `code`, an index in
    /// `CODE_SETS`; for a Coding or CodeableConcept, an index in `CODING_SETS`.
    pub codes: u16,
    /// An invariant of the type reads this member's value or its count, so the walk keeps it.
    pub watch: bool,
}

/// An R4 invariant (a FHIRPath constraint) compiled at generation time into what one object's own members
/// decide; see `gen/fhirpath.py` for the subset. Member numbers are positions in `Type::members()`.
#[derive(Debug)]
pub(crate) enum Expr {
    /// The member is present, with a value or an extension.
    Exists(u16),
    /// A member of the 1-based choice group is present.
    Chosen(u8),
    /// The primitive member has a value (not only an extension).
    HasValue(u16),
    /// How many items the member has.
    Count(u16),
    /// The value of a single-valued primitive member (a watched one); empty when absent.
    Value(u16),
    /// The same, of a number member.
    Number(u16),
    /// The same, of a date, dateTime, instant or time member, which order by FHIRPath's precision rules.
    Temporal(u16),
    Bool(bool),
    Num(f64),
    Str(&'static str),
    StartsWith(&'static Expr, &'static str),
    /// The number member was written with a fraction (`value.toString().contains('.')`).
    Fractional(u16),
    /// The CodeableConcept member has a coding of this system with one of these codes (false when absent).
    HasCoding(u16, &'static str, &'static [&'static str]),
    /// Any item of the repeating code member is in the list; empty when the member is absent.
    AnyIn(u16, &'static [&'static str]),
    Contains(&'static Expr, &'static str),
    Not(&'static Expr),
    And(&'static Expr, &'static Expr),
    Or(&'static Expr, &'static Expr),
    Xor(&'static Expr, &'static Expr),
    Implies(&'static Expr, &'static Expr),
    Eq(&'static Expr, &'static Expr),
    Ne(&'static Expr, &'static Expr),
    /// `a <= b`; `a >= b` is written `Le(b, a)`.
    Le(&'static Expr, &'static Expr),
    /// `a > b`; `a < b` is written `Gt(b, a)`.
    Gt(&'static Expr, &'static Expr),
    Add(&'static Expr, &'static Expr),
    In(&'static Expr, &'static [&'static str]),
}

/// One error-severity invariant of a type, as the definitions state it.
#[derive(Debug)]
pub(crate) struct Invariant {
    /// `ext-1`, `pat-1`.
    pub key: &'static str,
    /// The definitions' own words for the rule.
    pub human: &'static str,
    pub expr: Expr,
}

/// A complex data type, a resource, or an inline element, with its members `ELEMENTS[start..start + len]`,
/// sorted by name length, then name (see `member`).
#[derive(Debug)]
pub(crate) struct Type {
    /// `Patient`, `HumanName`, `Patient.contact`.
    pub name: &'static str,
    pub resource: bool,
    pub start: u16,
    pub len: u16,
    /// The base names of the choice groups (`value` for `value[x]`), by 1-based group number.
    pub choices: &'static [&'static str],
    /// The type's own invariants that compile to member checks.
    pub invariants: &'static [Invariant],
}

impl Type {
    pub(crate) fn members(&self) -> &'static [Element] {
        &ELEMENTS[self.start as usize..self.start as usize + self.len as usize]
    }

    /// The member named `key` and its position in `members()`.
    pub(crate) fn member(&self, key: &str) -> Option<(usize, &'static Element)> {
        let members = self.members();
        // The order the generator sorts in: most probes settle on the length alone.
        members
            .binary_search_by(|e| {
                e.name.len().cmp(&key.len()).then_with(|| e.name.as_bytes().cmp(key.as_bytes()))
            })
            .ok()
            .map(|i| (i, &members[i]))
    }
}

pub(crate) fn type_at(index: u16) -> &'static Type {
    &TYPES[index as usize]
}

/// The definition of an R4 resource type.
pub(crate) fn resource(name: &str) -> Option<&'static Type> {
    RESOURCES.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| type_at(RESOURCES[i].1))
}

/// Whether `name` is one of FHIR R4's resource types (case-sensitive).
pub fn is_r4_resource_type(name: &str) -> bool {
    resource(name).is_some()
}

/// The closed code list of a required binding, and its value set's URL.
pub(crate) fn code_set(index: u16) -> (&'static str, &'static [&'static str]) {
    CODE_SETS[index as usize]
}

/// The closed (system, code) list of a required binding on a Coding or CodeableConcept, and its value set's URL.
pub(crate) fn coding_set(index: u16) -> (&'static str, &'static [(&'static str, &'static str)]) {
    CODING_SETS[index as usize]
}

/// What R4 says about one element, for tools that help fix a resource (the app's quick fixes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementInfo {
    /// The element's type: a primitive (`code`, `dateTime`), a data type (`CodeableConcept`), an inline element
    /// (`Patient.contact`), or `Resource`.
    pub type_name: &'static str,
    pub primitive: bool,
    pub required: bool,
    pub many: bool,
    /// For a `code` with a required binding: the codes allowed.
    pub codes: &'static [&'static str],
    /// For a Coding or CodeableConcept with a required binding: the (system, code) pairs allowed.
    pub codings: &'static [(&'static str, &'static str)],
}

/// The element at a FHIR path as the validator reports it (`Patient.gender`, `Patient.name[0].use`), when the
/// path names one of R4's elements. Paths into a contained resource or a Bundle entry's resource, which R4 types
/// by their own `resourceType`, are not followed.
pub fn element_at(path: &str) -> Option<ElementInfo> {
    let mut steps = path.split('.').map(|s| s.split_once('[').map_or(s, |(name, _)| name));
    let mut ty = resource(steps.next()?)?;
    let mut found: Option<&'static Element> = None;
    for step in steps {
        if let Some(element) = found {
            match element.kind {
                Kind::Complex(index) => ty = type_at(index),
                Kind::Prim(_) | Kind::Resource => return None,
            }
        }
        found = Some(ty.member(step)?.1);
    }
    let element = found?;
    let (type_name, primitive) = match element.kind {
        Kind::Prim(prim) => (prim.name(), true),
        Kind::Complex(index) => (type_at(index).name, false),
        Kind::Resource => ("Resource", false),
    };
    let (mut codes, mut codings): (&[&str], &[(&str, &str)]) = (&[], &[]);
    if element.codes > 0 {
        if primitive {
            codes = code_set(element.codes).1;
        } else {
            codings = coding_set(element.codes).1;
        }
    }
    Some(ElementInfo { type_name, primitive, required: element.min > 0, many: element.many, codes, codings })
}
