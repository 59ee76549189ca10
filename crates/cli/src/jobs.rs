//! `lakedrop jobs list|show`: import jobs of a data store, with their place in the queue.

use std::process::ExitCode;

use lakedrop_aws::jobs;
use lakedrop_core::job::{Job, queue_positions};

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document, thousands};
use crate::schema::JobsListOutput;

#[derive(clap::Subcommand)]
pub enum Command {
    /// List import jobs, newest first.
    List {
        #[command(flatten)]
        connect: ConnectArgs,
        /// The data store (default: the only ACTIVE one).
        #[arg(long)]
        datastore: Option<String>,
        /// Only jobs in this status (e.g. IN_PROGRESS, COMPLETED_WITH_ERRORS).
        #[arg(long)]
        status: Option<String>,
        /// Only the job with this exact name.
        #[arg(long)]
        name: Option<String>,
        /// The jobs of every data store in the Region.
        #[arg(long, conflicts_with = "datastore")]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// One job, with its manifest once it has ended.
    Show {
        job: String,
        #[command(flatten)]
        connect: ConnectArgs,
        #[arg(long)]
        datastore: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List { connect, datastore, status, name, all: every_store, output } => {
            let session = crate::connection::open(&connect).await?;
            let result = async {
                let filter = jobs::JobFilter { status, name, ..jobs::JobFilter::default() };
                let (datastore, mut all, everything) = if every_store {
                    let all = jobs::list_all(&session.clients, &filter).await?;
                    let everything = jobs::list_all(&session.clients, &jobs::JobFilter::default()).await?;
                    (None, all, everything)
                } else {
                    let datastore = session.datastore_id(datastore.as_deref()).await?;
                    let all = jobs::list_filtered(&session.clients, &datastore, &filter, 100).await?;
                    // Queue positions need every unfinished job, whatever the filter.
                    let everything = jobs::list(&session.clients, &datastore, None).await?;
                    (Some(datastore), all, everything)
                };
                let positions = queue_positions(&everything);
                // A filtered listing leaves positions out (the jobs ahead may be filtered away); these are
                // counted over every job.
                for job in &mut all {
                    job.queue_position = positions.get(&job.job_id).copied();
                }
                match output {
                    Format::Json => {
                        let output = JobsListOutput {
                            datastore_id: datastore.as_deref(),
                            region: &session.clients.region,
                            profile: session.clients.profile.as_deref(),
                            jobs: &all,
                        };
                        print_document("jobs list", &output)?;
                    }
                    Format::Text => {
                        if all.is_empty() {
                            match &datastore {
                                Some(datastore) => println!("no import jobs on data store {datastore}"),
                                None => println!("no import jobs on any data store"),
                            }
                        }
                        for job in &all {
                            println!("{}", line(job));
                        }
                    }
                }
                anyhow::Ok(ExitCode::SUCCESS)
            }
            .await;
            session.close().await;
            result
        }
        Command::Show { job, connect, datastore, output } => {
            let session = crate::connection::open(&connect).await?;
            let result = async {
                let datastore = session.datastore_id(datastore.as_deref()).await?;
                let result = jobs::result(&session.clients, &datastore, &job).await?;
                match output {
                    Format::Json => print_document("jobs show", &result)?,
                    Format::Text => {
                        println!("{}", line(&result.job));
                        if let Some(message) = &result.job.message {
                            println!("  {message}");
                        }
                        if let Some(advice) = &result.job.advice {
                            println!("  what to do: {advice}");
                        }
                        if let Some(uri) = &result.job.output_uri {
                            println!("  output   {uri}");
                        }
                        if let Some(m) = &result.manifest {
                            println!(
                                "  scanned  {} resources in {} files",
                                thousands(m.resources_scanned),
                                m.scanned_files
                            );
                            println!("  imported {}", thousands(m.resources_imported));
                            println!("  rejected {}", thousands(m.resources_with_customer_error));
                        }
                    }
                }
                anyhow::Ok(ExitCode::SUCCESS)
            }
            .await;
            session.close().await;
            result
        }
    }
}

fn line(job: &Job) -> String {
    let waiting = match (job.status.as_str(), job.queue_position) {
        ("QUEUED" | "SUBMITTED", Some(n)) => format!(" (#{n} in the queue)"),
        _ => String::new(),
    };
    let name = job.job_name.as_deref().unwrap_or("");
    format!("{}  {:<22}{waiting}  {name}", job.job_id, job.status)
}
