//! Architecture invariants from ARCHITECTURE.md that a test can check.

use std::path::PathBuf;

fn crates_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn library_crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(crates_dir())
        .expect("crates/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 5, "found {dirs:?}");
    dirs
}

#[test]
fn no_library_crate_depends_on_tauri() {
    for dir in library_crates() {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let doc: toml_like::Doc = toml_like::parse(&manifest);
        for dep in doc.dependency_names() {
            assert!(!dep.starts_with("tauri"), "{} depends on {dep}", dir.display());
        }
    }
}

#[test]
fn every_library_opens_with_a_doc_paragraph() {
    for dir in library_crates() {
        let lib = dir.join("src/lib.rs");
        let main = dir.join("src/main.rs");
        let path = if lib.exists() { lib } else { main };
        let text = std::fs::read_to_string(&path).expect("source");
        assert!(text.starts_with("//!"), "{} does not open with a //! paragraph", path.display());
    }
}

#[test]
fn tests_and_benchmarks_read_only_what_the_repository_holds() {
    // A fresh clone has no folder beside it: tests read samples/ or make their data, and benchmarks read sets
    // that a make target writes under target/. The needle is split so this file does not match itself.
    let needle = ["../", "shared/"].concat();
    let root = crates_dir().join("..");
    let mut files = Vec::new();
    for dir in ["crates", "src-tauri/src", "src-tauri/tests", "tests/e2e"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found {} sources", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).expect("source");
        assert!(!text.contains(&needle), "{} reads {needle}", path.display());
    }
}

/// The Rust and JavaScript sources under `dir`, outside installed or built folders.
fn sources(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if !["node_modules", "target", "artifacts"].contains(&name) {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".mjs") {
            out.push(path);
        }
    }
}

/// Just enough of TOML to list dependency names, so the test needs no parser crate.
mod toml_like {
    pub struct Doc(Vec<String>);

    pub fn parse(text: &str) -> Doc {
        let mut names = Vec::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line.contains("dependencies");
                if let Some(rest) =
                    line.strip_prefix("[dependencies.").or_else(|| line.strip_prefix("[dev-dependencies."))
                {
                    names.push(rest.trim_end_matches(']').to_string());
                }
                continue;
            }
            if in_deps && let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_string());
            }
        }
        Doc(names)
    }

    impl Doc {
        pub fn dependency_names(&self) -> &[String] {
            &self.0
        }
    }
}
