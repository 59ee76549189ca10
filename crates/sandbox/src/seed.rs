//! The seed: what a new sandbox holds so that the first import works at once: an ACTIVE data store, a KMS key
//! with an alias, an input and an output bucket (Block Public Access on), a role ARN, and the credentials that
//! sign requests. It is created once per data directory and remembered in `seed.json`.

use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::SandboxError;
use crate::healthlake::HealthLake;
use crate::kms::Kms;
use crate::s3::ObjectStore;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub datastore_id: String,
    pub datastore_name: String,
    pub input_bucket: String,
    pub output_bucket: String,
    pub kms_key_arn: String,
    pub kms_key_alias: String,
    pub role_arn: String,
}

pub(crate) const SEED_FILE: &str = "seed.json";

pub(crate) fn ensure(
    dir: &Path,
    region: &str,
    store: &ObjectStore,
    kms: &Kms,
    healthlake: &HealthLake,
) -> Result<Seed, SandboxError> {
    let path = dir.join(SEED_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return serde_json::from_str(&text)
            .map_err(|e| SandboxError::Seed(format!("{}: {e}", path.display())));
    }
    let now = SystemTime::now();
    let seed_err = |e: crate::protocol::ApiError| SandboxError::Seed(e.message);
    let key = kms.create_key("Lakedrop sandbox import output key", now).map_err(seed_err)?;
    let alias = "alias/lakedrop-sandbox".to_string();
    kms.create_alias(&alias, &key.key_id, now).map_err(seed_err)?;
    let datastore_name = "lakedrop-sandbox".to_string();
    let datastore_id =
        healthlake.create_datastore_now(Some(&datastore_name), None, true, now).map_err(seed_err)?;
    let (input_bucket, output_bucket) = ("lakedrop-input".to_string(), "lakedrop-output".to_string());
    for bucket in [&input_bucket, &output_bucket] {
        store.create_bucket(bucket, region).map_err(|e| SandboxError::Seed(e.to_string()))?;
    }
    // Random per data directory, so another local user cannot guess them; printed by `lakedrop sandbox serve`.
    let secret = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()[..8];
    let access = format!("AKIALD{}", &uuid::Uuid::new_v4().simple().to_string()[..14].to_uppercase());
    let seed = Seed {
        region: region.into(),
        access_key_id: access,
        secret_access_key: secret,
        datastore_id,
        datastore_name,
        input_bucket,
        output_bucket,
        kms_key_arn: key.arn,
        kms_key_alias: alias,
        role_arn: format!("arn:aws:iam::{}:role/LakedropSandboxImport", crate::ACCOUNT_ID),
    };
    let text = serde_json::to_string_pretty(&seed).map_err(|e| SandboxError::Seed(e.to_string()))?;
    write_private(&path, text.as_bytes())
        .map_err(|source| SandboxError::DataDir { path: path.clone(), source })?;
    Ok(seed)
}

/// Writes a file only its owner can read: it holds the sandbox's secret key.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    crate::private::create_file(path)?.write_all(bytes)
}

/// Makes sure the seeded import role exists in the sandbox's IAM with a trust policy for the seeded data store
/// (data directories made before IAM existed get it at their next start).
pub(crate) fn ensure_role(iam: &crate::iam::Iam, seed: &Seed) -> Result<(), SandboxError> {
    let target = lakedrop_core::policy::PolicyTarget {
        partition: "aws".into(),
        account_id: crate::ACCOUNT_ID.into(),
        region: seed.region.clone(),
        datastore_id: seed.datastore_id.clone(),
        input_bucket: seed.input_bucket.clone(),
        output_bucket: seed.output_bucket.clone(),
        kms_key_arn: seed.kms_key_arn.clone(),
    };
    let name = seed.role_arn.rsplit('/').next().unwrap_or("LakedropSandboxImport");
    let trust = lakedrop_core::policy::trust_policy(&target).to_string();
    iam.ensure_role(name, &trust, SystemTime::now()).map_err(|e| SandboxError::Seed(e.message))
}
