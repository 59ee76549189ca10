//! The analyst's remembered choices (the last connection, the destination last chosen on each connection, the
//! IAM role per data store, the validation level), in a small JSON file beside the history. Preferences, not
//! records: losing the file loses nothing but convenience. Ids and names only, never credentials.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lakedrop_validate::Level;

use crate::destination::Destination;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// The IAM role last used with each data store, by data store id.
    pub roles: BTreeMap<String, String>,
    /// The AWS profile last connected to; `None` means the sandbox.
    pub profile: Option<String>,
    pub region: Option<String>,
    /// The destination last chosen on each connection, by [`connection_key`].
    pub destinations: BTreeMap<String, Destination>,
    /// The validation level of the last import started.
    pub level: Option<Level>,
}

/// The key a connection's remembered destination is kept under: the sandbox, or an AWS profile in a Region
/// (the same profile in another Region sees other data stores).
pub fn connection_key(profile: Option<&str>, region: &str) -> String {
    match profile {
        None => "sandbox".into(),
        Some(profile) => format!("profile:{profile}@{region}"),
    }
}

pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    pub fn new(dir: &Path) -> SettingsFile {
        SettingsFile { path: dir.join("settings.json") }
    }

    /// The settings; defaults when the file is missing. A damaged file (it only holds conveniences) is kept
    /// aside, never overwritten, and said in the log; the defaults go on.
    pub fn load(&self) -> Settings {
        let Ok(bytes) = std::fs::read(&self.path) else { return Settings::default() };
        match serde_json::from_slice(&bytes) {
            Ok(settings) => settings,
            Err(e) => {
                match crate::state::set_aside(&self.path) {
                    Ok(aside) => tracing::warn!(
                        error = %e,
                        "the settings file {} was damaged; it was kept as {} and the defaults are used",
                        self.path.display(),
                        aside.display()
                    ),
                    Err(move_error) => {
                        tracing::warn!(error = %e, %move_error, "the settings file is damaged")
                    }
                }
                Settings::default()
            }
        }
    }

    /// Writes atomically (a temporary file renamed over the old one), so a crash never leaves half a file.
    pub fn save(&self, settings: &Settings) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(settings)?)?;
        std::fs::rename(&tmp, &self.path)
    }

    /// Loads, changes and saves in one step.
    pub fn update(&self, change: impl FnOnce(&mut Settings)) -> std::io::Result<Settings> {
        let mut settings = self.load();
        change(&mut settings);
        self.save(&settings)?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_settings_file_is_kept_aside_and_the_defaults_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("settings.json"), b"{\"level\": ").expect("write");
        let file = SettingsFile::new(dir.path());
        assert_eq!(file.load(), Settings::default());
        let aside: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert!(aside.iter().any(|n| n.starts_with("settings.json.damaged-")), "{aside:?}");
    }

    #[test]
    fn roles_are_remembered_per_data_store_across_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = SettingsFile::new(dir.path());
        assert_eq!(file.load(), Settings::default(), "no file yet");
        file.update(|s| {
            s.roles.insert("ds1".into(), "arn:aws:iam::111122223333:role/A".into());
        })
        .expect("save");
        let again = SettingsFile::new(dir.path()).load();
        assert_eq!(again.roles["ds1"], "arn:aws:iam::111122223333:role/A");
        assert!(!dir.path().join("settings.json.tmp").exists());
    }

    #[test]
    fn each_connection_remembers_its_own_destination_and_older_files_still_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A settings file written before destinations were remembered.
        std::fs::write(
            dir.path().join("settings.json"),
            br#"{"roles":{},"profile":"analyst","region":"us-east-1"}"#,
        )
        .expect("write");
        let file = SettingsFile::new(dir.path());
        assert_eq!(file.load().profile.as_deref(), Some("analyst"));
        let east = Destination { datastore_id: Some("ds-east".into()), ..Destination::default() };
        file.update(|s| {
            s.destinations.insert(connection_key(Some("analyst"), "us-east-1"), east.clone());
            s.level = Some(Level::Minimal);
        })
        .expect("save");
        let again = SettingsFile::new(dir.path()).load();
        assert_eq!(again.destinations.get(&connection_key(Some("analyst"), "us-east-1")), Some(&east));
        assert_eq!(again.destinations.get(&connection_key(Some("analyst"), "us-west-2")), None);
        assert_eq!(again.destinations.get(&connection_key(None, "us-east-1")), None);
        assert_eq!(again.level, Some(Level::Minimal));
    }

    #[test]
    fn an_unreadable_file_gives_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("settings.json"), b"{not json").expect("write");
        assert_eq!(SettingsFile::new(dir.path()).load(), Settings::default());
    }
}
