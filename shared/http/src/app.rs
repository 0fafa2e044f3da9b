//! What every handler gets: the store, the settings and a clock, and for each request the
//! caller (`Ctx`) with the store scoped to the caller's tenant.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use event_core::EventTimestamp;
use event_store::{ClientPatterns, FailedId, FailedRecord, Store, TenantId};
use lambda_http::{Request, RequestExt};

use crate::auth::{authenticate, Caller, KeyCache};
use crate::{ApiError, Config, ErrorCode};

/// "Now", injected: the core never reads the clock, and tests pin it.
pub type Clock = fn() -> EventTimestamp;

/// The state built once at cold start and shared by every request.
pub struct App<S> {
    pub store: S,
    pub config: Config,
    pub clock: Clock,
    /// API keys read recently.
    pub(crate) keys: KeyCache,
    /// The caller of every request when authentication is off: the `TENANT` setting's
    /// tenant, owning every client id.
    pub(crate) anonymous: Arc<Caller>,
}

impl<S> App<S> {
    pub fn new(store: S, config: Config) -> Self {
        let tenant = TenantId::parse(&config.store.tenant).unwrap_or_default();
        App {
            store,
            config,
            clock: system_now,
            keys: KeyCache::default(),
            anonymous: Arc::new(Caller {
                tenant,
                clients: ClientPatterns::all(),
            }),
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

/// Names of query parameters that look like an API key sent in the URL.
const KEY_PARAMS: [&str; 4] = ["api_key", "apikey", "x-api-key", "key"];

impl<S: Store> App<S> {
    /// The request's caller, and the store scoped to its tenant; 401 without a usable key.
    pub async fn authorize(&self, req: &Request) -> Result<Ctx<'_, S>, ApiError> {
        let query = req.query_string_parameters_ref();
        let query_has_key =
            query.is_some_and(|q| KEY_PARAMS.iter().any(|name| q.first(name).is_some()));
        let caller = authenticate(self, req.headers(), query_has_key).await?;
        let span = tracing::Span::current();
        span.record("tenant", caller.tenant.as_str());
        Ok(Ctx {
            store: self.store.for_tenant(&caller.tenant),
            config: &self.config,
            clock: self.clock,
            caller,
        })
    }
}

/// One request's view: who calls, and the store that can only reach the caller's tenant.
pub struct Ctx<'a, S> {
    pub store: S,
    pub config: &'a Config,
    pub caller: Arc<Caller>,
    clock: Clock,
}

impl<S> Ctx<'_, S> {
    pub fn now(&self) -> EventTimestamp {
        (self.clock)()
    }
}

impl<S: Store> Ctx<'_, S> {
    /// The caller's failed or rejected record `id`: 404 when the caller's tenant has none,
    /// 403 when it names a client the tenant does not own (any more).
    pub async fn failed_record(&self, id: &str) -> Result<FailedRecord, ApiError> {
        let record = self
            .store
            .get_failed(&FailedId(id.to_owned()))
            .await?
            .ok_or_else(|| {
                ApiError::with_message(
                    ErrorCode::NotFound,
                    "No failed or rejected event has this id.",
                )
            })?;
        if let Some(client) = &record.client_id {
            self.caller.check_client(client)?;
        }
        Ok(record)
    }
}

/// The system clock as an `EventTimestamp` (a clock before 1970 reads as 1970).
pub fn system_now() -> EventTimestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    EventTimestamp::from_unix_nanos(nanos).unwrap_or(EventTimestamp::MIN)
}
