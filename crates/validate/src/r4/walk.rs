//! One pass over a line's JSON that checks it against the R4 tables while serde_json parses it: no tree is
//! built, keys are compared in place, and only problems allocate.
//!
//! Objects are checked member by member as they stream past. A resource whose `resourceType` is not its first
//! member (rare: exporters write it first) has its earlier members held as raw JSON text until the type is known.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::model::{
    CODEABLE_CONCEPT_TYPE, CODING_TYPE, ELEMENT_TYPE, MAX_MEMBERS, META_TYPE, RANGE_TYPE, REFERENCE_TYPE,
};
use super::primitive::check_str;
use super::schema::{Element, Expr, Kind, Prim, Type, code_set, coding_set, resource, type_at};
use crate::Code;

/// A problem found by the walk; the caller decides its severity from the code and the validation level.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub code: Code,
    pub path: String,
    pub message: String,
}

/// What the line's top-level value turned out to be.
#[derive(Debug, Clone, Default)]
pub(crate) enum Root {
    /// Not a JSON object: the JSON kind found.
    NotObject(&'static str),
    /// An object without `resourceType`.
    #[default]
    Untyped,
    /// `resourceType` is not a string: the JSON kind found.
    TypeNotString(&'static str),
    /// `resourceType` is a string that names no R4 resource (syntax is checked by the caller).
    Unknown(String),
    Typed(&'static str),
}

/// The top-level resource's `id`.
#[derive(Debug, Clone, Default)]
pub(crate) enum RootId {
    #[default]
    Missing,
    Str(String),
    NotString(&'static str),
}

#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub root: Root,
    pub id: RootId,
    pub found: Vec<Found>,
}

/// Parses and checks one line. `Err` is a JSON syntax error (including trailing content after the value).
pub(crate) fn walk(text: &str, invariants: bool) -> Result<Outcome, serde_json::Error> {
    let mut walk = Walk { invariants, ..Walk::default() };
    let mut de = serde_json::Deserializer::from_str(text);
    // serde_json stops at 128 levels; R4 sets no limit, so the walk keeps its own (MAX_DEPTH), growing the
    // stack as it goes down.
    de.disable_recursion_limit();
    let result = RootSeed { walk: &mut walk }.deserialize(&mut de).and_then(|()| de.end());
    if let Some(path) = walk.too_deep.take() {
        walk.outcome.found.push(Found {
            code: Code::InvalidValue,
            path,
            message: format!(
                "the resource nests more than {MAX_DEPTH} levels deep, and Lakedrop checks resources only to that depth (R4 itself sets no limit); flatten the nesting or split the resource"
            ),
        });
        return Ok(walk.outcome);
    }
    result?;
    Ok(walk.outcome)
}

/// R4: "strings SHALL NOT exceed 1 MB in size" (every string-based primitive; binary data and the narrative's
/// XHTML are not strings).
const MAX_STRING_BYTES: usize = 1024 * 1024;

/// How many levels of objects and arrays the walk follows; deeper, the line is reported, not checked.
pub(crate) const MAX_DEPTH: usize = 10_000;

#[derive(Debug, Clone, Copy)]
enum Seg {
    Name(&'static str),
    /// The `_name` companion of a primitive (its id and extensions).
    Ext(&'static str),
    Index(u32),
}

/// What the walk keeps of a watched member for the type's invariants.
#[derive(Debug)]
enum Captured {
    Str(String),
    Bool(bool),
    /// A number, and whether it was written with a fraction or an exponent.
    Num(f64, bool),
    Count(u32),
    /// The items of a repeating string member.
    Strs(Vec<String>),
    /// The (system, code) of each coding of a CodeableConcept or Coding member.
    Codings(Vec<(Option<String>, String)>),
}

/// The local (`#id`) references and contained resources of one resource (the top-level one, or a Bundle
/// entry's), for ref-1 and dom-3. Contained resources share their container's scope.
#[derive(Default)]
struct Scope {
    /// The resource nesting level (`Walk::level`) it belongs to.
    level: u32,
    /// Each contained resource: its path and its id once seen.
    contained: Vec<(String, Option<String>)>,
    /// Each `#...` reference: its path, what follows `#`, whether it is a Reference (ref-1 applies) and the
    /// contained resource it was found in.
    refs: Vec<(String, String, bool, Option<usize>)>,
    /// The contained resource being walked.
    current: Option<usize>,
}

/// A Coding or CodeableConcept with a required binding, being walked: which of its codings come from the list.
struct Binding {
    set: u16,
    /// The path length of the Coding objects the binding applies to.
    depth: usize,
    /// The system and code of the Coding being read.
    system: Option<String>,
    code: Option<String>,
    /// Codings that had a code, whether one was in the list, and the first that was not.
    coded: u32,
    matched: bool,
    first_bad: Option<(Option<String>, String)>,
    /// Every coding read, when an invariant of the owning type looks at them (the element is watched).
    all: Option<Vec<(Option<String>, String)>>,
}

impl Binding {
    fn finish_coding(&mut self) {
        let Some(code) = self.code.take() else { return };
        let system = self.system.take();
        if let Some(all) = &mut self.all {
            all.push((system.clone(), code.clone()));
        }
        if self.set == 0 {
            return;
        }
        self.coded += 1;
        let (_, codings) = coding_set(self.set);
        let known = match &system {
            Some(system) => codings.binary_search(&(system.as_str(), code.as_str())).is_ok(),
            // Without a system, a code that the list holds is taken as meant from it.
            None => codings.iter().any(|(_, c)| *c == code),
        };
        if known {
            self.matched = true;
        } else if self.first_bad.is_none() {
            self.first_bad = Some((system, code));
        }
    }
}

/// A Range being walked, for rng-2: the value and unit of its low and high.
#[derive(Default)]
struct RangeCheck {
    /// The path length of the Range's own members (`low`, `high`).
    depth: usize,
    low: (Option<f64>, Vec<String>),
    high: (Option<f64>, Vec<String>),
}

#[derive(Default)]
struct Walk {
    outcome: Outcome,
    path: Vec<Seg>,
    /// The value of the watched member being read, taken by its `MemberSeed`.
    capture: Option<Captured>,
    /// The `_name` object just read held only an `id`.
    bare_companion: bool,
    /// Scopes of the resources being walked that hold a contained resource or a local reference (made only
    /// then, so that most lines allocate none).
    scopes: Vec<Scope>,
    /// How many (non-contained) resources the walk is inside.
    level: u32,
    /// Evaluate R4's invariants (off only to measure what they cost).
    invariants: bool,
    /// The walk went deeper than `MAX_DEPTH`: where (its first levels).
    too_deep: Option<String>,
    /// Positions of the `null` items of the primitive array being read.
    nulls: Vec<u32>,
    /// The primitive array just read, for its `MemberSeed`: (is the `_name` companion, length, null positions);
    /// kept for every companion and for value arrays with a `null`.
    array: Option<(bool, u32, Vec<u32>)>,
    /// The innermost Coding or CodeableConcept with a required binding being walked.
    binding: Option<Binding>,
    /// The innermost Range being walked.
    range: Option<RangeCheck>,
}

impl Walk {
    /// The end of a Range's `low` or `high` that a value at the current path belongs to.
    fn range_end(&mut self) -> Option<&mut (Option<f64>, Vec<String>)> {
        let range = self.range.as_mut()?;
        if self.path.len() != range.depth + 2 {
            return None;
        }
        match self.path[range.depth] {
            Seg::Name("low") => Some(&mut range.low),
            Seg::Name("high") => Some(&mut range.high),
            _ => None,
        }
    }
}

impl Walk {
    fn path(&self, extra: Option<&str>) -> String {
        let mut out = String::with_capacity(48);
        for seg in &self.path {
            match seg {
                Seg::Name(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Seg::Ext(name) => {
                    out.push_str("._");
                    out.push_str(name);
                }
                Seg::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        if let Some(extra) = extra {
            out.push('.');
            out.push_str(extra);
        }
        out
    }

    fn report(&mut self, code: Code, extra: Option<&str>, message: String) {
        let path = self.path(extra);
        self.outcome.found.push(Found { code, path, message });
    }

    /// Whether the object being walked is a contained resource (`...contained[i]`).
    fn in_contained(&self) -> bool {
        matches!(self.path.as_slice(), [.., Seg::Name("contained"), Seg::Index(_)])
    }

    /// Whether the object being walked is the `meta` of a contained resource.
    fn in_contained_meta(&self) -> bool {
        matches!(self.path.as_slice(), [.., Seg::Name("contained"), Seg::Index(_), Seg::Name("meta")])
    }

    /// The scope of the resource being walked, made on first use.
    fn scope(&mut self) -> &mut Scope {
        if self.scopes.last().is_none_or(|s| s.level != self.level) {
            self.scopes.push(Scope { level: self.level, ..Scope::default() });
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn local_reference(&mut self, value: &str, reference: bool) {
        let path = self.path(None);
        let scope = self.scope();
        let current = scope.current;
        scope.refs.push((path, value[1..].to_string(), reference, current));
    }

    /// ref-1 and dom-3 over a finished resource's scope, if it has one.
    fn close_scope(&mut self) {
        let level = self.level;
        self.level -= 1;
        if self.scopes.last().is_none_or(|s| s.level != level) {
            return;
        }
        let Some(scope) = self.scopes.pop() else { return };
        for (path, target, reference, _) in &scope.refs {
            let known =
                target.is_empty() || scope.contained.iter().any(|(_, id)| id.as_deref() == Some(target));
            if *reference && !known {
                self.outcome.found.push(Found {
                    code: Code::Invariant,
                    path: path.clone(),
                    message: format!(
                        "#{} names no contained resource; add the resource to contained with that id, or fix the reference (R4 invariant ref-1)",
                        truncate(target, 64)
                    ),
                });
            }
        }
        for (k, (path, id)) in scope.contained.iter().enumerate() {
            let referenced = scope.refs.iter().any(|(_, target, _, from)| {
                id.as_deref() == Some(target.as_str()) || (target.is_empty() && *from == Some(k))
            });
            if !referenced {
                self.outcome.found.push(Found {
                    code: Code::Invariant,
                    path: path.clone(),
                    message: "the contained resource is referenced from nowhere in the resource; reference it as #id, or make it a resource of its own (R4 invariant dom-3)".into(),
                });
            }
        }
    }
}

/// Members seen in one object, to find duplicates, choice conflicts and missing required elements.
struct Seen {
    values: [u64; MAX_MEMBERS.div_ceil(64)],
    extensions: [u64; MAX_MEMBERS.div_ceil(64)],
    /// `_name` companions that held only an `id` (ele-1 when the value is missing too).
    bare: [u64; MAX_MEMBERS.div_ceil(64)],
    /// Per choice group (1-based, up to 31), whether a member appeared.
    choices: u32,
    any: bool,
    /// How many members appeared.
    count: u16,
    /// The values and counts of watched members, by position.
    captured: Vec<(u16, Captured)>,
    /// Primitive arrays and their companions whose `null`s must line up: (position, companion, length, nulls).
    arrays: Vec<(u16, bool, u32, Vec<u32>)>,
}

impl Seen {
    fn new() -> Self {
        Seen {
            values: [0; MAX_MEMBERS.div_ceil(64)],
            extensions: [0; MAX_MEMBERS.div_ceil(64)],
            bare: [0; MAX_MEMBERS.div_ceil(64)],
            choices: 0,
            any: false,
            count: 0,
            captured: Vec::new(),
            arrays: Vec::new(),
        }
    }

    fn captured(&self, i: u16) -> Option<&Captured> {
        self.captured.iter().find(|(j, _)| *j == i).map(|(_, c)| c)
    }

    /// Marks a member; false when it was already there (a duplicate key).
    fn mark(bits: &mut [u64], i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let fresh = bits[word] & bit == 0;
        bits[word] |= bit;
        fresh
    }

    fn has(bits: &[u64], i: usize) -> bool {
        bits[i / 64] & (1u64 << (i % 64)) != 0
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// Reads a value that should be a string, without failing when it is not: `Err(kind)` names what it was.
struct StringOrKind;

impl<'de> DeserializeSeed<'de> for StringOrKind {
    type Value = Result<String, &'static str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringOrKind {
    type Value = Result<String, &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Ok(v.to_string()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("number"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err("object"))
    }
}

struct RootSeed<'w> {
    walk: &'w mut Walk,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_object {
    ($($method:ident($($arg:ty)?) => $kind:literal),* $(,)?) => {
        $(fn $method<E>(self $(, _: $arg)?) -> Result<(), E> {
            self.walk.outcome.root = Root::NotObject($kind);
            Ok(())
        })*
    };
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a FHIR resource")
    }

    not_object! {
        visit_bool(bool) => "boolean",
        visit_i64(i64) => "number",
        visit_u64(u64) => "number",
        visit_f64(f64) => "number",
        visit_str(&str) => "string",
        visit_unit() => "null",
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.walk.outcome.root = Root::NotObject("array");
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        resource_members(self.walk, map, true)
    }
}

/// Walks the members of a resource object, the top-level one (`root`) or a contained one.
fn resource_members<'de, A: MapAccess<'de>>(walk: &mut Walk, mut map: A, root: bool) -> Result<(), A::Error> {
    let mut pending: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
    let mut resource_type: Option<Result<String, &'static str>> = None;
    while let Some(key) = map.next_key_seed(KeySeed)? {
        if key == "resourceType" {
            resource_type = Some(map.next_value_seed(StringOrKind)?);
            break;
        }
        pending.push((key, map.next_value::<&'de RawValue>()?));
    }
    let ty = match &resource_type {
        Some(Ok(name)) => resource(name),
        _ => None,
    };
    if root {
        walk.outcome.root = match resource_type {
            None => Root::Untyped,
            Some(Err(kind)) => Root::TypeNotString(kind),
            Some(Ok(name)) => match ty {
                Some(ty) => Root::Typed(ty.name),
                None => Root::Unknown(name),
            },
        };
    } else {
        match (&resource_type, ty) {
            (_, Some(_)) => {}
            (None, None) => walk.report(
                Code::MissingRequired,
                None,
                "a contained resource needs a resourceType; add one such as \"Patient\"".into(),
            ),
            (Some(Ok(name)), None) => walk.report(
                Code::UnknownResourceType,
                Some("resourceType"),
                format!("{name:?} is not a FHIR R4 resource type; check the spelling and case"),
            ),
            (Some(Err(kind)), None) => walk.report(
                Code::WrongType,
                Some("resourceType"),
                format!("resourceType must be a string, found a JSON {kind}"),
            ),
        }
    }

    let Some(ty) = ty else {
        // Without a known type only the top-level id can still be checked.
        for (key, raw) in pending {
            if root && key == "id" {
                walk.outcome.id = root_id(raw.get());
            }
        }
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if root && key == "id" {
                walk.outcome.id =
                    map.next_value_seed(StringOrKind)?.map_or_else(RootId::NotString, RootId::Str);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        return Ok(());
    };

    if root {
        walk.path.push(Seg::Name(ty.name));
    }
    let contained = !root && walk.in_contained();
    let outer = if !walk.invariants {
        None
    } else if contained {
        let path = walk.path(None);
        let scope = walk.scope();
        scope.contained.push((path, None));
        Some(scope.current.replace(scope.contained.len() - 1))
    } else {
        walk.level += 1;
        None
    };
    let mut seen = Seen::new();
    seen.any = true;
    for (key, raw) in pending {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        de.disable_recursion_limit();
        // The raw text is valid JSON already; an error here cannot happen and is ignored (going too deep is
        // recorded in the walk).
        let _ = MemberSeed { walk, ty, seen: &mut seen, key: &key, root }.deserialize(&mut de);
    }
    while let Some(key) = map.next_key_seed(KeySeed)? {
        if key == "resourceType" {
            walk.report(
                Code::DuplicateKey,
                Some("resourceType"),
                "resourceType appears twice; keep one".into(),
            );
            map.next_value::<IgnoredAny>()?;
            continue;
        }
        map.next_value_seed(MemberSeed { walk, ty, seen: &mut seen, key: &key, root })?;
    }
    finish_object(walk, ty, &seen);
    if !walk.invariants {
        // Nothing was collected for ref-1 and dom-2/3.
    } else if contained {
        if let Some((i, _)) = ty.member("contained")
            && (Seen::has(&seen.values, i))
        {
            walk.report(
                Code::Invariant,
                Some("contained"),
                "a contained resource cannot contain resources itself; move them into the containing resource's contained (R4 invariant dom-2)".into(),
            );
        }
        if let (Some(scope), Some(outer)) = (walk.scopes.last_mut(), outer) {
            scope.current = outer;
        }
    } else {
        walk.close_scope();
    }
    if root {
        walk.path.pop();
    }
    Ok(())
}

fn root_id(raw: &str) -> RootId {
    let mut de = serde_json::Deserializer::from_str(raw);
    match StringOrKind.deserialize(&mut de) {
        Ok(Ok(id)) => RootId::Str(id),
        Ok(Err(kind)) => RootId::NotString(kind),
        Err(_) => RootId::NotString("value"),
    }
}

/// Walks the members of a complex-type or backbone object.
fn object_members<'de, A: MapAccess<'de>>(
    walk: &mut Walk,
    ty: &'static Type,
    mut map: A,
) -> Result<(), A::Error> {
    let bound = std::ptr::eq(ty, type_at(CODING_TYPE))
        && walk.binding.as_ref().is_some_and(|b| b.depth == walk.path.len());
    let mut seen = Seen::new();
    while let Some(key) = map.next_key_seed(KeySeed)? {
        seen.any = true;
        map.next_value_seed(MemberSeed { walk, ty, seen: &mut seen, key: &key, root: false })?;
    }
    if bound && let Some(binding) = walk.binding.as_mut() {
        binding.finish_coding();
    }
    if !seen.any {
        walk.report(Code::InvalidValue, None, "empty object; leave the element out instead".into());
        return Ok(());
    }
    let id_only = walk.invariants
        && seen.count == 1
        && ty.member("id").is_some_and(|(i, _)| Seen::has(&seen.values, i));
    if id_only && std::ptr::eq(ty, type_at(ELEMENT_TYPE)) {
        // A primitive's `_name` companion: whether that breaks ele-1 depends on the value beside it.
        walk.bare_companion = true;
    } else if id_only {
        walk.report(
            Code::Invariant,
            None,
            format!(
                "this {} holds only an id; an element needs a value or other children, so add them or leave the element out (R4 invariant ele-1)",
                ty.name
            ),
        );
    }
    if walk.invariants && std::ptr::eq(ty, type_at(META_TYPE)) && walk.in_contained_meta() {
        for (name, key) in [("versionId", "dom-4"), ("lastUpdated", "dom-4"), ("security", "dom-5")] {
            if ty
                .member(name)
                .is_some_and(|(i, _)| Seen::has(&seen.values, i) || Seen::has(&seen.extensions, i))
            {
                walk.report(
                    Code::Invariant,
                    Some(name),
                    format!(
                        "a contained resource cannot have meta.{name}; only the containing resource has one, so remove it (R4 invariant {key})"
                    ),
                );
            }
        }
    }
    finish_object(walk, ty, &seen);
    Ok(())
}

/// Required members and required choice groups that never appeared.
fn finish_object(walk: &mut Walk, ty: &'static Type, seen: &Seen) {
    let mut groups_required = 0u32;
    for (i, element) in ty.members().iter().enumerate() {
        if element.min == 0 {
            continue;
        }
        if element.choice > 0 {
            groups_required |= 1 << element.choice;
        } else if !Seen::has(&seen.values, i) && !Seen::has(&seen.extensions, i) {
            walk.report(
                Code::MissingRequired,
                Some(element.name),
                format!("{} is required in {}; add it", element.name, ty.name),
            );
        }
    }
    for (i, companion, _, nulls) in &seen.arrays {
        if *companion {
            continue;
        }
        let name = ty.members()[*i as usize].name;
        let partner = seen.arrays.iter().find(|(j, c, _, _)| j == i && *c);
        for k in nulls {
            let filled = partner.is_some_and(|(_, _, len, empty)| k < len && !empty.contains(k));
            if !filled {
                walk.report(
                    Code::InvalidValue,
                    Some(&format!("{name}[{k}]")),
                    format!(
                        "null in {name} stands only for an item whose extension is in _{name}[{k}], and there is none; remove the null or add the extension"
                    ),
                );
            }
        }
    }
    if !walk.invariants {
        return finish_choices(walk, ty, seen, groups_required);
    }
    let bare = seen.bare.iter().any(|w| *w != 0);
    for (i, element) in ty.members().iter().enumerate().filter(|_| bare) {
        if Seen::has(&seen.bare, i) && !Seen::has(&seen.values, i) {
            let name = format!("_{}", element.name);
            walk.report(
                Code::Invariant,
                Some(&name),
                format!(
                    "{name} holds only an id and {} has no value; give it a value or extensions, or leave both out (R4 invariant ele-1)",
                    element.name
                ),
            );
        }
    }
    for invariant in ty.invariants {
        if matches!(eval(&invariant.expr, seen), Val::Bool(false)) {
            walk.report(
                Code::Invariant,
                None,
                format!("{}: {} (R4 invariant {})", ty.name, invariant.human, invariant.key),
            );
        }
    }
    finish_choices(walk, ty, seen, groups_required);
}

/// Required choice groups that never appeared.
fn finish_choices(walk: &mut Walk, ty: &'static Type, seen: &Seen, groups_required: u32) {
    for (g, base) in ty.choices.iter().enumerate() {
        let group = g as u32 + 1;
        if groups_required & (1 << group) != 0 && seen.choices & (1 << group) == 0 {
            let name = format!("{base}[x]");
            walk.report(
                Code::MissingRequired,
                Some(&name),
                format!(
                    "{name} is required in {}; add one of its forms such as {base}{}",
                    ty.name,
                    first_form(ty, group)
                ),
            );
        }
    }
}

/// A FHIRPath value as far as the compiled invariants need one: empty, or a single boolean, integer or string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Empty,
    Bool(bool),
    Num(f64),
    Str(&'a str),
    /// A date, dateTime, instant or time, as written.
    Time(&'a str),
}

/// Evaluates a compiled invariant over an object's members, with FHIRPath's three-valued logic: a result
/// that is empty (a member it compares is absent) does not count as broken.
fn eval<'a>(expr: &Expr, seen: &'a Seen) -> Val<'a> {
    use Val::{Bool, Empty, Num, Str, Time};
    let present = |i: u16| Seen::has(&seen.values, i as usize) || Seen::has(&seen.extensions, i as usize);
    // How two numbers, or two dates, order; `None` when either is absent or the precisions leave it open.
    let order = |a: &Expr, b: &Expr| match (eval(a, seen), eval(b, seen)) {
        (Num(x), Num(y)) => x.partial_cmp(&y),
        (Time(x), Time(y)) => super::primitive::compare_temporal(x, y),
        _ => None,
    };
    let text = |a: &Expr| match eval(a, seen) {
        Str(s) => Some(s),
        _ => None,
    };
    match *expr {
        Expr::Exists(i) => Bool(present(i)),
        Expr::Chosen(g) => Bool(seen.choices & (1 << g) != 0),
        Expr::HasValue(i) => Bool(Seen::has(&seen.values, i as usize)),
        Expr::Count(i) => match seen.captured(i) {
            Some(Captured::Count(n)) => Num(f64::from(*n)),
            Some(Captured::Strs(items)) => Num(items.len() as f64),
            _ => Num(f64::from(u8::from(present(i)))),
        },
        Expr::Value(i) => match seen.captured(i) {
            Some(Captured::Str(s)) => Str(s),
            Some(Captured::Bool(b)) => Bool(*b),
            _ => Empty,
        },
        Expr::Number(i) => match seen.captured(i) {
            Some(Captured::Num(n, _)) => Num(*n),
            _ => Empty,
        },
        Expr::Temporal(i) => match seen.captured(i) {
            Some(Captured::Str(s)) => Time(s),
            _ => Empty,
        },
        Expr::Bool(b) => Bool(b),
        Expr::Num(n) => Num(n),
        Expr::Str(s) => Str(s),
        Expr::Fractional(i) => match seen.captured(i) {
            Some(Captured::Num(_, fraction)) => Bool(*fraction),
            _ => Empty,
        },
        Expr::HasCoding(i, system, codes) => Bool(match seen.captured(i) {
            Some(Captured::Codings(all)) => {
                all.iter().any(|(s, c)| s.as_deref() == Some(system) && codes.contains(&c.as_str()))
            }
            _ => false,
        }),
        Expr::AnyIn(i, list) => match seen.captured(i) {
            Some(Captured::Strs(items)) => Bool(items.iter().any(|s| list.contains(&s.as_str()))),
            _ => Empty,
        },
        Expr::StartsWith(a, prefix) => text(a).map_or(Empty, |s| Bool(s.starts_with(prefix))),
        Expr::Contains(a, part) => text(a).map_or(Empty, |s| Bool(s.contains(part))),
        Expr::Not(a) => match eval(a, seen) {
            Bool(b) => Bool(!b),
            _ => Empty,
        },
        Expr::And(a, b) => match (eval(a, seen), eval(b, seen)) {
            (Bool(false), _) | (_, Bool(false)) => Bool(false),
            (Bool(true), Bool(true)) => Bool(true),
            _ => Empty,
        },
        Expr::Or(a, b) => match (eval(a, seen), eval(b, seen)) {
            (Bool(true), _) | (_, Bool(true)) => Bool(true),
            (Bool(false), Bool(false)) => Bool(false),
            _ => Empty,
        },
        Expr::Xor(a, b) => match (eval(a, seen), eval(b, seen)) {
            (Bool(x), Bool(y)) => Bool(x != y),
            _ => Empty,
        },
        Expr::Implies(a, b) => match (eval(a, seen), eval(b, seen)) {
            (Bool(false), _) | (_, Bool(true)) => Bool(true),
            (Bool(true), right) => right,
            _ => Empty,
        },
        Expr::Eq(a, b) | Expr::Ne(a, b) => {
            let equal = match (eval(a, seen), eval(b, seen)) {
                (Empty, _) | (_, Empty) => return Empty,
                (x, y) => x == y,
            };
            Bool(equal == matches!(expr, Expr::Eq(..)))
        }
        Expr::Le(a, b) => order(a, b).map_or(Empty, |o| Bool(o.is_le())),
        Expr::Gt(a, b) => order(a, b).map_or(Empty, |o| Bool(o.is_gt())),
        Expr::Add(a, b) => match (eval(a, seen), eval(b, seen)) {
            (Num(x), Num(y)) => Num(x + y),
            _ => Empty,
        },
        Expr::In(a, list) => match eval(a, seen) {
            Str(s) => Bool(list.contains(&s)),
            _ => Empty,
        },
    }
}

fn first_form(ty: &'static Type, group: u32) -> &'static str {
    let base = ty.choices[group as usize - 1];
    let first = ty.members().iter().filter(|e| u32::from(e.choice) == group).map(|e| e.name).min();
    first.map_or("", |name| &name[base.len()..])
}

/// The forms a choice group may take, e.g. `valueQuantity, valueString, ...`, for messages.
fn forms(ty: &'static Type, group: u8) -> String {
    let mut names: Vec<&str> = ty.members().iter().filter(|e| e.choice == group).map(|e| e.name).collect();
    names.sort_unstable();
    if names.len() > 6 {
        format!("{}, ... ({} forms)", names[..6].join(", "), names.len())
    } else {
        names.join(", ")
    }
}

/// The choice group a misspelt or mistyped key seems to belong to (`valueFoo`, `value`).
fn choice_group_of(ty: &'static Type, key: &str) -> Option<u8> {
    ty.choices
        .iter()
        .position(|base| {
            key == *base
                || (key.starts_with(base) && key[base.len()..].starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .map(|g| g as u8 + 1)
}

struct MemberSeed<'w, 'k> {
    walk: &'w mut Walk,
    ty: &'static Type,
    seen: &'w mut Seen,
    key: &'k str,
    root: bool,
}

impl<'de> DeserializeSeed<'de> for MemberSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let MemberSeed { walk, ty, seen, key, root } = self;
        let (extension, name) = match key.strip_prefix('_') {
            Some(name) => (true, name),
            None => (false, key),
        };
        let Some((i, element)) = ty.member(name) else {
            unknown_member(walk, ty, key);
            return IgnoredAny::deserialize(d).map(drop);
        };
        if extension && !matches!(element.kind, Kind::Prim(_)) {
            unknown_member(walk, ty, key);
            return IgnoredAny::deserialize(d).map(drop);
        }
        let fresh = Seen::mark(if extension { &mut seen.extensions } else { &mut seen.values }, i);
        if !fresh {
            walk.report(
                Code::DuplicateKey,
                Some(key),
                format!("{key} appears twice in the object; JSON readers keep only one, so merge them"),
            );
            return IgnoredAny::deserialize(d).map(drop);
        }
        if element.choice > 0 {
            let bit = 1u32 << element.choice;
            if seen.choices & bit != 0 && !extension {
                let other_seen = ty
                    .members()
                    .iter()
                    .enumerate()
                    .any(|(j, e)| j != i && e.choice == element.choice && (Seen::has(&seen.values, j)));
                if other_seen {
                    let base = ty.choices[element.choice as usize - 1];
                    walk.report(
                        Code::InvalidChoice,
                        Some(key),
                        format!(
                            "{base}[x] appears in more than one form; keep exactly one of {}",
                            forms(ty, element.choice)
                        ),
                    );
                }
            }
            seen.choices |= bit;
        }
        seen.count += 1;
        if root && key == "id" {
            walk.outcome.id = StringOrKind.deserialize(d)?.map_or_else(RootId::NotString, RootId::Str);
            return Ok(());
        }
        walk.path.push(if extension { Seg::Ext(element.name) } else { Seg::Name(element.name) });
        let result = if extension {
            let kind = Kind::Complex(super::model::ELEMENT_TYPE);
            ValueSeed {
                walk: &mut *walk,
                kind,
                element,
                in_array: false,
                conditional: false,
                extension: true,
            }
            .deserialize(d)
        } else {
            let kind = match element.kind {
                // A contained resource's id follows the id rules (R4 types Resource.id loosely as a string).
                Kind::Prim(Prim::String) if element.name == "id" && ty.resource => Kind::Prim(Prim::Id),
                kind => kind,
            };
            let conditional = std::ptr::eq(ty, type_at(REFERENCE_TYPE)) && element.name == "reference";
            ValueSeed { walk: &mut *walk, kind, element, in_array: false, conditional, extension: false }
                .deserialize(d)
        };
        walk.path.pop();
        if let Some((companion, len, nulls)) = walk.array.take() {
            seen.arrays.push((i as u16, companion, len, nulls));
        }
        if extension {
            if std::mem::take(&mut walk.bare_companion) && !element.many {
                Seen::mark(&mut seen.bare, i);
            }
        } else if element.watch
            && let Some(captured) = walk.capture.take()
        {
            seen.captured.push((i as u16, captured));
        }
        result
    }
}

fn unknown_member(walk: &mut Walk, ty: &'static Type, key: &str) {
    if let Some(group) = choice_group_of(ty, key) {
        let base = ty.choices[group as usize - 1];
        walk.report(
            Code::InvalidChoice,
            Some(key),
            format!("{key} is not a form of {base}[x]; use one of {}", forms(ty, group)),
        );
    } else if key.is_empty() {
        walk.report(
            Code::UnknownElement,
            None,
            format!("an empty member name is not an element of {}; remove it", ty.name),
        );
    } else {
        walk.report(
            Code::UnknownElement,
            Some(key),
            format!(
                "{key} is not an element of {}; check the spelling or move it into an extension",
                ty.name
            ),
        );
    }
}

/// One member's value: an array of items when the element repeats, else one item.
struct ValueSeed<'w> {
    walk: &'w mut Walk,
    kind: Kind,
    element: &'static Element,
    /// This is one item of the element's array.
    in_array: bool,
    /// `reference` of a Reference: conditional references get a warning.
    conditional: bool,
    /// The `_name` companion of a primitive: `Element` objects, `null` allowed in arrays.
    extension: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Only objects nest further (a primitive's wrong-typed value is skipped without recursion).
        if matches!(self.kind, Kind::Prim(_)) {
            return d.deserialize_any(self);
        }
        if self.walk.path.len() > MAX_DEPTH {
            if self.walk.too_deep.is_none() {
                let shallow = Walk { path: self.walk.path[..12].to_vec(), ..Walk::default() };
                self.walk.too_deep = Some(format!("{}…", shallow.path(None)));
            }
            return Err(serde::de::Error::custom("nested too deep"));
        }
        // Each level of nesting passes here. Every 16th, make sure the next 16 have room (a level takes well
        // under 4 KiB of stack), growing the stack on the heap rather than overflowing it.
        if self.walk.path.len().is_multiple_of(16) {
            stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, || d.deserialize_any(self))
        } else {
            d.deserialize_any(self)
        }
    }
}

impl ValueSeed<'_> {
    /// Whether a non-array value is acceptable here; reports it when the element must be an array.
    fn single(&mut self, what: &str) -> bool {
        if self.element.many && !self.in_array {
            self.walk.report(
                Code::Cardinality,
                None,
                format!("{} repeats, so it must be a JSON array; wrap the {what} in [ ]", self.element.name),
            );
            return false;
        }
        true
    }

    fn wrong_type(&mut self, found: &str) {
        let expected = match self.kind {
            Kind::Prim(Prim::Boolean) => "true or false".to_string(),
            Kind::Prim(Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt) => {
                "a whole number without quotes".into()
            }
            Kind::Prim(Prim::Decimal) => "a number without quotes".into(),
            Kind::Prim(p) => format!("a JSON string (FHIR {})", p.name()),
            Kind::Complex(t) => format!("an object (FHIR {})", type_name(t)),
            Kind::Resource => "a resource object with a resourceType".into(),
        };
        self.walk.report(Code::WrongType, None, format!("found {found}, expected {expected}"));
    }

    fn number(&mut self, value: Number) {
        if !self.single("number") {
            return;
        }
        let (n, fraction) = match value {
            Number::Int(n) => (n as f64, false),
            Number::Float(f) => (f, true),
        };
        if self.element.watch && !self.in_array {
            self.walk.capture = Some(Captured::Num(n, fraction));
        }
        if self.walk.range.is_some()
            && self.element.name == "value"
            && let Some(end) = self.walk.range_end()
        {
            end.0 = Some(n);
        }
        let Kind::Prim(prim) = self.kind else { return self.wrong_type("a number") };
        let problem = match (prim, value) {
            (Prim::Decimal, _) => None,
            (Prim::Integer, Number::Int(n)) if i32::try_from(n).is_ok() => None,
            (Prim::UnsignedInt, Number::Int(n)) if (0..=i128::from(i32::MAX)).contains(&n) => None,
            (Prim::PositiveInt, Number::Int(n)) if (1..=i128::from(i32::MAX)).contains(&n) => None,
            (Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt, Number::Int(n)) => {
                Some(format!("{n} is out of range for FHIR {}", prim.name()))
            }
            (Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt, Number::Float(f)) => {
                Some(format!("{f} is not a whole number, as FHIR {} must be", prim.name()))
            }
            _ => return self.wrong_type("a number"),
        };
        if let Some(message) = problem {
            self.walk.report(Code::InvalidValue, None, message);
        }
    }
}

#[derive(Clone, Copy)]
enum Number {
    Int(i128),
    Float(f64),
}

fn type_name(index: u16) -> &'static str {
    type_at(index).name
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a FHIR element")
    }

    fn visit_bool<E>(mut self, v: bool) -> Result<(), E> {
        if self.single("value") && self.kind != Kind::Prim(Prim::Boolean) {
            self.wrong_type("true/false");
        } else if self.element.watch && !self.in_array {
            self.walk.capture = Some(Captured::Bool(v));
        }
        Ok(())
    }

    fn visit_i64<E>(mut self, v: i64) -> Result<(), E> {
        self.number(Number::Int(i128::from(v)));
        Ok(())
    }

    fn visit_u64<E>(mut self, v: u64) -> Result<(), E> {
        self.number(Number::Int(i128::from(v)));
        Ok(())
    }

    fn visit_f64<E>(mut self, v: f64) -> Result<(), E> {
        self.number(Number::Float(v));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        // In arrays of primitives, null keeps places aligned with the `_name` companion array.
        let aligned = self.in_array && (self.extension || matches!(self.kind, Kind::Prim(_)));
        if aligned {
            if let Some(Seg::Index(k)) = self.walk.path.last() {
                let k = *k;
                self.walk.nulls.push(k);
            }
        } else {
            self.walk.report(
                Code::InvalidValue,
                None,
                "null is not a FHIR value; leave the element out".into(),
            );
        }
        Ok(())
    }

    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        if !self.single("string") {
            return Ok(());
        }
        let Kind::Prim(prim) = self.kind else {
            self.wrong_type("a string");
            return Ok(());
        };
        if matches!(
            prim,
            Prim::Boolean | Prim::Integer | Prim::Decimal | Prim::UnsignedInt | Prim::PositiveInt
        ) {
            self.wrong_type(&format!("the string {:?}", truncate(v, 40)));
            return Ok(());
        }
        if v.is_empty() {
            self.walk.report(Code::InvalidValue, None, "empty string; leave the element out instead".into());
            return Ok(());
        }
        if v.len() > MAX_STRING_BYTES && !matches!(prim, Prim::Base64Binary | Prim::Xhtml) {
            self.walk.report(
                Code::InvalidValue,
                None,
                format!(
                    "the {} is {} bytes, over R4's limit of 1 MB (1,048,576 bytes) for a string; shorten it, or carry the content as an Attachment",
                    prim.name(),
                    v.len()
                ),
            );
            return Ok(());
        }
        if let Err(hint) = check_str(prim, v) {
            self.walk.report(
                Code::InvalidValue,
                None,
                format!("{:?} is not a FHIR {} ({hint})", truncate(v, 80), prim.name()),
            );
            return Ok(());
        }
        if self.element.codes > 0 {
            let (value_set, codes) = code_set(self.element.codes);
            if codes.binary_search(&v).is_err() {
                let choices = if codes.len() <= 8 {
                    format!("use one of {}", codes.join(", "))
                } else {
                    format!("see {value_set}")
                };
                self.walk.report(
                    Code::InvalidValue,
                    None,
                    format!(
                        "{:?} is not an allowed code for {} ({choices})",
                        truncate(v, 80),
                        self.element.name
                    ),
                );
            }
        }
        if self.element.name == "profile"
            && self.walk.path.len() == 4
            && matches!(self.walk.path[1], Seg::Name("meta"))
        {
            self.walk.report(
                Code::UncheckedProfile,
                None,
                format!(
                    "strict validates against the profile {:?}, which Lakedrop does not check; HealthLake rejects the resource if the profile is unsupported or not met (import with structure-only to ignore profiles)",
                    truncate(v, 120)
                ),
            );
        }
        if self.walk.invariants
            && v.starts_with('#')
            && (self.conditional || matches!(prim, Prim::Uri | Prim::Url | Prim::Canonical))
        {
            self.walk.local_reference(v, self.conditional);
        }
        if self.element.name == "id"
            && matches!(
                self.walk.path.as_slice(),
                [.., Seg::Name("contained"), Seg::Index(_), Seg::Name("id")]
            )
            && let Some(scope) = self.walk.scopes.last_mut()
            && scope.level == self.walk.level
            && let Some(k) = scope.current
        {
            scope.contained[k].1 = Some(v.to_string());
        }
        if self.element.watch {
            if !self.in_array {
                self.walk.capture = Some(Captured::Str(v.to_string()));
            } else if let Captured::Strs(items) = self.walk.capture.get_or_insert(Captured::Strs(Vec::new()))
            {
                items.push(v.to_string());
            }
        }
        if self.walk.range.is_some()
            && matches!(self.element.name, "system" | "code" | "unit")
            && let Some(end) = self.walk.range_end()
        {
            end.1.push(format!("{}={v}", self.element.name));
        }
        if prim == Prim::Xhtml
            && self.walk.invariants
            && let Some((key, message)) = super::narrative::check(v)
        {
            self.walk.report(Code::Invariant, None, format!("{message} (R4 invariant {key})"));
        }
        let depth = self.walk.path.len();
        if let Some(binding) = self.walk.binding.as_mut()
            && binding.depth + 1 == depth
        {
            match self.element.name {
                "system" => binding.system = Some(v.to_string()),
                "code" => binding.code = Some(v.to_string()),
                _ => {}
            }
        }
        if self.conditional && is_conditional_reference(v) {
            self.walk.report(
                Code::ConditionalReference,
                None,
                format!(
                    "{:?} is a conditional (search) reference, stored unresolved by import; use Type/id if it must resolve",
                    truncate(v, 80)
                ),
            );
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.element.many || self.in_array {
            let message = if self.in_array {
                "an array inside an array is not FHIR; flatten it".to_string()
            } else {
                format!("{} takes one value, not an array; keep one value", self.element.name)
            };
            self.walk.report(Code::Cardinality, None, message);
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        let mut i = 0u32;
        loop {
            self.walk.path.push(Seg::Index(i));
            let item = ValueSeed {
                walk: &mut *self.walk,
                kind: self.kind,
                element: self.element,
                in_array: true,
                conditional: self.conditional,
                extension: self.extension,
            };
            let more = seq.next_element_seed(item)?.is_some();
            self.walk.path.pop();
            if !more {
                break;
            }
            i += 1;
        }
        if i == 0 {
            self.walk.report(Code::InvalidValue, None, "empty array; leave the element out instead".into());
        }
        if self.element.watch && !self.extension && !matches!(self.walk.capture, Some(Captured::Strs(_))) {
            self.walk.capture = Some(Captured::Count(i));
        }
        if self.extension || !self.walk.nulls.is_empty() {
            let nulls = std::mem::take(&mut self.walk.nulls);
            self.walk.array = Some((self.extension, i, nulls));
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        if !self.single("object") {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        match self.kind {
            Kind::Complex(t)
                if (self.element.codes > 0 || self.element.watch)
                    && (t == CODING_TYPE || t == CODEABLE_CONCEPT_TYPE) =>
            {
                bound_members(self.walk, t, self.element, map)
            }
            Kind::Complex(RANGE_TYPE) if self.walk.invariants => range_members(self.walk, map),
            Kind::Complex(t) => object_members(self.walk, type_at(t), map),
            Kind::Resource => resource_members(self.walk, map, false),
            Kind::Prim(_) => {
                self.wrong_type("an object");
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(())
            }
        }
    }
}

/// A Range: rng-2, its low is not above its high when both are numbers of the same unit (FHIRPath compares
/// quantities of other units only by converting them, which is left to HealthLake).
fn range_members<'de, A: MapAccess<'de>>(walk: &mut Walk, map: A) -> Result<(), A::Error> {
    let check = RangeCheck { depth: walk.path.len(), ..RangeCheck::default() };
    let outer = walk.range.replace(check);
    let result = object_members(walk, type_at(RANGE_TYPE), map);
    let range = std::mem::replace(&mut walk.range, outer);
    if let Some(RangeCheck { low: (Some(low), mut low_unit), high: (Some(high), mut high_unit), .. }) = range
    {
        low_unit.sort();
        high_unit.sort();
        if low > high && low_unit == high_unit {
            walk.report(
                Code::Invariant,
                None,
                format!(
                    "Range: its low ({low}) is above its high ({high}); swap them or correct one (R4 invariant rng-2)"
                ),
            );
        }
    }
    result
}

/// A Coding or CodeableConcept whose element has a required binding (at least one coding with a code must come
/// from the binding's list; a CodeableConcept with only text is left alone), or whose codings an invariant reads.
fn bound_members<'de, A: MapAccess<'de>>(
    walk: &mut Walk,
    t: u16,
    element: &'static Element,
    map: A,
) -> Result<(), A::Error> {
    let concept = t == CODEABLE_CONCEPT_TYPE;
    let depth = walk.path.len() + if concept { 2 } else { 0 };
    let binding = Binding {
        set: element.codes,
        depth,
        system: None,
        code: None,
        coded: 0,
        matched: false,
        first_bad: None,
        all: element.watch.then(Vec::new),
    };
    let outer = walk.binding.replace(binding);
    let result = object_members(walk, type_at(t), map);
    let mut binding = std::mem::replace(&mut walk.binding, outer);
    if let Some(all) = binding.as_mut().and_then(|b| b.all.take()) {
        walk.capture = Some(Captured::Codings(all));
    }
    if let Some(Binding { matched: false, first_bad: Some((system, code)), coded, set, .. }) = binding {
        let (value_set, codings) = coding_set(set);
        let choices = match codings.first() {
            Some((first, _)) if codings.len() <= 8 && codings.iter().all(|(s, _)| s == first) => {
                let codes: Vec<&str> = codings.iter().map(|(_, c)| *c).collect();
                format!("use one of {} with system {first}", codes.join(", "))
            }
            _ => format!("see {value_set}"),
        };
        let what = match &system {
            Some(system) => format!("{:?} of {}", truncate(&code, 80), truncate(system, 120)),
            None => format!("{:?} (no system)", truncate(&code, 80)),
        };
        let which = if coded > 1 { "none of the codings" } else { "the coding" };
        walk.report(
            Code::InvalidValue,
            None,
            format!(
                "{which} of {} is in its required value set: {what} is not an allowed code ({choices})",
                element.name
            ),
        );
    }
    result
}

/// `Patient?identifier=...`: valid R4, but import stores it unresolved.
pub(crate) fn is_conditional_reference(reference: &str) -> bool {
    match reference.split_once('?') {
        Some((resource_type, query)) => {
            !resource_type.contains('/') && resource(resource_type).is_some() && !query.is_empty()
        }
        None => false,
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("{}…", s.chars().take(max).collect::<String>()))
    }
}
