//! `lakedrop fhir get|search`: the data store's FHIR REST API, read with the connection's credentials. Both print
//! FHIR's own JSON (a resource, or a searchset Bundle), which is its own schema.

use std::process::ExitCode;

use lakedrop_aws::fhir::{Fhir, MAX_PAGE};
use lakedrop_core::readback::{Lookup, parse_lookup};
use serde_json::{Value, json};

use crate::connection::ConnectArgs;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Read one resource: `lakedrop fhir get Patient/123`. Exit 1 when the data store does not hold it.
    Get {
        /// `Type/id`.
        reference: String,
        #[command(flatten)]
        connect: ConnectArgs,
        /// The data store (default: the only ACTIVE one).
        #[arg(long)]
        datastore: Option<String>,
    },
    /// Search one type: `lakedrop fhir search 'Observation?subject=Patient/123'`. Prints a searchset Bundle of
    /// up to --count matches, following the service's next links.
    Search {
        /// `Type?parameters` (quote it for the shell), or `Type` for every resource of the type.
        query: String,
        #[command(flatten)]
        connect: ConnectArgs,
        #[arg(long)]
        datastore: Option<String>,
        /// The most matches to print.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        count: u32,
    },
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let (connect, datastore) = match &command {
        Command::Get { connect, datastore, .. } | Command::Search { connect, datastore, .. } => {
            (connect, datastore)
        }
    };
    let session = crate::connection::open(connect).await?;
    let result = async {
        let datastore = session.datastore_id(datastore.as_deref()).await?;
        let fhir = Fhir::open(&session.clients, &datastore).await?;
        match &command {
            Command::Get { reference, .. } => get(&fhir, reference).await,
            Command::Search { query, count, .. } => search(&fhir, query, *count as usize).await,
        }
    }
    .await;
    session.close().await;
    result
}

async fn get(fhir: &Fhir, reference: &str) -> anyhow::Result<ExitCode> {
    let Lookup::Read { resource_type, id } = parse_lookup(reference).map_err(anyhow::Error::msg)? else {
        anyhow::bail!("`fhir get` reads one resource, Type/id; use `fhir search` for a search");
    };
    match fhir.read(&resource_type, &id).await? {
        Some(resource) => {
            println!("{}", serde_json::to_string_pretty(&resource)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("{resource_type}/{id} is not in the data store (never imported, or deleted)");
            Ok(ExitCode::from(1))
        }
    }
}

async fn search(fhir: &Fhir, query: &str, count: usize) -> anyhow::Result<ExitCode> {
    let Lookup::Search { resource_type, query } = parse_lookup(query).map_err(anyhow::Error::msg)? else {
        anyhow::bail!("`fhir search` takes Type?parameters; use `fhir get` to read Type/id");
    };
    let mut page = fhir.search(&resource_type, &query, Some(count.min(MAX_PAGE))).await?;
    let total = page.total;
    let mut entries: Vec<Value> = Vec::new();
    loop {
        let from_page = page.bundle.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
        entries.extend(from_page.into_iter().take(count - entries.len()));
        match page.next.take() {
            Some(next) if entries.len() < count => page = fhir.page(&next).await?,
            _ => break,
        }
    }
    let mut bundle = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
    if let Some(total) = total {
        bundle["total"] = json!(total);
    }
    println!("{}", serde_json::to_string_pretty(&bundle)?);
    Ok(ExitCode::SUCCESS)
}
