//! Every command's `--output json` document against the shapes the user guide lists ("Machine-readable output"
//! in `docs/guide.md`): the same fields, of the types it names, with values from its lists, and `version` 1. The
//! guide is read here, not copied, so neither can change without the other.
//!
//! The commands that talk to AWS share one served sandbox and one import with a rejected line, made by the first
//! test that needs them; a shell beside the server stops it when this test binary exits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use super::{BIN, exported_env, sample_dir};

// The guide's shapes.

/// A type as the guide writes it: `string`, `integer or null`, `array of Issue`, `map of Code to integer`, ...
#[derive(Debug, Clone)]
enum Type {
    String,
    Integer,
    Number,
    Boolean,
    /// A JSON object in someone else's format (an IAM policy document, a FHIR resource).
    Object,
    /// Any JSON value (an element of a FHIR resource).
    Any,
    Null,
    Array(Box<Type>),
    Map(Box<Type>, Box<Type>),
    /// A shape (a table of fields) or a list of values, by its name.
    Named(String),
    Either(Vec<Type>),
}

fn parse_type(text: &str) -> Type {
    let mut alternatives: Vec<Type> = text.split(" or ").map(|t| parse_one(t.trim())).collect();
    if alternatives.len() == 1 { alternatives.remove(0) } else { Type::Either(alternatives) }
}

fn parse_one(text: &str) -> Type {
    if let Some(item) = text.strip_prefix("array of ") {
        return Type::Array(Box::new(parse_one(item)));
    }
    if let Some(rest) = text.strip_prefix("map of ") {
        let (key, value) = rest.split_once(" to ").unwrap_or_else(|| panic!("`map of K to V`, not `{text}`"));
        return Type::Map(Box::new(parse_one(key)), Box::new(parse_one(value)));
    }
    match text {
        "string" => Type::String,
        "integer" => Type::Integer,
        "number" => Type::Number,
        "boolean" => Type::Boolean,
        "object" => Type::Object,
        "any" => Type::Any,
        "null" => Type::Null,
        name if name.starts_with(|c: char| c.is_ascii_uppercase()) => Type::Named(name.to_string()),
        other => panic!("the guide names a type this test does not know: `{other}`"),
    }
}

/// The section's tables (a command's or a shape's fields, in order) and lists of values.
struct Schema {
    shapes: BTreeMap<String, Vec<(String, Type)>>,
    values: BTreeMap<String, BTreeSet<String>>,
}

fn guide() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/guide.md");
        let text = std::fs::read_to_string(&path).expect("docs/guide.md");
        let start = text
            .find("### Machine-readable output")
            .expect("the guide has a Machine-readable output section");
        let section = &text[start..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        parse_section(section)
    })
}

/// Reads `#### name` headings (`lakedrop jobs list` is the command `jobs list`), each followed by a table whose
/// rows are `| \`field\` | type | what it is |`, and the bullets under `#### Values`, each `- \`Name\`: \`a\`, \`b\``
/// (continued on indented lines).
fn parse_section(section: &str) -> Schema {
    let mut shapes: BTreeMap<String, Vec<(String, Type)>> = BTreeMap::new();
    let mut values = BTreeMap::new();
    let mut heading = String::new();
    let mut bullets: Vec<String> = Vec::new();
    for line in section.lines() {
        if let Some(title) = line.strip_prefix("#### ") {
            heading = title.replace('`', "");
            heading = heading.strip_prefix("lakedrop ").unwrap_or(&heading).to_string();
        } else if heading == "Values" {
            if line.starts_with("- ") {
                bullets.push(line.to_string());
            } else if let (Some(last), true) = (bullets.last_mut(), line.starts_with("  ")) {
                last.push_str(line);
            }
        } else if line.starts_with("| `") {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let field = cells[1].trim_matches('`').to_string();
            shapes.entry(heading.clone()).or_default().push((field, parse_type(cells[2])));
        }
    }
    for bullet in bullets {
        let mut quoted = bullet.split('`').skip(1).step_by(2).map(str::to_string);
        let name = quoted.next().expect("a named list of values");
        values.insert(name, quoted.collect());
    }
    Schema { shapes, values }
}

impl Schema {
    /// What in `value` differs from `ty`, one line per difference, each with where it is.
    fn check(&self, value: &Value, ty: &Type, at: &str, differences: &mut Vec<String>) {
        let ok = match ty {
            Type::String => value.is_string(),
            Type::Integer => value.is_i64() || value.is_u64(),
            Type::Number => value.is_number(),
            Type::Boolean => value.is_boolean(),
            Type::Object => value.is_object(),
            Type::Any => true,
            Type::Null => value.is_null(),
            Type::Array(item) => match value.as_array() {
                Some(items) => {
                    for (i, v) in items.iter().enumerate() {
                        self.check(v, item, &format!("{at}[{i}]"), differences);
                    }
                    true
                }
                None => false,
            },
            Type::Map(key, item) => match value.as_object() {
                Some(map) => {
                    for (k, v) in map {
                        self.check(&Value::String(k.clone()), key, &format!("{at} key {k:?}"), differences);
                        self.check(v, item, &format!("{at}.{k}"), differences);
                    }
                    true
                }
                None => false,
            },
            // `T or null`: a value that is not null is checked as a `T`, so that what differs inside it is said.
            Type::Either(alternatives) => match alternatives.iter().find(|t| !matches!(t, Type::Null)) {
                Some(t) if alternatives.len() == 2 && !value.is_null() => {
                    self.check(value, t, at, differences);
                    true
                }
                _ => alternatives.iter().any(|t| {
                    let mut found = Vec::new();
                    self.check(value, t, at, &mut found);
                    found.is_empty()
                }),
            },
            Type::Named(name) => {
                if let Some(fields) = self.shapes.get(name) {
                    self.check_fields(value, fields, at, differences);
                    true
                } else if let Some(allowed) = self.values.get(name) {
                    value.as_str().is_some_and(|v| allowed.contains(v))
                } else {
                    panic!("the guide uses {name} without a table or a list of values for it");
                }
            }
        };
        if !ok {
            differences.push(format!("{at}: {value} is not {ty:?}"));
        }
    }

    fn check_fields(
        &self,
        value: &Value,
        fields: &[(String, Type)],
        at: &str,
        differences: &mut Vec<String>,
    ) {
        let Some(object) = value.as_object() else {
            differences.push(format!("{at}: {value} is not an object"));
            return;
        };
        let documented: BTreeSet<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        for key in object.keys().filter(|k| !documented.contains(k.as_str())) {
            differences.push(format!("{at}.{key}: printed, but not in the guide"));
        }
        for (field, ty) in fields {
            match object.get(field) {
                Some(v) => self.check(v, ty, &format!("{at}.{field}"), differences),
                None => differences.push(format!("{at}.{field}: in the guide, but not printed")),
            }
        }
    }
}

/// Parses a command's stdout and checks it against the guide's `Every document` and the command's own table.
fn assert_as_the_guide_says(command: &str, out: &Output) -> Value {
    let document: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{command}: one JSON document on stdout ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let schema = guide();
    let mut fields = schema.shapes["Every document"].clone();
    fields.extend(
        schema.shapes.get(command).unwrap_or_else(|| panic!("the guide has no table for {command}")).clone(),
    );
    let mut differences = Vec::new();
    schema.check_fields(&document, &fields, command, &mut differences);
    assert!(
        differences.is_empty(),
        "{command} differs from docs/guide.md:\n{}\n{document:#}",
        differences.join("\n")
    );
    assert_eq!(document["version"], 1, "{command}");
    assert_eq!(document["command"], command);
    document
}

// One served sandbox, one import.

struct Shared {
    env: Vec<(String, String)>,
    dir: PathBuf,
    /// The import's run (`import --wait --output json`), checked by its own test.
    import: Output,
    job_id: String,
    /// The shell beside the server, its stdin held open for the life of the test binary: when that closes, the
    /// shell stops the server.
    _server: Child,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        // A static is never dropped: the shell waits for this binary's end of its stdin to close (at exit, however
        // it ends), then stops the server and removes the folder.
        let script = r#""$0" sandbox serve --port 0 --data "$1/sandbox" 2>/dev/null & server=$!
            cat >/dev/null; kill $server; wait $server; rm -rf "$1""#;
        let mut child = Command::new("sh")
            .args(["-c", script, BIN])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let env = exported_env(child.stdout.take().expect("stdout"));

        // Three patients and one without an id: a job that completes with errors, with something to show.
        let patients = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample");
        let lines: Vec<&str> = patients.lines().take(4).collect();
        let no_id = lines[3].replacen("\"id\":", "\"x-id\":", 1);
        let batch = dir.join("batch");
        std::fs::create_dir(&batch).expect("mkdir");
        std::fs::write(
            batch.join("Patient.json.ndjson"),
            format!("{}\n{}\n{}\n{no_id}\n", lines[0], lines[1], lines[2]),
        )
        .expect("write");
        let import =
            served(&env, &dir, &["import", batch.to_str().expect("utf-8"), "--wait", "--output", "json"]);
        assert_eq!(
            import.status.code(),
            Some(1),
            "a job with errors: {}",
            String::from_utf8_lossy(&import.stderr)
        );
        let document: Value = serde_json::from_slice(&import.stdout).expect("json");
        let job_id = document["job"]["jobId"].as_str().expect("job id").to_string();
        Shared { env, dir, import, job_id, _server: child }
    })
}

impl Shared {
    fn run(&self, args: &[&str]) -> Output {
        served(&self.env, &self.dir, args)
    }
}

/// `lakedrop` against the served sandbox, with its client state in `dir`.
fn served(env: &[(String, String)], dir: &Path, args: &[&str]) -> Output {
    lakedrop(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("LAKEDROP_DATA_DIR", dir.join("client"))
        .output()
        .expect("runs")
}

/// `lakedrop`, none of this machine's AWS settings.
fn lakedrop(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("AWS_")) {
        command.env_remove(name);
    }
    command
}

// One test per command.

#[test]
fn validate_json_is_as_the_guide_says() {
    let out = lakedrop(&["validate", "--output", "json"]).arg(sample_dir()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "the sample holds a file that is not FHIR");
    let document = assert_as_the_guide_says("validate", &out);
    assert_eq!(document["summary"]["blocked"], true);
}

#[test]
fn fix_json_is_as_the_guide_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"{"version":1,"rules":[{"resourceType":"Patient","path":"gender","action":"replace-code","map":{"female":"female"}}]}"#,
    )
    .expect("plan");
    let out = lakedrop(&["fix", "--output", "json", "--plan"])
        .arg(&plan)
        .arg("--out")
        .arg(dir.path().join("fixed"))
        .arg(sample_dir().join("Patient.000.ndjson"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("fix", &out);
    assert_eq!(document["stillInvalid"], 0);
}

#[test]
fn policy_json_is_as_the_guide_says() {
    let out =
        lakedrop(&["policy", "--account", "111122223333", "--region", "us-east-1", "--datastore", "abc"])
            .args([
                "--input-bucket",
                "in-b",
                "--output-bucket",
                "out-b",
                "--kms-key",
                "arn:aws:kms:us-east-1:1:key/k",
            ])
            .args(["--role", "arn:aws:iam::111122223333:role/HL", "--output", "json"])
            .output()
            .expect("runs");
    assert!(out.status.success());
    assert_as_the_guide_says("policy", &out);
}

#[test]
fn import_json_is_as_the_guide_says() {
    let document = assert_as_the_guide_says("import", &shared().import);
    assert_eq!(document["job"]["status"], "COMPLETED_WITH_ERRORS");
}

#[test]
fn jobs_list_json_is_as_the_guide_says() {
    let shared = shared();
    let out = shared.run(&["jobs", "list", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("jobs list", &out);
    assert!(
        document["jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["jobId"] == shared.job_id.as_str()))
    );
}

#[test]
fn jobs_show_json_is_as_the_guide_says() {
    let shared = shared();
    let out = shared.run(&["jobs", "show", &shared.job_id, "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("jobs show", &out);
    assert_eq!(document["manifest"]["resourcesImported"], 3);
}

#[test]
fn preflight_json_is_as_the_guide_says() {
    let out = shared().run(&["preflight", "--files", "1", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("preflight", &out);
    assert_eq!(document["blocked"], false);
}

#[test]
fn results_json_is_as_the_guide_says() {
    let shared = shared();
    let export = shared.dir.join("failed.ndjson");
    let export = export.to_str().expect("utf-8");
    let out = shared.run(&[
        "results",
        &shared.job_id,
        "--failures",
        "--join",
        "--export",
        export,
        "--output",
        "json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("results", &out);
    assert_eq!(document["groups"][0]["cause"], "missing-id");
    assert_eq!(document["exported"]["lines"], 1);
}

#[test]
fn retry_json_is_as_the_guide_says() {
    let shared = shared();
    let out = shared.run(&["retry", &shared.job_id, "--wait", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("retry", &out);
    assert_eq!(document["retry"]["lines"], 1);
}

#[test]
fn verify_json_is_as_the_guide_says() {
    let shared = shared();
    let out = shared.run(&["verify", &shared.job_id, "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("verify", &out);
    assert_eq!(
        (document["counts"]["sampled"].as_u64(), document["allMatched"].as_bool()),
        (Some(3), Some(true))
    );
}

#[test]
fn upload_json_is_as_the_guide_says() {
    let shared = shared();
    let file = sample_dir().join("Organization.000.ndjson");
    let file = file.to_str().expect("utf-8");
    let upload = |to: &str| shared.run(&["upload", file, "--to", to, "--output", "json"]);
    let out = upload("s3://lakedrop-input/json-output/");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(assert_as_the_guide_says("upload", &out)["files"][0]["result"], "uploaded");
    let again = assert_as_the_guide_says("upload", &upload("s3://lakedrop-input/json-output/"));
    assert_eq!(again["files"][0]["result"], "skipped-identical");

    let out = upload("s3://no-such-bucket/json-output/");
    assert_eq!(out.status.code(), Some(2));
    let failed = assert_as_the_guide_says("upload", &out);
    assert_eq!(failed["error"]["code"], "not-found", "{failed}");
}

#[test]
fn clean_uploads_json_is_as_the_guide_says() {
    let shared = shared();
    // A multipart upload someone else started, for the list of those left alone.
    let env: BTreeMap<_, _> = shared.env.iter().cloned().collect();
    let target = lakedrop_aws::Target::Endpoint {
        url: env["AWS_ENDPOINT_URL"].clone(),
        region: env["AWS_REGION"].clone(),
        access_key_id: env["AWS_ACCESS_KEY_ID"].clone(),
        secret_access_key: env["AWS_SECRET_ACCESS_KEY"].clone(),
    };
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let clients = lakedrop_aws::connect(&target).await.expect("connect");
        clients
            .s3
            .create_multipart_upload()
            .bucket("lakedrop-input")
            .key("others/x.ndjson")
            .send()
            .await
            .expect("started");
    });
    let out = shared.run(&[
        "clean-uploads",
        "--bucket",
        "lakedrop-input",
        "--prefix",
        "others/",
        "--output",
        "json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let document = assert_as_the_guide_says("clean-uploads", &out);
    assert_eq!(document["buckets"][0]["others"][0]["key"], "others/x.ndjson");
}

// The lists of values name only values the code has (the tests above see only the values their runs produce).
#[test]
fn the_guide_lists_only_values_the_code_knows() {
    fn each<T: serde::de::DeserializeOwned>(name: &str) {
        let values = guide().values.get(name).unwrap_or_else(|| panic!("the guide lists {name}"));
        for value in values {
            let parsed = serde_json::from_value::<T>(Value::String(value.clone()));
            assert!(parsed.is_ok(), "{name}: the guide lists `{value}`, which the code does not have");
        }
    }
    each::<lakedrop_validate::Level>("Level");
    each::<lakedrop_validate::Severity>("Severity");
    each::<lakedrop_validate::Code>("Code");
    each::<lakedrop_core::progress::SkipReason>("SkipReason");
    each::<lakedrop_core::results::Cause>("Cause");
    each::<lakedrop_core::results::LineIdBase>("LineIdBase");
    each::<lakedrop_aws::preflight::Status>("CheckStatus");
    each::<lakedrop_aws::verify::Outcome>("Outcome");
}
