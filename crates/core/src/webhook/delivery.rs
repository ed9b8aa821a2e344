//! One delivery: its signature, what its outcome was, and what that does to the subscription.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::DeliveryState;

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`
/// keyed with the secret's bytes (the Standard Webhooks scheme).
pub fn signature(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this branch cannot run.
        <Hmac<Sha256> as Mac>::new_from_slice(b"-").unwrap_or_else(|_| unreachable!())
    });
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry's delay; each further one doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// Attempts at an event a receiver refuses with a 4xx other than 408/429 before the
    /// subscription is disabled.
    pub permanent_tries: u32,
    /// How long an event may keep failing with retryable errors before the subscription is
    /// disabled.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            permanent_tries: 3,
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: `base * 2^(attempts-1)` capped, with jitter
    /// (`jitter` in [0, 1) takes up to half of it away, so receivers coming back are not hit
    /// by every subscription at once).
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let full = exp.min(self.cap);
        full.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// Network error, timeout, 408, 429 or 5xx: retried with backoff.
    Retryable {
        status: Option<u16>,
        error: String,
    },
    /// Any other answer (3xx, 4xx): retried a few times, then the subscription is disabled.
    Refused {
        status: u16,
    },
}

impl Outcome {
    /// The outcome of an HTTP answer.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered { status },
            408 | 429 | 500..=599 => Self::Retryable { status: Some(status), error: String::new() },
            _ => Self::Refused { status },
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Delivered { status } | Self::Refused { status } => Some(*status),
            Self::Retryable { status, .. } => *status,
        }
    }

    pub fn error(&self) -> String {
        match self {
            Self::Delivered { .. } => String::new(),
            Self::Retryable { status: Some(s), error } if error.is_empty() => format!("HTTP {s}"),
            Self::Retryable { error, .. } => error.clone(),
            Self::Refused { status } => format!("HTTP {status}"),
        }
    }
}

/// What an attempt does to the subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub state: DeliveryState,
    /// `Some(reason)`: the subscription is disabled (it keeps its cursor; re-enabling resumes
    /// at the event that failed).
    pub disable: Option<String>,
    /// `delivered`, `retrying` or `failed`: what the attempt's row says.
    pub result: &'static str,
}

/// Decides what happens after an attempt at event `event_id` (the first matching event after
/// `state.cursor`). `jitter` is a random number in [0, 1).
pub fn after_attempt(
    state: &DeliveryState,
    event_id: u64,
    outcome: &Outcome,
    policy: &RetryPolicy,
    now: SystemTime,
    jitter: f64,
) -> Next {
    if let Outcome::Delivered { .. } = outcome {
        return Next { state: DeliveryState::at(event_id, now), disable: None, result: "delivered" };
    }
    let attempts = state.attempts.saturating_add(1);
    let failing_since = state.failing_since.unwrap_or(now);
    let next = DeliveryState {
        cursor: state.cursor,
        attempts,
        failing_since: Some(failing_since),
        next_attempt_at: now + policy.backoff(attempts, jitter),
    };
    let disable = match outcome {
        Outcome::Refused { status } if attempts >= policy.permanent_tries => Some(format!(
            "event {event_id} was refused with HTTP {status} {attempts} times; fix the receiver, then re-enable the webhook to resume at that event"
        )),
        Outcome::Retryable { .. }
            if now.duration_since(failing_since).unwrap_or_default() >= policy.give_up_after =>
        {
            Some(format!(
                "event {event_id} failed for {} s ({attempts} attempts, last: {}); re-enable the webhook to resume at that event",
                policy.give_up_after.as_secs(),
                outcome.error()
            ))
        }
        _ => None,
    };
    let result = if disable.is_some() { "failed" } else { "retrying" };
    Next { state: next, disable, result }
}

/// One recorded attempt, as `ListWebhookDeliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: u64,
    pub webhook_id: u64,
    pub attempt: Attempt,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub event_id: u64,
    pub event_type: String,
    /// 1 for the first attempt at this event.
    pub number: u32,
    /// `delivered`, `retrying`, `failed` (the webhook was disabled), or for attempts outside the
    /// ordered stream `redelivered` / `redelivery failed` / `test delivered` / `test failed`.
    pub result: String,
    /// 0 when no HTTP answer came.
    pub status_code: u16,
    pub error: String,
    pub latency: Duration,
    /// When the attempt ended.
    pub at: SystemTime,
}

impl Attempt {
    /// The attempt `outcome` was, its error message kept to a bounded size.
    pub fn new(
        event_id: u64,
        event_type: &str,
        number: u32,
        result: &str,
        outcome: &Outcome,
        latency: Duration,
    ) -> Self {
        let mut error = outcome.error();
        if error.len() > 512 {
            let mut end = 512;
            while !error.is_char_boundary(end) {
                end -= 1;
            }
            error.truncate(end);
        }
        Self {
            event_id,
            event_type: event_type.to_owned(),
            number,
            result: result.to_owned(),
            status_code: outcome.status().unwrap_or(0),
            error,
            latency,
            at: SystemTime::now(),
        }
    }
}

/// A subscription's new delivery state, written by `Store::record_webhook_progress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub state: DeliveryState,
    /// `Some(reason)` disables the subscription.
    pub disable: Option<String>,
    /// The attempts since the last progress written (none when events were only skipped).
    pub deliveries: Vec<Attempt>,
    /// Gives the lease back (the worker is done with the subscription for now).
    pub release: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_scheme() {
        // HMAC-SHA256("whsec_test_secret_0001", "42.1700000000.{}"), base64: computed with
        // Python's hmac module (README shows the receiver's side).
        let sig = signature("whsec_test_secret_0001", "42", 1_700_000_000, b"{}");
        assert_eq!(sig, "v1,ubFLO10jefl4W7ZJsebsFdbQNqrJU9BZ5wzubkBBvSs=");
        assert_eq!(sig, signature("whsec_test_secret_0001", "42", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("whsec_test_secret_0002", "42", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("whsec_test_secret_0001", "43", 1_700_000_000, b"{}"));
    }

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(p.backoff(30, 0.0), Duration::from_secs(60));
        assert_eq!(p.backoff(3, 0.999_999).as_millis(), 2000);
    }

    #[test]
    fn outcomes_move_the_cursor_retry_or_disable() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let p = RetryPolicy::default();
        let s = DeliveryState::at(5, now);
        let ok = after_attempt(&s, 9, &Outcome::of_status(204), &p, now, 0.0);
        assert_eq!((ok.state.cursor, ok.state.attempts, ok.disable, ok.result), (9, 0, None, "delivered"));

        let retry = after_attempt(&s, 9, &Outcome::of_status(503), &p, now, 0.0);
        assert_eq!((retry.state.cursor, retry.state.attempts, retry.result), (5, 1, "retrying"));
        assert_eq!(retry.state.next_attempt_at, now + Duration::from_secs(1));
        assert!(retry.disable.is_none());
        // A receiver down past `give_up_after` disables the subscription.
        let later = now + p.give_up_after;
        let gone = after_attempt(
            &retry.state,
            9,
            &Outcome::Retryable { status: None, error: "connection refused".into() },
            &p,
            later,
            0.0,
        );
        assert!(gone.disable.is_some_and(|r| r.contains("connection refused")));

        // 404 three times: disabled, cursor kept.
        let mut state = s;
        for i in 1..=3 {
            let n = after_attempt(&state, 9, &Outcome::of_status(404), &p, now, 0.0);
            assert_eq!(n.disable.is_some(), i == 3);
            assert_eq!(n.state.cursor, 5);
            state = n.state;
        }
        assert!(matches!(Outcome::of_status(429), Outcome::Retryable { .. }));
        assert!(matches!(Outcome::of_status(408), Outcome::Retryable { .. }));
        assert!(matches!(Outcome::of_status(301), Outcome::Refused { .. }));
    }
}
