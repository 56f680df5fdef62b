//! S3 settings from the AWS shared files: `~/.aws/credentials` and
//! `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`),
//! profile `AWS_PROFILE` (else `AWS_DEFAULT_PROFILE`, else `default`).
//!
//! Read keys: `aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`, `region`, `endpoint_url`. The credentials file names
//! a profile `[name]`; the config file `[profile name]` (and `[default]`).
//! A key in the credentials file wins over the same key in the config file.
//! Lines starting with `#` or `;` are comments; indented lines (nested
//! service settings such as `s3 =` blocks) are skipped; values are taken
//! whole (no inline comments, as botocore reads them).
//!
//! Profiles that get credentials another way (`role_arn`, `sso_*`,
//! `credential_process`) are refused with an error naming the profile rather
//! than silently falling through to another identity.
//!
//! Nothing here prints a secret: [`Profile`]'s `Debug` redacts them and
//! errors name only files, profiles and keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What one profile says.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("access_key_id", &hidden(&self.access_key_id))
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

/// Keys naming a way of getting credentials this reader does not support.
const UNSUPPORTED: &[&str] = &[
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "web_identity_token_file",
];

/// Sections of an INI text: section header (trimmed, inside the brackets)
/// → key → value (`[a]` appearing twice merges, later keys win).
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) {
            continue; // nested settings (`s3 =` blocks) and continuations
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(header.clone()).or_default();
            current = Some(header);
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    sections
}

/// Where the files are and which profile, from an environment lookup.
#[derive(Debug, Clone)]
pub struct ProfileSource {
    pub profile: String,
    /// Whether the profile was named (`AWS_PROFILE`): then it must exist.
    pub explicit: bool,
    pub credentials_file: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
}

impl ProfileSource {
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| var(k).filter(|v| !v.is_empty());
        let named = var("AWS_PROFILE").or_else(|| var("AWS_DEFAULT_PROFILE"));
        let home = var("HOME").map(PathBuf::from);
        let file = |key: &str, default: &str| {
            var(key)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        ProfileSource {
            explicit: named.is_some(),
            profile: named.unwrap_or_else(|| "default".into()),
            credentials_file: file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            config_file: file("AWS_CONFIG_FILE", "config"),
        }
    }

    /// The process environment's.
    pub fn from_process_env() -> Self {
        Self::from_env(|k| std::env::var(k).ok())
    }

    /// Reads the profile. `Ok(None)`: neither file has it and it was not
    /// named explicitly (fall through to the next credential source).
    pub fn load(&self) -> Result<Option<Profile>, String> {
        let read = |path: &Option<PathBuf>| -> Result<Option<String>, String> {
            let Some(path) = path else { return Ok(None) };
            match std::fs::read(path) {
                Ok(bytes) => String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| format!("AWS shared file {} is not UTF-8 text", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("reading AWS shared file {}: {e}", path.display())),
            }
        };
        let credentials = read(&self.credentials_file)?.map(|t| parse_ini(&t));
        let config = read(&self.config_file)?.map(|t| parse_ini(&t));
        let from_credentials = credentials.as_ref().and_then(|s| s.get(&self.profile));
        let config_header = if self.profile == "default" {
            "default".to_string()
        } else {
            format!("profile {}", self.profile)
        };
        let from_config = config.as_ref().and_then(|s| {
            s.get(&config_header)
                .or_else(|| s.get(&format!("profile {}", self.profile)))
        });
        if from_credentials.is_none() && from_config.is_none() {
            if self.explicit {
                return Err(format!(
                    "AWS profile {:?} (AWS_PROFILE) is in neither {} nor {}",
                    self.profile,
                    shown(&self.credentials_file),
                    shown(&self.config_file)
                ));
            }
            return Ok(None);
        }
        let get = |key: &str| {
            from_credentials
                .and_then(|s| s.get(key))
                .or_else(|| from_config.and_then(|s| s.get(key)))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let profile = Profile {
            name: self.profile.clone(),
            access_key_id: get("aws_access_key_id"),
            secret_access_key: get("aws_secret_access_key"),
            session_token: get("aws_session_token").or_else(|| get("aws_security_token")),
            region: get("region"),
            endpoint_url: get("endpoint_url"),
        };
        let where_ = || {
            format!(
                "AWS profile {:?} ({}, {})",
                self.profile,
                shown(&self.credentials_file),
                shown(&self.config_file)
            )
        };
        match (&profile.access_key_id, &profile.secret_access_key) {
            (Some(_), None) => {
                return Err(format!(
                    "{} has aws_access_key_id but no aws_secret_access_key",
                    where_()
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "{} has aws_secret_access_key but no aws_access_key_id",
                    where_()
                ));
            }
            (None, None) => {
                if let Some(key) = UNSUPPORTED.iter().find(|k| get(k).is_some()) {
                    return Err(format!(
                        "{} gets credentials through {key}, which provindex does not support; \
                         give static keys, or use environment variables, web identity, \
                         ECS or instance credentials",
                        where_()
                    ));
                }
            }
            (Some(_), Some(_)) => {}
        }
        Ok(Some(profile))
    }
}

fn shown(path: &Option<PathBuf>) -> String {
    path.as_deref()
        .map(Path::display)
        .map(|d| d.to_string())
        .unwrap_or_else(|| "(no file: HOME unset)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, profile: Option<&str>) -> ProfileSource {
        let env: HashMap<&str, String> = [
            ("HOME", dir.display().to_string()),
            (
                "AWS_PROFILE",
                profile.map(str::to_string).unwrap_or_default(),
            ),
        ]
        .into_iter()
        .collect();
        ProfileSource::from_env(|k| env.get(k).cloned())
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(dir.join(".aws").join(name), text).unwrap();
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "provindex-aws-profile-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn credentials_and_config_sections_comments_and_tokens() {
        let dir = tempdir("sections");
        write(
            &dir,
            "credentials",
            "# comment\n; another\n[default]\naws_access_key_id = AKIDDEFAULT\n\
             aws_secret_access_key=secret/with+chars=\n\n[crawl]\n\
             aws_access_key_id = AKIDCRAWL\naws_secret_access_key = SECRETCRAWL\n\
             aws_session_token = TOKEN#CRAWL\n",
        );
        write(
            &dir,
            "config",
            "[default]\nregion = eu-west-1\n[profile crawl]\nregion = us-east-1\n\
             endpoint_url = http://127.0.0.1:9\ns3 =\n  addressing_style = path\n\
             [crawl]\nregion = wrong-section\n",
        );
        let p = source(&dir, None).load().unwrap().unwrap();
        assert_eq!(p.access_key_id.as_deref(), Some("AKIDDEFAULT"));
        assert_eq!(p.secret_access_key.as_deref(), Some("secret/with+chars="));
        assert_eq!(p.session_token, None);
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        let p = source(&dir, Some("crawl")).load().unwrap().unwrap();
        assert_eq!(p.access_key_id.as_deref(), Some("AKIDCRAWL"));
        assert_eq!(p.session_token.as_deref(), Some("TOKEN#CRAWL"));
        // `[crawl]` in the config file is not the profile: `[profile crawl]` is.
        assert_eq!(p.region.as_deref(), Some("us-east-1"));
        assert_eq!(p.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
        // Secrets never reach Debug output.
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("AKIDCRAWL")
                && !shown.contains("SECRETCRAWL")
                && !shown.contains("TOKEN#CRAWL"),
            "{shown}"
        );
    }

    #[test]
    fn missing_named_profile_half_keys_and_role_profiles_are_refused() {
        let dir = tempdir("refused");
        // No files at all: the default profile falls through.
        assert_eq!(source(&dir, None).load().unwrap(), None);
        let e = source(&dir, Some("nope")).load().unwrap_err();
        assert!(e.contains("\"nope\"") && e.contains("credentials"), "{e}");
        write(
            &dir,
            "credentials",
            "[half]\naws_access_key_id = AKIDHALF\n[secretonly]\naws_secret_access_key = x\n",
        );
        write(
            &dir,
            "config",
            "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = half\n",
        );
        let e = source(&dir, Some("half")).load().unwrap_err();
        assert!(e.contains("no aws_secret_access_key"), "{e}");
        assert!(!e.contains("AKIDHALF"), "{e}");
        let e = source(&dir, Some("secretonly")).load().unwrap_err();
        assert!(e.contains("no aws_access_key_id"), "{e}");
        let e = source(&dir, Some("role")).load().unwrap_err();
        assert!(e.contains("role_arn") && e.contains("\"role\""), "{e}");
        // A default profile with only a region is fine (credentials from elsewhere).
        write(&dir, "config", "[default]\nregion = ap-south-1\n");
        let p = source(&dir, None).load().unwrap().unwrap();
        assert_eq!(
            (p.access_key_id, p.region.as_deref()),
            (None, Some("ap-south-1"))
        );
    }

    #[test]
    fn explicit_file_variables_win_over_home() {
        let dir = tempdir("vars");
        write(
            &dir,
            "credentials",
            "[default]\naws_access_key_id=HOME\naws_secret_access_key=x\n",
        );
        let other = dir.join("elsewhere.ini");
        std::fs::write(
            &other,
            "[default]\naws_access_key_id=OTHER\naws_secret_access_key=y\n",
        )
        .unwrap();
        let env: HashMap<&str, String> = [
            ("HOME", dir.display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", other.display().to_string()),
        ]
        .into_iter()
        .collect();
        let p = ProfileSource::from_env(|k| env.get(k).cloned())
            .load()
            .unwrap()
            .unwrap();
        assert_eq!(p.access_key_id.as_deref(), Some("OTHER"));
    }
}
