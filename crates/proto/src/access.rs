//! Wire <-> domain conversions for access control and the audit trail.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bindery_core::{
    AuditEvent, AuditFilter, BindingName, ChainReport, Error, Grant, GrantRecord, ModelName, PageRequest,
    Protection, ProtectionRecord, Result, Role, Scope, Subject, Token,
};

use crate::to_timestamp;
use crate::v1;

/// A role from the wire; `ROLE_UNSPECIFIED` and unknown values are refused.
pub fn role_from_wire(field: &str, value: i32) -> Result<Role> {
    match v1::Role::try_from(value) {
        Ok(v1::Role::Viewer) => Ok(Role::Viewer),
        Ok(v1::Role::Contributor) => Ok(Role::Contributor),
        Ok(v1::Role::Approver) => Ok(Role::Approver),
        Ok(v1::Role::Admin) => Ok(Role::Admin),
        _ => Err(Error::invalid(field, "is required: VIEWER, CONTRIBUTOR, APPROVER or ADMIN")),
    }
}

pub fn role_to_wire(role: Option<Role>) -> i32 {
    let r = match role {
        None => v1::Role::Unspecified,
        Some(Role::Viewer) => v1::Role::Viewer,
        Some(Role::Contributor) => v1::Role::Contributor,
        Some(Role::Approver) => v1::Role::Approver,
        Some(Role::Admin) => v1::Role::Admin,
    };
    r as i32
}

/// A timestamp from the wire, refusing values before the epoch or out of range.
pub fn from_timestamp(field: &str, t: &prost_types::Timestamp) -> Result<SystemTime> {
    let secs = u64::try_from(t.seconds).map_err(|_| Error::invalid(field, "is before 1970"))?;
    let nanos = u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| Error::invalid(field, "has out-of-range nanos"))?;
    UNIX_EPOCH
        .checked_add(Duration::new(secs, nanos))
        .filter(|_| secs < 253_402_300_800) // year 10000
        .ok_or_else(|| Error::invalid(field, "is out of range"))
}

fn optional_time(field: &str, t: Option<&prost_types::Timestamp>) -> Result<Option<SystemTime>> {
    t.map(|t| from_timestamp(field, t)).transpose()
}

fn grant(subject: &str, role: i32, scope: &str) -> Result<Grant> {
    Ok(Grant {
        subject: Subject::parse("subject", subject)?,
        role: role_from_wire("role", role)?,
        scope: Scope::parse("scope", scope)?,
    })
}

impl TryFrom<v1::CreateGrantRequest> for Grant {
    type Error = Error;
    fn try_from(r: v1::CreateGrantRequest) -> Result<Self> {
        grant(&r.subject, r.role, &r.scope)
    }
}

impl TryFrom<v1::DeleteGrantRequest> for Grant {
    type Error = Error;
    fn try_from(r: v1::DeleteGrantRequest) -> Result<Self> {
        grant(&r.subject, r.role, &r.scope)
    }
}

impl TryFrom<v1::SetBindingProtectionRequest> for Protection {
    type Error = Error;
    fn try_from(r: v1::SetBindingProtectionRequest) -> Result<Self> {
        Ok(Protection {
            binding: BindingName::parse("binding", r.binding)?,
            scope: Scope::parse("scope", &r.scope)?,
            protected: r.protected,
        })
    }
}

impl TryFrom<v1::ListAuditEventsRequest> for (AuditFilter, PageRequest) {
    type Error = Error;
    fn try_from(r: v1::ListAuditEventsRequest) -> Result<Self> {
        let filter = AuditFilter {
            model: (!r.model.is_empty()).then(|| ModelName::parse("model", r.model)).transpose()?,
            namespace: (!r.namespace.is_empty()).then_some(r.namespace),
            actor: (!r.actor.is_empty()).then_some(r.actor),
            action: (!r.action.is_empty()).then_some(r.action),
            since: optional_time("since", r.since.as_ref())?,
            until: optional_time("until", r.until.as_ref())?,
        };
        filter.validate()?;
        Ok((filter, PageRequest::parse("audit", r.page_size, &r.page_token)?))
    }
}

/// `(principal, description, expires_at)` of a CreateToken request (validated by `NewToken`).
pub fn token_request(r: &v1::CreateTokenRequest) -> Result<(String, String, Option<SystemTime>)> {
    Ok((r.principal.clone(), r.description.clone(), optional_time("expires_at", r.expires_at.as_ref())?))
}

impl From<Token> for v1::Token {
    fn from(t: Token) -> Self {
        Self {
            id: t.id,
            principal: t.principal,
            description: t.description,
            created_at: Some(to_timestamp(t.created_at)),
            created_by: t.created_by,
            expires_at: t.expires_at.map(to_timestamp),
            revoked_at: t.revoked_at.map(to_timestamp),
        }
    }
}

impl From<GrantRecord> for v1::Grant {
    fn from(g: GrantRecord) -> Self {
        Self {
            subject: g.grant.subject.to_wire(),
            role: role_to_wire(Some(g.grant.role)),
            scope: g.grant.scope.to_wire(),
            created_at: Some(to_timestamp(g.created_at)),
            created_by: g.created_by,
        }
    }
}

impl From<ProtectionRecord> for v1::BindingProtection {
    fn from(p: ProtectionRecord) -> Self {
        Self {
            binding: p.protection.binding.as_str().to_owned(),
            scope: p.protection.scope.to_wire(),
            protected: p.protection.protected,
            updated_at: Some(to_timestamp(p.updated_at)),
            updated_by: p.updated_by,
        }
    }
}

impl From<AuditEvent> for v1::AuditEvent {
    fn from(e: AuditEvent) -> Self {
        let json = |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
        Self {
            id: e.id,
            revision: e.record.revision,
            actor: e.record.actor,
            action: e.record.action,
            target: e.record.target,
            before_json: json(e.record.before),
            after_json: json(e.record.after),
            request_id: e.record.request_id,
            trace_id: e.record.trace_id,
            time: Some(to_timestamp(e.record.time)),
            hash: e.hash,
            prev_hash: e.prev_hash,
        }
    }
}

impl From<ChainReport> for v1::VerifyAuditLogResponse {
    fn from(r: ChainReport) -> Self {
        Self {
            rows_checked: r.rows_checked,
            intact: r.first_break.is_none(),
            first_break: r.first_break.map(|b| v1::AuditBreak {
                id: b.id,
                revision: b.revision,
                expected_hash: b.expected_hash,
                found_hash: b.found_hash,
                reason: b.reason,
            }),
            unchained_rows: r.unchained_rows,
            head_hash: r.head_hash,
        }
    }
}
