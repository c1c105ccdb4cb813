//! The accounts side: refresh tokens, issued access tokens and Zoho's two grant limits
//! (grants per rolling window, live access tokens per refresh token).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::store::random_token;

/// Zoho keeps at most this many unexpired access tokens per refresh token; a grant beyond
/// it is refused like the rate throttle (zoho-api-notes.md, "OAuth").
pub(crate) const MAX_LIVE_ACCESS_TOKENS: usize = 15;

/// Why a token grant was refused; each maps to one of Zoho's bodies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GrantError {
    InvalidClient,
    InvalidCode,
    AccessDenied,
}

/// An issued access token: when it dies and which refresh token (or code) it came from.
struct Access {
    expires: Instant,
    owner: String,
}

/// Token state of the fake accounts server.
pub(crate) struct AuthState {
    refresh_tokens: HashSet<String>,
    access: HashMap<String, Access>,
    grants: HashMap<String, VecDeque<Instant>>,
}

impl AuthState {
    pub fn new(refresh_token: &str) -> Self {
        AuthState {
            refresh_tokens: HashSet::from([refresh_token.to_string()]),
            access: HashMap::new(),
            grants: HashMap::new(),
        }
    }

    pub fn refresh_valid(&self, token: &str) -> bool {
        self.refresh_tokens.contains(token)
    }

    /// Issues an access token for `owner` (a refresh token or grant code) living `ttl`,
    /// unless `owner` already had `limit` grants within `window` or holds too many live
    /// tokens. Refused grants are not counted.
    pub fn grant(
        &mut self,
        owner: &str,
        limit: u32,
        window: Duration,
        ttl: Duration,
    ) -> Result<String, GrantError> {
        let now = Instant::now();
        self.access.retain(|_, a| a.expires > now);
        let q = self.grants.entry(owner.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        let live = self.access.values().filter(|a| a.owner == owner).count();
        if q.len() >= limit as usize || live >= MAX_LIVE_ACCESS_TOKENS {
            return Err(GrantError::AccessDenied);
        }
        q.push_back(now);
        let t = random_token();
        self.access.insert(
            t.clone(),
            Access {
                expires: now + ttl,
                owner: owner.to_string(),
            },
        );
        Ok(t)
    }

    /// Issues a new refresh token (authorization-code grant).
    pub fn issue_refresh(&mut self) -> String {
        let t = random_token();
        self.refresh_tokens.insert(t.clone());
        t
    }

    pub fn access_valid(&self, token: &str) -> bool {
        self.access
            .get(token)
            .is_some_and(|a| a.expires > Instant::now())
    }

    pub fn expire_all(&mut self) {
        self.access.clear();
    }

    /// Revokes every refresh token and, as Zoho does, the access tokens they issued.
    pub fn revoke_refresh(&mut self) {
        let revoked = std::mem::take(&mut self.refresh_tokens);
        self.access.retain(|_, a| !revoked.contains(&a.owner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn throttle_counts_grants_per_owner() {
        let mut a = AuthState::new("r1");
        for _ in 0..3 {
            assert!(a.grant("r1", 3, HOUR, HOUR).is_ok());
        }
        assert_eq!(a.grant("r1", 3, HOUR, HOUR), Err(GrantError::AccessDenied));
        assert!(a.grant("r2", 3, HOUR, HOUR).is_ok());
    }

    #[test]
    fn window_slides() {
        let mut a = AuthState::new("r1");
        assert!(a.grant("r1", 1, Duration::ZERO, HOUR).is_ok());
        assert!(a.grant("r1", 1, Duration::ZERO, HOUR).is_ok());
    }

    #[test]
    fn sixteenth_live_token_is_refused_until_some_expire() {
        let mut a = AuthState::new("r1");
        for _ in 0..MAX_LIVE_ACCESS_TOKENS {
            assert!(a.grant("r1", 100, HOUR, HOUR).is_ok());
        }
        assert_eq!(
            a.grant("r1", 100, HOUR, HOUR),
            Err(GrantError::AccessDenied)
        );
        a.expire_all();
        assert!(a.grant("r1", 100, HOUR, HOUR).is_ok());
    }

    #[test]
    fn revoking_refresh_tokens_kills_their_access_tokens() {
        let mut a = AuthState::new("r1");
        let t = a.grant("r1", 10, HOUR, HOUR).unwrap_or_default();
        assert!(a.access_valid(&t));
        a.revoke_refresh();
        assert!(!a.refresh_valid("r1"));
        assert!(!a.access_valid(&t));
    }
}
