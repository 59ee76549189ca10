//! R4's invariant txt-1 on a narrative's XHTML (`Narrative.div`): basic HTML formatting only, in the XHTML
//! namespace. The element list is the one R4's narrative section and the HAPI validator allow; anything active
//! (scripts, forms, frames, objects, event attributes, `javascript:` links) is refused.
//!
//! txt-2 ("some non-whitespace content") is not enforced: R4 writes it as the same `htmlChecks()` as txt-1, which
//! validators evaluate as the element check, and the spec's own examples have narratives of white space only.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// Sorted.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "b",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "map",
    "ol",
    "p",
    "pre",
    "q",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "ul",
    "var",
];

/// What breaks txt-1 in a narrative, as (invariant key, message), or `None`.
pub(crate) fn check(div: &str) -> Option<(&'static str, String)> {
    let mut reader = Reader::from_str(div);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                return Some((
                    "txt-1",
                    format!("the narrative is not well-formed XHTML ({e}); fix the markup"),
                ));
            }
        };
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                if depth == 0 {
                    roots += 1;
                    if let Some(problem) = root(tag) {
                        return Some(("txt-1", problem));
                    }
                }
                if let Some(problem) = element(tag) {
                    return Some(("txt-1", problem));
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(text) => {
                let blank = text.chars().all(|c| c.is_ascii_whitespace());
                if depth == 0 && !blank {
                    return Some((
                        "txt-1",
                        "the narrative has text outside its <div>; put everything inside it".into(),
                    ));
                }
            }
            Event::CData(_) | Event::GeneralRef(_) => {}
            Event::PI(_) | Event::DocType(_) | Event::Decl(_) => {
                return Some((
                    "txt-1",
                    "the narrative holds an XML declaration, doctype or processing instruction; remove it"
                        .into(),
                ));
            }
            Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if roots != 1 {
        return Some(("txt-1", "the narrative must be exactly one <div> element".into()));
    }
    None
}

fn root(tag: &BytesStart) -> Option<String> {
    if tag.name().as_ref() != "div" {
        return Some(format!(
            "the narrative must be a <div xmlns=\"http://www.w3.org/1999/xhtml\">, not <{}>",
            tag.name().as_ref()
        ));
    }
    let namespaced =
        tag.attributes().flatten().any(|a| a.key.as_ref() == "xmlns" && a.value.as_ref() == XHTML);
    if !namespaced {
        return Some(
            "the narrative's <div> needs xmlns=\"http://www.w3.org/1999/xhtml\"; add it to the <div>".into(),
        );
    }
    None
}

fn element(tag: &BytesStart) -> Option<String> {
    let name = tag.name().as_ref().to_string();
    if ELEMENTS.binary_search(&name.as_str()).is_err() {
        return Some(format!(
            "<{name}> is not allowed in a narrative, which holds basic HTML formatting only (no scripts, forms, frames, objects, head or body); remove it"
        ));
    }
    for attribute in tag.attributes() {
        let Ok(attribute) = attribute else {
            return Some(format!("an attribute of <{name}> is not well-formed XHTML; fix the markup"));
        };
        let key = attribute.key.as_ref().to_ascii_lowercase();
        let value = attribute.value.trim_start().to_ascii_lowercase();
        if key.starts_with("on") {
            return Some(format!(
                "the event attribute {key} on <{name}> is not allowed in a narrative; remove it"
            ));
        }
        if key.contains(':') && key != "xml:lang" {
            return Some(format!("the attribute {key} on <{name}> is not allowed in a narrative; remove it"));
        }
        if matches!(key.as_str(), "href" | "src") && value.starts_with("javascript:") {
            return Some(format!("a javascript: {key} on <{name}> is not allowed in a narrative; remove it"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_list_is_sorted() {
        assert!(ELEMENTS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn narratives() {
        let ok = r#"<div xmlns="http://www.w3.org/1999/xhtml">Generated by <a href="https://github.com/synthetichealth/synthea">Synthea</a>.Version identifier: v2.4.0</div>"#;
        assert_eq!(check(ok), None);
        assert_eq!(check(r#"<div xmlns="http://www.w3.org/1999/xhtml"><img src="a.png"/></div>"#), None);
        assert_eq!(check(r#"<div xmlns="http://www.w3.org/1999/xhtml">a &amp; b</div>"#), None);
        assert_eq!(check("<div xmlns=\"http://www.w3.org/1999/xhtml\">\n    </div>"), None);
        for (bad, key) in [
            (r#"<div>text</div>"#, "txt-1"),
            (r#"<div xmlns="http://www.w3.org/1999/xhtml"><script>x()</script></div>"#, "txt-1"),
            (r#"<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p></div>"#, "txt-1"),
            (r#"<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">a</a></div>"#, "txt-1"),
            (r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>a</div>"#, "txt-1"),
            (r#"<p xmlns="http://www.w3.org/1999/xhtml">a</p>"#, "txt-1"),
            (
                r#"<div xmlns="http://www.w3.org/1999/xhtml">a</div><div xmlns="http://www.w3.org/1999/xhtml">b</div>"#,
                "txt-1",
            ),
        ] {
            assert_eq!(check(bad).map(|(k, _)| k), Some(key), "{bad}");
        }
    }
}
