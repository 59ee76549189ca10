//! IAM, just enough for import roles (AWS Query protocol: form-encoded `Action=...` in, XML out): roles with a
//! trust policy, so that preflight can read one with GetRole and HealthLake can refuse a role that does not
//! trust it. Not modelled: users, groups, permission policies, instance profiles, paths beyond `/`.

use std::sync::Arc;
use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};

use crate::db::Db;
use crate::protocol::{ApiError, epoch_seconds};
use crate::query::{self, Form, QueryResponse, escape};

pub(crate) const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

pub struct Iam {
    db: Arc<Db>,
    account: String,
}

/// What STS needs of a role: its ARN, its id (the `AROA…` prefix of a session's user id) and its trust policy.
pub struct RoleTrust {
    pub arn: String,
    pub id: String,
    pub trust_policy: String,
}

struct Role {
    name: String,
    arn: String,
    id: String,
    trust_policy: String,
    created: f64,
}

impl Iam {
    pub fn new(db: Arc<Db>, account: &str) -> rusqlite::Result<Iam> {
        db.conn().execute_batch(
            "CREATE TABLE IF NOT EXISTS iam_roles (
                name TEXT PRIMARY KEY, arn TEXT NOT NULL, id TEXT NOT NULL, trust_policy TEXT NOT NULL, created REAL NOT NULL
            );",
        )?;
        Ok(Iam { db, account: account.into() })
    }

    /// Handles one form-encoded request body.
    pub fn handle(&self, body: &[u8], now: SystemTime) -> QueryResponse {
        let form = Form::parse(body);
        let action = form.action();
        let result = match action {
            "GetRole" => form.required("RoleName").and_then(|n| self.get(n)).map(|r| role_xml(&r)),
            "CreateRole" => form
                .required("RoleName")
                .and_then(|name| Ok((name, form.required("AssumeRolePolicyDocument")?)))
                .and_then(|(name, doc)| self.create(name, doc, now))
                .map(|r| role_xml(&r)),
            "UpdateAssumeRolePolicy" => form
                .required("RoleName")
                .and_then(|name| Ok((name, form.required("PolicyDocument")?)))
                .and_then(|(name, doc)| self.update_trust(name, doc))
                .map(|()| String::new()),
            "DeleteRole" => form.required("RoleName").and_then(|n| self.delete(n)).map(|()| String::new()),
            other => Err(error(
                "InvalidAction",
                400,
                format!("The action {other} is not valid for this web service."),
            )),
        };
        query::respond(NAMESPACE, action, result)
    }

    /// Creates the role unless it exists (the seed calls this at every start, for older data directories too).
    pub fn ensure_role(&self, name: &str, trust_policy: &str, now: SystemTime) -> Result<(), ApiError> {
        match self.get(name) {
            Ok(_) => Ok(()),
            Err(_) => self.create(name, trust_policy, now).map(|_| ()),
        }
    }

    /// The role STS judges an AssumeRole call against, if it exists.
    pub fn role_trust(&self, name: &str) -> Result<Option<RoleTrust>, ApiError> {
        match self.get(name) {
            Ok(role) => Ok(Some(RoleTrust { arn: role.arn, id: role.id, trust_policy: role.trust_policy })),
            Err(e) if e.type_name == "NoSuchEntity" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether HealthLake may assume this role for this data store, judged by its trust policy as AWS would.
    pub fn trust_for_healthlake(
        &self,
        role_arn: &str,
        region: &str,
        datastore_id: &str,
    ) -> Result<(), String> {
        let name = role_arn.rsplit('/').next().unwrap_or_default();
        let role = self.get(name).map_err(|_| format!("the role {role_arn} does not exist"))?;
        if role.arn != role_arn {
            return Err(format!("the role {role_arn} does not exist"));
        }
        let document: serde_json::Value = serde_json::from_str(&role.trust_policy)
            .map_err(|_| "the role's trust policy is not JSON".to_string())?;
        let target = lakedrop_core::policy::PolicyTarget {
            partition: "aws".into(),
            account_id: self.account.clone(),
            region: region.into(),
            datastore_id: datastore_id.into(),
            input_bucket: String::new(),
            output_bucket: String::new(),
            kms_key_arn: String::new(),
        };
        match lakedrop_core::policy::check_trust(&document, &target) {
            lakedrop_core::policy::TrustVerdict::NotTrusted(why) => Err(why),
            _ => Ok(()),
        }
    }

    fn get(&self, name: &str) -> Result<Role, ApiError> {
        self.db
            .conn()
            .query_row(
                "SELECT name, arn, id, trust_policy, created FROM iam_roles WHERE name = ?1",
                params![name],
                |r| {
                    Ok(Role {
                        name: r.get(0)?,
                        arn: r.get(1)?,
                        id: r.get(2)?,
                        trust_policy: r.get(3)?,
                        created: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| error("NoSuchEntity", 404, format!("The role with name {name} cannot be found.")))
    }

    fn create(&self, name: &str, trust_policy: &str, now: SystemTime) -> Result<Role, ApiError> {
        valid_policy(trust_policy)?;
        let arn = format!("arn:aws:iam::{}:role/{name}", self.account);
        let id = format!("AROA{}", &uuid::Uuid::new_v4().simple().to_string()[..17].to_uppercase());
        let inserted = self.db.conn().execute(
            "INSERT OR IGNORE INTO iam_roles (name, arn, id, trust_policy, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, arn, id, trust_policy, epoch_seconds(now)],
        )?;
        if inserted == 0 {
            return Err(error("EntityAlreadyExists", 409, format!("Role with name {name} already exists.")));
        }
        self.get(name)
    }

    fn update_trust(&self, name: &str, trust_policy: &str) -> Result<(), ApiError> {
        valid_policy(trust_policy)?;
        let n = self
            .db
            .conn()
            .execute("UPDATE iam_roles SET trust_policy = ?2 WHERE name = ?1", params![name, trust_policy])?;
        if n == 0 {
            return Err(error("NoSuchEntity", 404, format!("The role with name {name} cannot be found.")));
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), ApiError> {
        let n = self.db.conn().execute("DELETE FROM iam_roles WHERE name = ?1", params![name])?;
        if n == 0 {
            return Err(error("NoSuchEntity", 404, format!("The role with name {name} cannot be found.")));
        }
        Ok(())
    }
}

fn valid_policy(document: &str) -> Result<(), ApiError> {
    serde_json::from_str::<serde_json::Value>(document)
        .map(|_| ())
        .map_err(|_| error("MalformedPolicyDocument", 400, "The policy document is not valid JSON."))
}

fn error(code: &'static str, status: u16, message: impl Into<String>) -> ApiError {
    ApiError::new(code, status, message)
}

fn role_xml(role: &Role) -> String {
    // IAM returns the trust policy URL-encoded inside the XML.
    let document: String =
        form_urlencoded::byte_serialize(role.trust_policy.as_bytes()).collect::<String>().replace('+', "%20");
    let created = time::OffsetDateTime::from_unix_timestamp(role.created as i64)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    format!(
        "<Role><Path>/</Path><RoleName>{}</RoleName><RoleId>{}</RoleId><Arn>{}</Arn><CreateDate>{created}</CreateDate><AssumeRolePolicyDocument>{document}</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration></Role>",
        escape(&role.name),
        escape(&role.id),
        escape(&role.arn)
    )
}
