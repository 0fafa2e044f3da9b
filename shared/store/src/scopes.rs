//! What one API key may do within its tenant: its scopes (`ingest`, `read`, `replay`) and,
//! optionally, a narrower set of client patterns than its tenant's. Both are stored on the
//! key's state (`KeyState`); a key stored before scopes existed has every scope and its
//! tenant's clients, so existing keys keep working unchanged.

use std::fmt;

use crate::tenancy::{ClientPattern, ClientPatterns};

/// One thing a key may do. Each route needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `POST /events`, single and batch.
    Ingest,
    /// Listings, failed records, aggregates.
    Read,
    /// Retrying kept failed events, single and bulk.
    Replay,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Replay];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Replay => "replay",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Scope::Ingest => 1,
            Scope::Read => 2,
            Scope::Replay => 4,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope {0:?} is unknown: use ingest, read, replay (comma separated)")]
    Unknown(String),
    #[error("a key needs at least one scope (ingest, read, replay)")]
    Empty,
    #[error(
        "client pattern {0} is not inside the tenant's client patterns ({1}): a key can only \
         be narrowed to a subset of its tenant's clients"
    )]
    Wider(String, String),
}

/// A non-empty set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: what a key stored without scopes has.
    pub const fn all() -> Self {
        Scopes(1 | 2 | 4)
    }

    pub const fn only(scope: Scope) -> Self {
        Scopes(scope.bit())
    }

    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub const fn is_all(self) -> bool {
        self.0 == Scopes::all().0
    }

    /// Comma separated (`ingest,read`); spaces around names are ignored.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut bits = 0;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|scope| scope.as_str() == name)
                .ok_or_else(|| ScopeError::Unknown(name.to_owned()))?;
            bits |= scope.bit();
        }
        if bits == 0 {
            return Err(ScopeError::Empty);
        }
        Ok(Scopes(bits))
    }
}

impl fmt::Display for Scopes {
    /// In the order of `Scope::ALL`, comma separated: what `parse` reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL
            .into_iter()
            .filter(|scope| self.contains(*scope))
            .map(Scope::as_str)
            .collect();
        f.write_str(&names.join(","))
    }
}

impl ClientPattern {
    /// Whether every client id this pattern owns is also owned by `wider`.
    fn within(&self, wider: &ClientPattern) -> bool {
        match (self, wider) {
            (_, ClientPattern::All) => true,
            (ClientPattern::All, _) => false,
            (ClientPattern::Exact(id), other) => other.matches(id),
            (ClientPattern::Prefix(p), ClientPattern::Prefix(q)) => p.starts_with(q.as_str()),
            // a prefix owns endless client ids; one exact name never covers them
            (ClientPattern::Prefix(_), ClientPattern::Exact(_)) => false,
        }
    }
}

impl ClientPatterns {
    /// `narrow` when every client id it owns is owned by `self` (a key's patterns inside its
    /// tenant's); else the first pattern that reaches outside, as the error.
    pub fn narrowed_to(&self, narrow: ClientPatterns) -> Result<ClientPatterns, ScopeError> {
        for pattern in narrow.patterns() {
            if !self.patterns().iter().any(|wide| pattern.within(wide)) {
                return Err(ScopeError::Wider(pattern.to_string(), self.to_string()));
            }
        }
        Ok(narrow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_print_and_refuse_unknown_names() {
        let scopes = Scopes::parse("replay, ingest").unwrap();
        assert!(scopes.contains(Scope::Ingest) && scopes.contains(Scope::Replay));
        assert!(!scopes.contains(Scope::Read));
        assert_eq!(scopes.to_string(), "ingest,replay");
        assert_eq!(Scopes::parse("ingest,read,replay"), Ok(Scopes::all()));
        assert!(Scopes::all().is_all() && !Scopes::only(Scope::Read).is_all());
        assert_eq!(Scopes::parse(" , "), Err(ScopeError::Empty));
        assert_eq!(
            Scopes::parse("ingest,write"),
            Err(ScopeError::Unknown("write".into()))
        );
    }

    #[test]
    fn a_key_can_be_narrowed_only_inside_its_tenants_clients() {
        let tenant = ClientPatterns::parse("acme-*,beta", false).unwrap();
        let ok = |text| {
            tenant
                .narrowed_to(ClientPatterns::parse(text, true).unwrap())
                .is_ok()
        };
        assert!(ok("acme-ios"));
        assert!(ok("acme-ios-*,beta"));
        assert!(ok("acme-*"));
        assert!(!ok("acme*"), "acme* also owns acmecorp");
        assert!(!ok("beta-*"), "beta owns one name, not a prefix");
        assert!(!ok("gamma"));
        assert!(!ok("*"));
        let all = ClientPatterns::all();
        assert!(all
            .narrowed_to(ClientPatterns::parse("*", true).unwrap())
            .is_ok());
    }
}
