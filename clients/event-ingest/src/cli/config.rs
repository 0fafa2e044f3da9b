//! Where the URL and the key come from: `--url`/`--key`, else `EVENT_INGEST_URL` /
//! `EVENT_INGEST_KEY`, else a local stack's `.local/api.env` (`BASE_URL=…`) and
//! `.local/dev.key`, found by walking up from the current folder.

use std::path::{Path, PathBuf};

/// The deployment to talk to.
pub struct Target {
    pub url: String,
    /// Never printed or logged.
    pub key: String,
}

/// Resolve the URL and the key, or say what is missing and how to give it.
pub fn resolve(url: Option<String>, key: Option<String>) -> Result<Target, String> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let local = std::env::current_dir()
        .ok()
        .and_then(|dir| find_local(&dir));
    let url = url
        .or_else(|| from_env("EVENT_INGEST_URL"))
        .or_else(|| local.as_ref().and_then(|dir| local_url(dir)));
    let key = key
        .or_else(|| from_env("EVENT_INGEST_KEY"))
        .or_else(|| local.as_ref().and_then(|dir| local_key(dir)));
    match (url, key) {
        (Some(url), Some(key)) => Ok(Target {
            url: url.trim().to_owned(),
            key: key.trim().to_owned(),
        }),
        (None, _) => Err("no URL: pass --url, set EVENT_INGEST_URL, or run inside a checkout whose local stack runs (make dev)".to_owned()),
        (_, None) => Err("no API key: pass --key, set EVENT_INGEST_KEY, or run inside a checkout whose local stack runs (make dev)".to_owned()),
    }
}

/// The nearest `.local` folder holding `api.env`, from `start` up.
fn find_local(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(".local"))
        .find(|local| local.join("api.env").is_file())
}

fn local_url(local: &Path) -> Option<String> {
    let text = std::fs::read_to_string(local.join("api.env")).ok()?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("BASE_URL="))
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
}

fn local_key(local: &Path) -> Option<String> {
    let text = std::fs::read_to_string(local.join("dev.key")).ok()?;
    Some(text.trim().to_owned()).filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_stack_is_found_from_a_subfolder() {
        let root = tempfile::tempdir().unwrap();
        let local = root.path().join(".local");
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(local.join("api.env"), "BASE_URL=http://127.0.0.1:9101\n").unwrap();
        std::fs::write(local.join("dev.key"), "eik_secret\n").unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let found = find_local(&deep).expect("found");
        assert_eq!(local_url(&found).as_deref(), Some("http://127.0.0.1:9101"));
        assert_eq!(local_key(&found).as_deref(), Some("eik_secret"));
    }
}
