//! The bundled Synthea sample as Synthea writes it by default (`support/synthea_bundles.rs`), unbundled, must
//! give back the sample's 7,160 resources exactly, each reference to a patient's own resources as `Type/id` again.

use std::collections::BTreeMap;

use lakedrop_core::bundle::unbundle;
use serde_json::Value;

#[path = "support/synthea_bundles.rs"]
mod synthea_bundles;
use synthea_bundles::{bundles, key, sample};

#[test]
fn per_patient_transaction_bundles_unbundle_into_the_sample_itself() {
    let resources = sample();
    assert_eq!(resources.len(), 7160);
    let bundles = bundles();
    assert_eq!(bundles.len(), 14, "13 patients in the sample, and the shared resources");
    let mut out: Vec<Value> = Vec::new();
    let mut rewritten = 0;
    for (_, text) in &bundles {
        let report = unbundle(
            || Ok(std::io::Cursor::new(text.as_bytes())),
            |line| {
                out.push(serde_json::from_str(&line.line).expect("a line of JSON"));
                Ok(())
            },
        )
        .expect("unbundled");
        assert!(report.unresolved.is_empty(), "{:?}", report.unresolved.first());
        rewritten += report.rewritten;
    }
    assert_eq!(out.len(), 7160);
    assert!(rewritten > 10_000, "references between a patient's resources were rewritten: {rewritten}");
    let originals: BTreeMap<String, &Value> = resources.iter().map(|r| (key(r), r)).collect();
    for r in &out {
        assert_eq!(Some(&r), originals.get(&key(r)), "{} differs from the sample's", key(r));
    }
}
