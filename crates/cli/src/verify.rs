//! `lakedrop verify`: a finished job's imported resources read back by sample from the data store's FHIR API and
//! compared with their source lines.

use std::process::ExitCode;

use lakedrop_aws::verify::{Outcome, Verification, verify};
use lakedrop_core::state::State;

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document, thousands};
use crate::schema::{VerifyCounts, VerifyOutput};

#[derive(clap::Args)]
pub struct Args {
    job: String,
    #[command(flatten)]
    connect: ConnectArgs,
    /// The data store (default: the only ACTIVE one).
    #[arg(long)]
    datastore: Option<String>,
    /// Resources read back per resource type, chosen across the job's files (at most 1,000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    sample: u32,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

/// Exit 0 when every sampled resource matched; 1 when any differs, is missing or could not be compared.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let session = crate::connection::open(&args.connect).await?;
    let result = async {
        let datastore = session.datastore_id(args.datastore.as_deref()).await?;
        let state = State::open(&lakedrop_core::data_dir().join("state.db"))?;
        let found = verify(&session.clients, &state, &datastore, &args.job, args.sample as usize).await?;
        match args.output {
            Format::Json => print_document("verify", &output(&found))?,
            Format::Text => print_text(&found),
        }
        anyhow::Ok(if found.all_matched() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
    .await;
    session.close().await;
    result
}

fn output(found: &Verification) -> VerifyOutput<'_> {
    VerifyOutput {
        job_id: &found.job_id,
        datastore_id: &found.datastore_id,
        endpoint: &found.endpoint,
        per_type: found.per_type,
        all_matched: found.all_matched(),
        counts: VerifyCounts {
            sampled: found.samples.len() as u64,
            matched: found.count(Outcome::Matched),
            differing: found.count(Outcome::Differing),
            missing: found.count(Outcome::Missing),
            unverifiable: found.count(Outcome::Unverifiable),
        },
        types: &found.types,
        samples: &found.samples,
        sources: &found.sources,
    }
}

fn print_text(found: &Verification) {
    let imported: u64 = found.types.iter().map(|t| t.imported).sum();
    println!(
        "job {}: read back {} of {} imported resources: {} matched, {} differing, {} missing{}",
        found.job_id,
        thousands(found.samples.len() as u64),
        thousands(imported),
        thousands(found.count(Outcome::Matched)),
        thousands(found.count(Outcome::Differing)),
        thousands(found.count(Outcome::Missing)),
        match found.count(Outcome::Unverifiable) {
            0 => String::new(),
            n => format!(", {} without a source line to compare", thousands(n)),
        }
    );
    for t in &found.types {
        println!(
            "  {:<28} {:>9} imported {:>5} sampled {:>5} matched {:>4} differing {:>4} missing",
            t.resource_type,
            thousands(t.imported),
            t.sampled,
            t.matched,
            t.differing,
            t.missing
        );
    }
    for s in found.samples.iter().filter(|s| s.outcome != Outcome::Matched) {
        let what = match s.outcome {
            Outcome::Differing => "differs from its line",
            Outcome::Missing => "is not in the data store",
            Outcome::Unverifiable => "has no source line to compare with",
            Outcome::Matched => "matched",
        };
        println!("{}/{} ({} line {}) {what}", s.resource_type, s.id, s.file, s.line);
        for d in &s.differences {
            let show =
                |v: &Option<serde_json::Value>| v.as_ref().map_or("(absent)".to_string(), |v| v.to_string());
            println!("    {}: sent {}, found {}", d.path, show(&d.expected), show(&d.found));
        }
    }
}
