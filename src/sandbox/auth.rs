//! The accounts side: refresh tokens, issued access tokens and the grant throttle.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::store::random_token;

/// Why a token grant was refused; each maps to one of Zoho's bodies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GrantError {
    InvalidClient,
    InvalidCode,
    AccessDenied,
}

/// Token state of the fake accounts server.
pub(crate) struct AuthState {
    refresh_tokens: HashSet<String>,
    access: HashMap<String, Instant>,
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

    /// Records a grant for `key` unless the throttle is exhausted within `window`.
    pub fn throttle(&mut self, key: &str, limit: u32, window: Duration) -> Result<(), GrantError> {
        let now = Instant::now();
        let q = self.grants.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            return Err(GrantError::AccessDenied);
        }
        q.push_back(now);
        Ok(())
    }

    /// Issues a new access token living `ttl`.
    pub fn issue_access(&mut self, ttl: Duration) -> String {
        let now = Instant::now();
        self.access.retain(|_, exp| *exp > now);
        let t = random_token();
        self.access.insert(t.clone(), now + ttl);
        t
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
            .is_some_and(|exp| *exp > Instant::now())
    }

    pub fn expire_all(&mut self) {
        self.access.clear();
    }

    pub fn revoke_refresh(&mut self) {
        self.refresh_tokens.clear();
    }
}
