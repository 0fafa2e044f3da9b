//! What every handler gets: the store, the settings and a clock, and for each request the
//! caller (`Ctx`) with the store scoped to the caller's tenant.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use event_core::EventTimestamp;
use event_http::{ApiError, ErrorCode, Reply};
use event_store::{FailedId, FailedRecord, Meter, Scope, Store, TenantId};
use lambda_http::{Request, RequestExt};

use crate::auth::Authenticator;
use crate::caller::Caller;
use crate::clock::{system_now, Clock};
use crate::config::Config;
use crate::failure::store_error;
use crate::limiter::{with_limit_headers, Admission, Limiter, Limits};
use crate::scope;

/// The state built once at cold start and shared by every request.
pub struct App<S> {
    pub store: S,
    pub config: Config,
    pub clock: Clock,
    /// API keys read recently, and the caller when authentication is off.
    auth: Authenticator,
    /// Tokens this instance leased from its tenants' limits.
    limiter: Limiter,
}

impl<S> App<S> {
    pub fn new(store: S, config: Config) -> Self {
        let tenant = TenantId::parse(&config.store.tenant).unwrap_or_default();
        App {
            store,
            config,
            clock: system_now,
            auth: Authenticator::new(tenant),
            limiter: Limiter::default(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> EventTimestamp {
        (self.clock)()
    }
}

impl<S: Store> App<S> {
    /// The request's caller, and the store scoped to its tenant and its deadline; 401
    /// without a usable key, 403 `forbidden_scope` when the key lacks `scope` (the route's
    /// own), before any of the handler's work.
    pub async fn authorize(&self, req: &Request, scope: Scope) -> Result<Ctx<'_, S>, ApiError> {
        let started = Instant::now();
        let deadline = started + self.time_for(req);
        let caller = self
            .auth
            .caller(req, &self.config.auth, &self.store, deadline, self.clock)
            .await?;
        let span = tracing::Span::current();
        span.record("tenant", caller.tenant.as_str());
        scope::require(&caller, scope)?;
        Ok(Ctx {
            store: self.store.for_tenant(&caller.tenant).until(deadline),
            config: &self.config,
            clock: self.clock,
            limiter: &self.limiter,
            caller,
            deadline,
            // A quarter of the request's time stays for keeping an event whose commit
            // failed: 5 s of the default 20, more than one attempt of the put needs.
            commit_deadline: deadline - deadline.saturating_duration_since(started) / 4,
        })
    }

    /// How long `req` may take: `REQUEST_DEADLINE_MS`, or less when the invocation's own
    /// deadline (the function timeout) comes sooner; one second of that stays for answering.
    fn time_for(&self, req: &Request) -> Duration {
        let configured = self.config.request_deadline;
        let Some(context) = req.lambda_context_ref() else {
            return configured;
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        match context.deadline.checked_sub(now_ms) {
            // no deadline, or one already past: a clock or emulator quirk; keep the setting
            Some(0) | None => configured,
            Some(left) => configured.min(Duration::from_millis(left).saturating_sub(ANSWER_TIME)),
        }
    }
}

/// Time kept at the end of an invocation to send the answer.
const ANSWER_TIME: Duration = Duration::from_secs(1);

/// How long after the deadline a handler still waits for the store (well inside `ANSWER_TIME`).
const BACKSTOP_GRACE: Duration = Duration::from_millis(200);

/// One request's view: who calls, and the store that can only reach the caller's tenant
/// and gives up at the request's deadline.
pub struct Ctx<'a, S> {
    pub store: S,
    pub config: &'a Config,
    pub caller: Arc<Caller>,
    /// The request answers by then, whatever storage does.
    pub deadline: Instant,
    /// Commits give up by then, so a failed one can still be kept (`commit_store`).
    commit_deadline: Instant,
    clock: Clock,
    limiter: &'a Limiter,
}

impl<S> Ctx<'_, S> {
    pub fn now(&self) -> EventTimestamp {
        (self.clock)()
    }

    /// The caller's limits in force: its tenant's own, the deployment's defaults elsewhere.
    pub fn limits(&self) -> Limits {
        Limits::resolve(&self.caller.limits, &self.config.limits)
    }
}

impl<S: Store> Ctx<'_, S> {
    /// When a handler stops waiting for its work: a moment after the deadline, so the store's
    /// own answers at the deadline (an attempt given up, an event kept) come first.
    pub fn backstop(&self) -> Instant {
        self.deadline + BACKSTOP_GRACE
    }

    /// The store for committing events: it gives up early enough that an event whose
    /// commit failed can still be kept as failed (retryable) before the request's deadline.
    pub fn commit_store(&self) -> S {
        self.store.until(self.commit_deadline)
    }

    /// Admit `n` units of `meter` (events of a `POST /events`, or one read request) within
    /// the caller's limits, or refuse them (429, nothing written). No storage for a tenant
    /// without limits.
    pub async fn admit(&self, meter: Meter, n: u64) -> Admission {
        self.limiter
            .admit(
                &self.store,
                &self.caller.tenant,
                &self.limits(),
                meter,
                n,
                self.now(),
            )
            .await
    }

    /// A read route's `work`, run within the caller's read limit: refused (429) without
    /// running when the limit has no room; the `RateLimit` headers on the answer either way.
    pub async fn within_read_limit(
        &self,
        request_id: &str,
        work: impl std::future::Future<Output = Result<Reply, ApiError>>,
    ) -> Result<Reply, ApiError> {
        let admission = self.admit(Meter::Reads, 1).await;
        let state = admission.state().copied();
        let answer = match admission {
            Admission::Refused { error, .. } => Err(error),
            Admission::Unlimited | Admission::Admitted(_) => work.await,
        };
        with_limit_headers(state, answer, request_id)
    }

    /// The caller's failed or rejected record `id`: 404 when the caller's tenant has none,
    /// 403 when it names a client the caller may not touch (any more).
    pub async fn failed_record(&self, id: &str) -> Result<FailedRecord, ApiError> {
        let record = self
            .store
            .get_failed(&FailedId(id.to_owned()))
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiError::with_message(
                    ErrorCode::NotFound,
                    "No failed or rejected event has this id.",
                )
            })?;
        match &record.client_id {
            Some(client) => self.caller.check_client(client)?,
            // kept without a valid client id: the tenant's, not a narrowed key's
            None if !self.caller.sees(None) => {
                return Err(ApiError::with_message(
                    ErrorCode::ClientNotAllowed,
                    "This API key is limited to some client ids; this record has none.",
                ))
            }
            None => {}
        }
        Ok(record)
    }
}
