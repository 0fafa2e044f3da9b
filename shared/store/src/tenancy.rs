//! Tenants, the client ids they own, and their API keys.
//!
//! A tenant owns client ids by exact name or by prefix (`acme-*`; `*` alone owns every
//! client id, which only a deliberate choice grants). Of an API key only its SHA-256
//! (`KeyHash`) is stored, so a leaked table leaks no key; the keys themselves are made and
//! hashed by `event-runtime`.
//! Every key of the table starts with the tenant (`T#{tenant}`), so a request that carries
//! one tenant's key can only ever reach that tenant's items.

use std::collections::BTreeMap;
use std::fmt;

use event_core::ClientId;

use crate::limits::TenantLimits;
use crate::scopes::Scopes;

/// A tenant's name: 1–64 characters of `[A-Za-z0-9._-]` (no `#`, which separates key parts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenancyError {
    #[error("tenant name {0:?} is invalid: use 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    InvalidTenant(String),
    #[error(
        "client pattern {0:?} is invalid: use a client id (A-Z a-z 0-9 . _ : @ -), a prefix \
         ending in * such as acme-*, or * for every client"
    )]
    InvalidPattern(String),
    #[error(
        "client pattern * gives this tenant every client id, including other tenants' ones; \
         grant it only on purpose (--all-clients)"
    )]
    AllClientsNotAllowed,
    #[error("a tenant must own at least one client pattern")]
    NoPatterns,
}

impl TenantId {
    pub fn parse(text: &str) -> Result<Self, TenancyError> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(TenantId(text.to_owned()))
        } else {
            Err(TenancyError::InvalidTenant(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `default`: the tenant of every key before API keys existed, and of `AUTH=off`.
impl Default for TenantId {
    fn default() -> Self {
        TenantId("default".to_owned())
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which client ids one pattern owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPattern {
    Exact(ClientId),
    /// Every client id that starts with this text (at least one character).
    Prefix(String),
    /// Every client id.
    All,
}

impl ClientPattern {
    pub fn parse(text: &str) -> Result<Self, TenancyError> {
        let invalid = || TenancyError::InvalidPattern(text.to_owned());
        if text == "*" {
            return Ok(ClientPattern::All);
        }
        match text.strip_suffix('*') {
            Some(prefix) => {
                // The prefix must itself be the start of a valid client id.
                ClientId::parse(prefix).map_err(|_| invalid())?;
                Ok(ClientPattern::Prefix(prefix.to_owned()))
            }
            None => ClientId::parse(text)
                .map(ClientPattern::Exact)
                .map_err(|_| invalid()),
        }
    }

    pub fn matches(&self, client: &ClientId) -> bool {
        match self {
            ClientPattern::Exact(id) => id == client,
            ClientPattern::Prefix(prefix) => client.as_str().starts_with(prefix.as_str()),
            ClientPattern::All => true,
        }
    }
}

impl fmt::Display for ClientPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientPattern::Exact(id) => f.write_str(id.as_str()),
            ClientPattern::Prefix(prefix) => write!(f, "{prefix}*"),
            ClientPattern::All => f.write_str("*"),
        }
    }
}

/// The client ids a tenant owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPatterns(Vec<ClientPattern>);

impl ClientPatterns {
    /// Comma-separated patterns (`acme-*,beta`). `*` only when `allow_all`, so nobody hands a
    /// tenant every client id by a slip of the keyboard.
    pub fn parse(text: &str, allow_all: bool) -> Result<Self, TenancyError> {
        let patterns = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(ClientPattern::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err(TenancyError::NoPatterns);
        }
        if !allow_all && patterns.contains(&ClientPattern::All) {
            return Err(TenancyError::AllClientsNotAllowed);
        }
        Ok(ClientPatterns(patterns))
    }

    /// Every client id (a development tenant, or authentication turned off).
    pub fn all() -> Self {
        ClientPatterns(vec![ClientPattern::All])
    }

    pub fn owns(&self, client: &ClientId) -> bool {
        self.0.iter().any(|pattern| pattern.matches(client))
    }

    pub fn patterns(&self) -> &[ClientPattern] {
        &self.0
    }
}

impl fmt::Display for ClientPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pattern) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{pattern}")?;
        }
        Ok(())
    }
}

/// An API key's identity in the table: the lowercase hex SHA-256 of the key, what the table
/// stores and lookups use. Opaque here: keys are made and hashed by `event-runtime`
/// (`event_runtime::api_key`), so this crate holds no key crypto.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(String);

impl KeyHash {
    /// 64 hex digits (a hash just computed, or one read back from the table); anything
    /// else is `None`.
    pub fn from_hex(hex: String) -> Option<Self> {
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(KeyHash(hex))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short id a key is listed and revoked by (the hash's first 12 characters).
    pub fn id(&self) -> &str {
        &self.0[..12]
    }
}

/// What the table knows of one key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the key is refused; `None`: never.
    pub expires_at: Option<i64>,
    pub revoked: bool,
    /// What the key may do (`scopes.rs`); stored without it, every scope.
    pub scopes: Scopes,
    /// The client patterns the key is narrowed to, inside its tenant's (requests must pass
    /// both); `None`: its tenant's.
    pub only_clients: Option<ClientPatterns>,
}

impl KeyState {
    /// A usable key with every scope and its tenant's clients, created at `created_at`.
    pub fn new(label: impl Into<String>, created_at: i64) -> Self {
        KeyState {
            label: label.into(),
            created_at,
            expires_at: None,
            revoked: false,
            scopes: Scopes::all(),
            only_clients: None,
        }
    }

    /// Whether a request at `now` (unix seconds) may use the key.
    pub fn is_usable_at(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires| now < expires)
    }
}

/// A tenant, its clients and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub clients: ClientPatterns,
    /// Unix seconds.
    pub created_at: i64,
    pub keys: BTreeMap<KeyHash, KeyState>,
    pub limits: TenantLimits,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str) -> ClientId {
        ClientId::parse(id).unwrap()
    }

    #[test]
    fn patterns_own_exact_names_and_prefixes_only() {
        let patterns = ClientPatterns::parse("acme-*, beta", false).unwrap();
        assert!(patterns.owns(&client("acme-prod")));
        assert!(patterns.owns(&client("beta")));
        assert!(!patterns.owns(&client("beta-2")));
        assert!(!patterns.owns(&client("acme")));
        assert_eq!(patterns.to_string(), "acme-*,beta");
    }

    #[test]
    fn every_client_is_granted_only_on_purpose() {
        assert_eq!(
            ClientPatterns::parse("acme-*,*", false),
            Err(TenancyError::AllClientsNotAllowed)
        );
        assert!(ClientPatterns::parse("*", true)
            .unwrap()
            .owns(&client("anyone")));
    }

    #[test]
    fn bad_patterns_and_tenant_names_are_refused() {
        for bad in ["", " , ", "a b", "acme#*", "*acme", "a*b", "**"] {
            assert!(ClientPatterns::parse(bad, true).is_err(), "{bad:?}");
        }
        for bad in ["", "a#b", "a b", &"x".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TenantId::parse("acme_co.eu-1").is_ok());
    }

    #[test]
    fn a_key_hash_is_64_hex_digits() {
        let hex = "0123456789abcdef".repeat(4);
        let hash = KeyHash::from_hex(hex.clone()).unwrap();
        assert_eq!(hash.as_str(), hex);
        assert_eq!(hash.id(), "0123456789ab");
        assert!(KeyHash::from_hex(hex[1..].to_owned()).is_none());
        assert!(KeyHash::from_hex(hex.replace('a', "g")).is_none());
    }

    #[test]
    fn revoked_and_expired_keys_are_unusable() {
        let state = KeyState {
            expires_at: Some(100),
            ..KeyState::new("ci", 0)
        };
        assert!(state.is_usable_at(99));
        assert!(!state.is_usable_at(100));
        let revoked = KeyState {
            revoked: true,
            expires_at: None,
            ..state
        };
        assert!(!revoked.is_usable_at(0));
    }
}
