//! Any bytes as one NDJSON line, at every level: the validator must never panic, and a line it calls valid must
//! be a JSON object with a resourceType and an id.
#![no_main]

use lakedrop_validate::{Level, Options, check_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for level in [Level::Strict, Level::StructureOnly, Level::Minimal] {
        let options = Options { level, max_line_bytes: 1 << 20, ..Options::default() };
        let verdict = check_line(1, data, &options);
        if !verdict.rejected && !verdict.blank {
            assert!(verdict.resource_type.is_some() && verdict.id.is_some(), "accepted without type or id");
        }
    }
});
