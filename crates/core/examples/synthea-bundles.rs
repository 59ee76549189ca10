//! Writes the bundled Synthea sample as per-patient transaction Bundles (`tests/support/synthea_bundles.rs`)
//! into a folder, for the tests that drive the CLI and the app: `cargo run -p lakedrop-core --example
//! synthea-bundles -- <folder>`.

#[path = "../tests/support/synthea_bundles.rs"]
mod synthea_bundles;

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: synthea-bundles <folder>");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create the folder");
    let written = synthea_bundles::write_bundles(&dir);
    println!("{} Bundles in {}", written.len(), dir.display());
}
