//! Authentication and authorization.
//!
//! - [`jwt`]: offline verification of bearer tokens against a JWKS (algorithm pinned per key),
//!   a cache of verified tokens, and the local development key.
//! - [`layer`]: the tower layer that lets a call in only with a valid token (health and
//!   reflection excepted by setting), applies the per-caller rate limit, refuses RPCs without a
//!   policy entry, and hands the [`Principal`] to the handlers.
//! - [`policy`]: the one table of who may call what on which resource, as a pure function.

pub mod jwt;
pub mod layer;
pub mod policy;

use serde::{Deserialize, Serialize};

/// A role named in a token's `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A civil servant acting on their own records (the subject is their NIP).
    Employee,
    /// An HR administrator (BKPSDM) within the unit subtrees named in the `units` claim.
    Admin,
    /// An administrator of the whole installation (agencies, every unit).
    SystemAdmin,
    /// Inspectorate: reads everything, changes nothing.
    Auditor,
    /// A service account acting within the scopes of its `scope` claim.
    Service,
}

impl Role {
    /// Parses a role name; unknown roles are ignored by the verifier.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "employee" => Some(Role::Employee),
            "admin" => Some(Role::Admin),
            "system_admin" => Some(Role::SystemAdmin),
            "auditor" => Some(Role::Auditor),
            "service" => Some(Role::Service),
            _ => None,
        }
    }
    /// The name used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Employee => "employee",
            Role::Admin => "admin",
            Role::SystemAdmin => "system_admin",
            Role::Auditor => "auditor",
            Role::Service => "service",
        }
    }
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token subject: an employee's NIP, or a service account name.
    pub subject: String,
    /// Roles granted by the token.
    pub roles: Vec<Role>,
    /// Unit ids whose subtrees an admin manages.
    pub units: Vec<String>,
    /// Scopes of a service account (e.g. `results:read`).
    pub scopes: Vec<String>,
    /// The calling service acting for the subject (RFC 8693 `act.sub`), if any.
    pub acting_service: Option<String>,
    /// Expiry of the token (Unix seconds).
    pub expires_at: i64,
}

impl Principal {
    /// True when the token grants `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    /// True when a service account holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.has(Role::Service) && self.scopes.iter().any(|s| s == scope)
    }
}
