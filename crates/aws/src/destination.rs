//! Resolving where an import goes from what the caller gave: explicit choices win; what is missing is looked up
//! (the only ACTIVE data store) or, on a sandbox endpoint, taken from the sandbox's well-known seed names.

use crate::retry::with_retries;
use aws_sdk_healthlake::types::{DatastoreFilter, DatastoreStatus};
use lakedrop_core::destination::{ConnectionKind, Destination, ResolvedDestination};

use crate::{AwsError, Clients};

/// Sandbox seed names, used as defaults when talking to a sandbox endpoint.
pub const SANDBOX_INPUT_BUCKET: &str = "lakedrop-input";
pub const SANDBOX_OUTPUT_BUCKET: &str = "lakedrop-output";
pub const SANDBOX_KMS_ALIAS: &str = "alias/lakedrop-sandbox";
pub const SANDBOX_ROLE_ARN: &str = "arn:aws:iam::000000000000:role/LakedropSandboxImport";

/// See [`crate::Session::resolve`].
pub(crate) async fn resolve(
    clients: &Clients,
    destination: &Destination,
    kind: ConnectionKind,
    label: &str,
    endpoint: Option<&str>,
) -> Result<ResolvedDestination, AwsError> {
    let chosen = destination.trimmed();
    let sandbox_defaults = endpoint.is_some();
    let pick = |value: Option<String>, default: &str, flag: &str| -> Result<String, AwsError> {
        match value {
            Some(v) => Ok(v),
            None if sandbox_defaults => Ok(default.to_string()),
            None => Err(AwsError::Input(format!("choose {flag}: it has no default outside the sandbox"))),
        }
    };
    let input_bucket = pick(chosen.input_bucket, SANDBOX_INPUT_BUCKET, "the input bucket (--input-bucket)")?;
    let output_uri = pick(
        chosen.output_uri,
        &format!("s3://{SANDBOX_OUTPUT_BUCKET}/lakedrop-output/"),
        "the output location (--output-uri s3://bucket/prefix/)",
    )?;
    let kms_key = pick(chosen.kms_key_id, SANDBOX_KMS_ALIAS, "the KMS key (--kms-key)")?;
    let role_arn = pick(chosen.role_arn, SANDBOX_ROLE_ARN, "the IAM role HealthLake assumes (--role)")?;
    let (output_bucket, _) = crate::jobs::split_s3_uri(&output_uri)?;
    let output_bucket = output_bucket.to_string();

    let (datastore_id, datastore_name) = match chosen.datastore_id {
        Some(id) => {
            let out = with_retries("DescribeFHIRDatastore", "the data store", || {
                clients.healthlake.describe_fhir_datastore().datastore_id(&id).send()
            })
            .await?;
            let name = out.datastore_properties().and_then(|p| p.datastore_name()).unwrap_or(&id).to_string();
            (id, name)
        }
        None => only_active_datastore(clients).await?,
    };
    let key =
        with_retries("DescribeKey", "the KMS key", || clients.kms.describe_key().key_id(&kms_key).send())
            .await?;
    let key_arn = key.key_metadata().and_then(|m| m.arn()).unwrap_or(&kms_key).to_string();
    Ok(ResolvedDestination {
        kind,
        label: label.to_string(),
        region: clients.region.clone(),
        endpoint: endpoint.map(str::to_string),
        datastore_id,
        datastore_name,
        input_bucket,
        output_bucket,
        output_uri,
        kms_key_id: key_arn,
        kms_key_alias: kms_key.starts_with("alias/").then_some(kms_key),
        role_arn,
    })
}

/// The id and name of the only ACTIVE data store; an error naming them all when there are several.
pub async fn only_active_datastore(clients: &Clients) -> Result<(String, String), AwsError> {
    let filter = DatastoreFilter::builder().datastore_status(DatastoreStatus::Active).build();
    let out = with_retries("ListFHIRDatastores", "the data stores", || {
        clients.healthlake.list_fhir_datastores().filter(filter.clone()).send()
    })
    .await?;
    let stores = out.datastore_properties_list();
    match stores {
        [one] => Ok((
            one.datastore_id().to_string(),
            one.datastore_name().unwrap_or(one.datastore_id()).to_string(),
        )),
        [] => Err(AwsError::NotFound { message: "no ACTIVE HealthLake data store in this Region".into() }),
        many => Err(AwsError::Input(format!(
            "{} ACTIVE data stores; choose one with --datastore ({})",
            many.len(),
            many.iter().map(|d| d.datastore_id()).collect::<Vec<_>>().join(", ")
        ))),
    }
}
