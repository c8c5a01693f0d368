//! The one error type of the service and its single mapping to `tonic::Status`.
//!
//! Every layer (domain, store, handlers) returns [`Error`]; only [`From<Error> for Status`] turns it
//! into what a gRPC caller sees, with `google.rpc` details (`ErrorInfo` with a stable reason,
//! `BadRequest` field violations, `ResourceInfo`, `PreconditionFailure`, `RetryInfo`).

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Error domain reported in `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = "kinerja.go.id";

/// Result type used throughout the service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One field of a request that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the field in the request, e.g. `employee.nip`.
    pub field: String,
    /// What is wrong with it, in words a caller can act on.
    pub reason: String,
}

impl Violation {
    /// A violation of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Everything that can go wrong while serving a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: one or more fields are wrong.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<Violation>),
    /// The named resource does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Type of the resource, e.g. `Employee`.
        kind: &'static str,
        /// Id or key used to look it up.
        id: String,
    },
    /// A resource with the same unique key exists already.
    #[error("{kind} already exists: {detail}")]
    AlreadyExists {
        /// Type of the resource.
        kind: &'static str,
        /// Which key collides.
        detail: String,
    },
    /// The request is valid but the state of the system does not allow it.
    #[error("failed precondition ({reason}): {message}")]
    FailedPrecondition {
        /// Stable machine-readable reason, e.g. `ASSIGNMENT_OVERLAP`.
        reason: &'static str,
        /// The resource the rule is about.
        subject: String,
        /// What rule is broken, for a person.
        message: String,
    },
    /// The resource changed since the caller read it (stale etag).
    #[error("{kind} {id} was changed concurrently: the etag is stale")]
    Aborted {
        /// Type of the resource.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The caller is not identified.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The caller is over a limit; retry after the delay.
    #[error("resource exhausted: {message}")]
    ResourceExhausted {
        /// What limit was hit.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// A dependency (the database) is not reachable now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A fault inside the service; details go to the log, not to the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A single-field `INVALID_ARGUMENT`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![Violation::new(field, reason)])
    }

    /// `NOT_FOUND` for a resource of `kind` with key `id`.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// `FAILED_PRECONDITION` with a stable reason.
    pub fn precondition(
        reason: &'static str,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::FailedPrecondition {
            reason,
            subject: subject.into(),
            message: message.into(),
        }
    }

    /// The stable `ErrorInfo.reason` of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::NotFound { .. } => "NOT_FOUND",
            Error::AlreadyExists { .. } => "ALREADY_EXISTS",
            Error::FailedPrecondition { reason, .. } => reason,
            Error::Aborted { .. } => "ETAG_MISMATCH",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::PermissionDenied(_) => "PERMISSION_DENIED",
            Error::ResourceExhausted { .. } => "RATE_LIMITED",
            Error::Unavailable(_) => "UNAVAILABLE",
            Error::Internal(_) => "INTERNAL",
        }
    }
}

/// Collects field violations and turns them into one `INVALID_ARGUMENT`.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records that `field` is wrong for `reason`.
    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Violation::new(field, reason));
    }
    /// Records the outcome of a check that may have failed.
    pub fn check(&mut self, r: Result<()>) {
        if let Err(e) = r {
            match e {
                Error::InvalidArgument(v) => self.0.extend(v),
                other => self.0.push(Violation::new("", other.to_string())),
            }
        }
    }
    /// The value of a check that may have failed; a failure is recorded and gives `None`.
    pub fn take<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.check(Err(e));
                None
            }
        }
    }
    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok` when nothing was recorded, otherwise `INVALID_ARGUMENT` with every violation.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match &e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                Error::Unavailable(format!("the database is not reachable ({e}); retry later"))
            }
            _ => match e.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(detail)) => Error::AlreadyExists {
                    kind: "resource",
                    detail,
                },
                _ => Error::Internal(e.to_string()),
            },
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let reason = e.reason();
        let info = |details: &mut ErrorDetails| {
            details.set_error_info(reason, ERROR_DOMAIN, HashMap::<String, String>::new());
        };
        let mut details = ErrorDetails::new();
        let (code, message) = match &e {
            Error::InvalidArgument(v) => {
                details.set_bad_request(
                    v.iter()
                        .map(|v| FieldViolation::new(v.field.clone(), v.reason.clone()))
                        .collect::<Vec<_>>(),
                );
                (Code::InvalidArgument, e.to_string())
            }
            Error::NotFound { kind, id } => {
                details.set_resource_info(*kind, id.clone(), "", "not found");
                (Code::NotFound, e.to_string())
            }
            Error::AlreadyExists { kind, .. } => {
                details.set_resource_info(*kind, "", "", "already exists");
                (Code::AlreadyExists, e.to_string())
            }
            Error::FailedPrecondition {
                reason,
                subject,
                message,
            } => {
                details.add_precondition_failure_violation(*reason, subject.clone(), message);
                (Code::FailedPrecondition, message.clone())
            }
            Error::Aborted { kind, id } => {
                details.set_resource_info(*kind, id.clone(), "", "etag is stale");
                (Code::Aborted, e.to_string())
            }
            Error::Unauthenticated(_) => (Code::Unauthenticated, e.to_string()),
            Error::PermissionDenied(_) => (Code::PermissionDenied, e.to_string()),
            Error::ResourceExhausted { retry_after, .. } => {
                details.set_retry_info(Some(*retry_after));
                (Code::ResourceExhausted, e.to_string())
            }
            Error::Unavailable(_) => (Code::Unavailable, e.to_string()),
            Error::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                (
                    Code::Internal,
                    "internal error; see the server log".to_owned(),
                )
            }
        };
        info(&mut details);
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status: Status = Error::invalid("employee.nip", "must be 18 digits").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let br = details.bad_request().expect("bad request details");
        assert_eq!(br.field_violations[0].field, "employee.nip");
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("INVALID_ARGUMENT")
        );
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let status: Status = Error::Internal("secret sql".into()).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn precondition_reason_is_stable() {
        let status: Status = Error::precondition("ASSIGNMENT_OVERLAP", "a/1", "overlaps").into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("ASSIGNMENT_OVERLAP")
        );
    }
}
