//! `MemoryStore`: the DynamoDB data model's semantics in a mutex, for handler tests.
//!
//! Same dedupe key (the processed event's sort key, which holds the event hash), same
//! hourly aggregate items and edge-hour arithmetic, same newest-first order (it sorts by
//! the table's own sort keys), opaque cursors checked against their query, and the same
//! errors. Faults can be injected so handlers can be tested on the unhappy paths.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use event_core::{AmountSum, ClientId, EventTimestamp, Metric};
use futures::{stream, Stream, StreamExt};

use crate::cursor::{Cursor, Fingerprint, Position};
use crate::hours::{AggregatePlan, Totals, HOUR_NS};
use crate::keys::{self, SkRange};
use crate::limits::{
    self, DayCounter, Meter, TakeOutcome, TenantLimits, TokenTake, Usage, UsageDelta,
};
use crate::tenancy::{ClientPatterns, KeyHash, KeyState, Tenant, TenantId};
use crate::{
    AggregateQuery, AggregateTotals, CommitOutcome, FailedId, FailedQuery, FailedRecord,
    FailedStatus, HourBucket, HourlyQuery, Page, ProcessedQuery, ProcessedRecord, ReplayItem,
    ReplayPage, ReplayQuery, Store, StoreConfig, StoreError,
};

/// Hourly aggregate key: client, metric (`None` = all metrics), hour start (ns).
type HourKey = (ClientId, Option<Metric>, i64);

#[derive(Default)]
struct Tables {
    /// By `{ts_ns:019}#{hash}`: the hash is the identity, so this is the dedupe key too.
    processed: BTreeMap<String, ProcessedRecord>,
    hourly: BTreeMap<HourKey, (u64, AmountSum)>,
    /// By `{received_ns:019}#{failed_id}`.
    failed: BTreeMap<String, FailedRecord>,
}

/// Every tenant's tables, like the one DynamoDB table whose keys all start with the tenant.
#[derive(Default)]
struct Shared {
    tables: Mutex<HashMap<String, Tables>>,
    tenants: Mutex<HashMap<TenantId, Tenant>>,
    /// Key hash -> tenant (the `K#` pointer items).
    key_owners: Mutex<HashMap<KeyHash, TenantId>>,
    /// The limiter's items by (tenant, sort key): day items, and minute counts.
    limiter_days: Mutex<HashMap<(String, String), DayCounter>>,
    limiter_minutes: Mutex<HashMap<(String, String), u64>>,
    failing_limiter_calls: AtomicUsize,
    limiter_calls: AtomicUsize,
    failing_commits: AtomicUsize,
    failing_failed_writes: AtomicUsize,
}

/// A handle on the shared state, scoped to one tenant (`for_tenant` makes another handle on
/// the same state, as DynamoStore's do on the same table).
pub struct MemoryStore {
    config: StoreConfig,
    tenant: String,
    shared: Arc<Shared>,
    /// Operations asked after this fail as DynamoStore's would (`until`).
    deadline: Option<Instant>,
}

/// One tenant's tables, locked.
struct Locked<'a> {
    guard: MutexGuard<'a, HashMap<String, Tables>>,
    tenant: &'a str,
}

impl Deref for Locked<'_> {
    type Target = Tables;
    fn deref(&self) -> &Tables {
        // `lock` inserted the entry before handing out the guard.
        &self.guard[self.tenant]
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Tables {
        self.guard.entry(self.tenant.to_owned()).or_default()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_config(StoreConfig::new("memory"))
    }

    pub fn with_config(config: StoreConfig) -> Self {
        MemoryStore {
            tenant: config.tenant.clone(),
            config,
            shared: Arc::default(),
            deadline: None,
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// A tenant owning `clients`, with one usable key (by hash): what the `admin` tool does,
    /// without awaiting, for test set-ups.
    pub fn add_tenant_key(&self, tenant: &TenantId, clients: ClientPatterns, hash: KeyHash) {
        lock(&self.shared.key_owners).insert(hash.clone(), tenant.clone());
        let mut tenants = lock(&self.shared.tenants);
        let record = tenants.entry(tenant.clone()).or_insert_with(|| Tenant {
            id: tenant.clone(),
            clients: clients.clone(),
            created_at: 0,
            keys: BTreeMap::new(),
            limits: TenantLimits::default(),
        });
        record.clients = clients;
        record.keys.insert(hash, KeyState::new("test", 0));
    }

    /// The next `n` calls of the limiter's operations (`take_tokens`, `add_usage`, `usage`)
    /// fail with `Unavailable`.
    pub fn fail_next_limiter_calls(&self, n: usize) {
        self.shared.failing_limiter_calls.store(n, Ordering::SeqCst);
    }

    /// Calls of the limiter's operations so far (a tenant without limits makes none).
    pub fn limiter_calls(&self) -> usize {
        self.shared.limiter_calls.load(Ordering::SeqCst)
    }

    /// The next `n` calls of `commit_event` / `commit_retry` fail with `Unavailable` and
    /// change nothing (as when DynamoDB stays throttled past the retry budget).
    pub fn fail_next_commits(&self, n: usize) {
        self.shared.failing_commits.store(n, Ordering::SeqCst);
    }

    /// The next `n` calls of `put_failed` fail with `Unavailable` and change nothing.
    pub fn fail_next_failed_writes(&self, n: usize) {
        self.shared.failing_failed_writes.store(n, Ordering::SeqCst);
    }

    /// Every processed record of this handle's tenant, newest first (test assertions).
    pub fn processed_records(&self) -> Vec<ProcessedRecord> {
        self.lock().processed.values().rev().cloned().collect()
    }

    /// Every failed record of this handle's tenant, newest first (test assertions).
    pub fn failed_records(&self) -> Vec<FailedRecord> {
        self.lock().failed.values().rev().cloned().collect()
    }

    fn lock(&self) -> Locked<'_> {
        let mut guard = lock(&self.shared.tables);
        guard.entry(self.tenant.clone()).or_default();
        Locked {
            guard,
            tenant: &self.tenant,
        }
    }

    /// Every operation is instant here, so only one asked after the deadline misses it.
    fn in_time(&self) -> Result<(), StoreError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(StoreError::Unavailable(
                "the request's deadline has passed".to_owned(),
            )),
            _ => Ok(()),
        }
    }

    fn fault(counter: &AtomicUsize) -> Result<(), StoreError> {
        let took = counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if took {
            Err(StoreError::Unavailable("injected fault".to_owned()))
        } else {
            Ok(())
        }
    }

    fn failed_sk(id: &FailedId) -> Option<String> {
        id.parts().map(|parts| keys::failed_sk(id, parts))
    }
}

impl Tables {
    /// The put with `attribute_not_exists(pk)` and the two `ADD`s, all or nothing.
    fn commit(&mut self, record: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        let sk = keys::event_sk(record.event.timestamp, &record.hash);
        if self.processed.contains_key(&sk) {
            return Ok(CommitOutcome::Duplicate);
        }
        let hour = record.event.timestamp.floor_hour().unix_nanos();
        let client = &record.event.client_id;
        let amount = AmountSum::from(record.event.amount);
        let all = (client.clone(), None, hour);
        let one = (client.clone(), Some(record.event.metric.clone()), hour);
        // Compute both sums before writing either, so an overflow changes nothing.
        let mut sums = Vec::with_capacity(2);
        for key in [all, one] {
            let (n, total) = self.hourly.get(&key).copied().unwrap_or_default();
            let total = total.checked_add(amount).ok_or_else(|| {
                StoreError::Internal("hourly total out of DynamoDB's number range".to_owned())
            })?;
            sums.push((key, (n + 1, total)));
        }
        self.hourly.extend(sums);
        self.processed.insert(sk, record.clone());
        Ok(CommitOutcome::Processed)
    }

    fn mark_retried(&mut self, sk: &str) {
        if let Some(failed) = self.failed.get_mut(sk) {
            failed.status = FailedStatus::Retried;
            failed.attempts += 1;
        }
    }
}

/// A panic in another test thread must not hide the store's state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn clamp_limit(limit: u32) -> usize {
    limit.clamp(1, 1000) as usize
}

fn bound_text(bound: Option<EventTimestamp>) -> String {
    bound.map_or_else(|| "-".to_owned(), |t| t.unix_nanos().to_string())
}

/// Newest-first page over `map` (one partition, one cursor position) of the keys in `range`
/// that `keep` accepts.
fn page<T: Clone>(
    map: &BTreeMap<String, T>,
    range: &SkRange,
    cursor: Option<&str>,
    query: Fingerprint,
    limit: u32,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<T>, StoreError> {
    let cursor = match cursor {
        Some(token) => Cursor::decode(token, query, 1, range)?,
        None => Cursor::start(1),
    };
    let upper = match &cursor.positions[0] {
        Position::Done => {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            })
        }
        Position::Start => match &range.hi {
            Some(hi) => Bound::Included(hi.clone()),
            None => Bound::Unbounded,
        },
        Position::After(sk) => Bound::Excluded(sk.clone()),
    };
    let lower = match &range.lo {
        Some(lo) => Bound::Included(lo.clone()),
        None => Bound::Unbounded,
    };
    let limit = clamp_limit(limit);
    let mut matching = map
        .range::<String, _>((lower, upper))
        .rev()
        .filter(|(_, item)| keep(item));
    let mut items = Vec::new();
    let mut last = None;
    for (sk, item) in matching.by_ref().take(limit) {
        items.push(item.clone());
        last = Some(sk.clone());
    }
    let next_cursor = match (last, matching.next()) {
        (Some(sk), Some(_)) => Some(
            Cursor {
                positions: vec![Position::After(sk)],
            }
            .encode(query),
        ),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

impl Store for MemoryStore {
    fn for_tenant(&self, tenant: &TenantId) -> Self {
        MemoryStore {
            config: self.config.clone(),
            tenant: tenant.as_str().to_owned(),
            shared: Arc::clone(&self.shared),
            deadline: self.deadline,
        }
    }

    fn until(&self, deadline: Instant) -> Self {
        MemoryStore {
            config: self.config.clone(),
            tenant: self.tenant.clone(),
            shared: Arc::clone(&self.shared),
            deadline: Some(deadline),
        }
    }

    async fn tenant_of_key(&self, hash: &KeyHash) -> Result<Option<TenantId>, StoreError> {
        self.in_time()?;
        Ok(lock(&self.shared.key_owners).get(hash).cloned())
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.in_time()?;
        Ok(lock(&self.shared.tenants).get(id).cloned())
    }

    async fn put_tenant(
        &self,
        id: &TenantId,
        clients: &ClientPatterns,
        now: i64,
    ) -> Result<(), StoreError> {
        lock(&self.shared.tenants)
            .entry(id.clone())
            .and_modify(|tenant| tenant.clients = clients.clone())
            .or_insert_with(|| Tenant {
                id: id.clone(),
                clients: clients.clone(),
                created_at: now,
                keys: BTreeMap::new(),
                limits: TenantLimits::default(),
            });
        Ok(())
    }

    async fn set_tenant_limits(
        &self,
        id: &TenantId,
        limits: &TenantLimits,
    ) -> Result<bool, StoreError> {
        self.in_time()?;
        Ok(match lock(&self.shared.tenants).get_mut(id) {
            Some(tenant) => {
                tenant.limits = *limits;
                true
            }
            None => false,
        })
    }

    async fn add_key(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
        state: &KeyState,
    ) -> Result<(), StoreError> {
        let mut tenants = lock(&self.shared.tenants);
        let mut owners = lock(&self.shared.key_owners);
        let Some(record) = tenants.get_mut(tenant) else {
            return Err(StoreError::Internal(format!("no tenant {tenant}")));
        };
        if owners.contains_key(hash) {
            return Err(StoreError::Internal("key already registered".to_owned()));
        }
        owners.insert(hash.clone(), tenant.clone());
        record.keys.insert(hash.clone(), state.clone());
        Ok(())
    }

    async fn revoke_key(&self, tenant: &TenantId, hash: &KeyHash) -> Result<bool, StoreError> {
        let mut tenants = lock(&self.shared.tenants);
        let state = tenants
            .get_mut(tenant)
            .and_then(|record| record.keys.get_mut(hash));
        Ok(state.map(|state| state.revoked = true).is_some())
    }

    async fn commit_event(&self, record: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        self.in_time()?;
        Self::fault(&self.shared.failing_commits)?;
        self.lock().commit(record)
    }

    fn commit_events<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        _concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a {
        stream::iter(records.iter().enumerate())
            .then(move |(index, record)| async move { (index, self.commit_event(record).await) })
    }

    async fn commit_retry(
        &self,
        record: &ProcessedRecord,
        retry_of: &FailedId,
    ) -> Result<CommitOutcome, StoreError> {
        self.in_time()?;
        Self::fault(&self.shared.failing_commits)?;
        let mut tables = self.lock();
        let failed_sk = Self::failed_sk(retry_of)
            .filter(|sk| tables.failed.contains_key(sk))
            .ok_or_else(|| StoreError::Internal(format!("no failed record {}", retry_of.0)))?;
        let outcome = tables.commit(record)?;
        tables.mark_retried(&failed_sk);
        Ok(outcome)
    }

    async fn put_failed(&self, record: &FailedRecord) -> Result<(), StoreError> {
        self.in_time()?;
        Self::fault(&self.shared.failing_failed_writes)?;
        let sk = Self::failed_sk(&record.failed_id).ok_or_else(|| {
            StoreError::Internal(format!("malformed failed id {:?}", record.failed_id.0))
        })?;
        // Conditional on not existing: writing the same record again (a resend of a put whose
        // answer was lost) keeps the first one.
        self.lock()
            .failed
            .entry(sk)
            .or_insert_with(|| record.clone());
        Ok(())
    }

    async fn record_failed_attempt(&self, id: &FailedId) -> Result<(), StoreError> {
        self.in_time()?;
        let mut tables = self.lock();
        let failed = Self::failed_sk(id)
            .and_then(|sk| tables.failed.get_mut(&sk))
            .ok_or_else(|| StoreError::Internal(format!("no failed record {}", id.0)))?;
        failed.attempts += 1;
        Ok(())
    }

    async fn get_failed(&self, id: &FailedId) -> Result<Option<FailedRecord>, StoreError> {
        self.in_time()?;
        Ok(Self::failed_sk(id).and_then(|sk| self.lock().failed.get(&sk).cloned()))
    }

    async fn list_processed(
        &self,
        query: &ProcessedQuery,
    ) -> Result<Page<ProcessedRecord>, StoreError> {
        self.in_time()?;
        let from = query.from.unwrap_or(EventTimestamp::MIN);
        let to = query.to.unwrap_or(EventTimestamp::MAX);
        let Some(range) = SkRange::of_times(from, to) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let client = query.client_id.as_ref().map(ClientId::as_str);
        let fingerprint = Fingerprint::of(&[
            "memory-processed",
            &self.tenant,
            client.unwrap_or("*"),
            &bound_text(query.from),
            &bound_text(query.to),
        ]);
        let tables = self.lock();
        page(
            &tables.processed,
            &range,
            query.cursor.as_deref(),
            fingerprint,
            query.limit,
            |record| client.is_none_or(|c| record.event.client_id.as_str() == c),
        )
    }

    async fn list_failed(&self, query: &FailedQuery) -> Result<Page<FailedRecord>, StoreError> {
        self.in_time()?;
        let client = query.client_id.as_ref();
        let fingerprint = Fingerprint::of(&[
            "memory-failed",
            &self.tenant,
            client.map_or("*", ClientId::as_str),
        ]);
        let tables = self.lock();
        page(
            &tables.failed,
            &SkRange::default(),
            query.cursor.as_deref(),
            fingerprint,
            query.limit,
            |record| client.is_none_or(|c| record.client_id.as_ref() == Some(c)),
        )
    }

    async fn list_failed_for_replay(&self, query: &ReplayQuery) -> Result<ReplayPage, StoreError> {
        self.in_time()?;
        let from = query.from.unwrap_or(EventTimestamp::MIN);
        let to = query.to.unwrap_or(EventTimestamp::MAX);
        let Some(range) = SkRange::of_times(from, to) else {
            return Ok(ReplayPage {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let client = query.client_id.as_ref();
        let fingerprint = Fingerprint::of(&[
            "memory-replay",
            &self.tenant,
            client.map_or("*", ClientId::as_str),
            &bound_text(query.from),
            &bound_text(query.to),
            &query.codes_key(),
        ]);
        let tables = self.lock();
        let page = page(
            &tables.failed,
            &range,
            query.cursor.as_deref(),
            fingerprint,
            query.limit,
            |record| {
                client.is_none_or(|c| record.client_id.as_ref() == Some(c)) && query.selects(record)
            },
        )?;
        // A page at the first record starts where this one did; at any later record, right
        // after the record before it (one partition: one position).
        let mut cursor_at = match &query.cursor {
            Some(token) => token.clone(),
            None => Cursor::start(1).encode(fingerprint),
        };
        let mut items = Vec::with_capacity(page.items.len());
        for record in page.items {
            let sk = Self::failed_sk(&record.failed_id).ok_or_else(|| {
                StoreError::Internal(format!("malformed failed id {:?}", record.failed_id.0))
            })?;
            let next = Cursor {
                positions: vec![Position::After(sk)],
            }
            .encode(fingerprint);
            items.push(ReplayItem {
                record,
                cursor_at: std::mem::replace(&mut cursor_at, next),
            });
        }
        Ok(ReplayPage {
            items,
            next_cursor: page.next_cursor,
        })
    }

    async fn aggregate_hourly(&self, query: &HourlyQuery) -> Result<Vec<HourBucket>, StoreError> {
        self.in_time()?;
        let tables = self.lock();
        Ok(query
            .hours()
            .into_iter()
            .map(|hour| {
                let key = (
                    query.client_id.clone(),
                    query.metric.clone(),
                    hour.unix_nanos(),
                );
                let (count, total) = tables.hourly.get(&key).copied().unwrap_or_default();
                HourBucket { hour, count, total }
            })
            .collect())
    }

    async fn take_tokens(&self, take: &TokenTake) -> Result<TakeOutcome, StoreError> {
        self.in_time()?;
        self.shared.limiter_calls.fetch_add(1, Ordering::SeqCst);
        Self::fault(&self.shared.failing_limiter_calls)?;
        let mut days = lock(&self.shared.limiter_days);
        let day = days
            .entry((self.tenant.clone(), limits::day_sk(&take.day)))
            .or_default();
        let Some(tat_us) = limits::apply(take, day) else {
            return Ok(TakeOutcome::Refused(*day));
        };
        match take.meter {
            Meter::Events => {
                day.tat_us = Some(tat_us);
                day.leased = (day.leased + take.tokens).saturating_sub(take.give_back);
            }
            Meter::Reads => day.read_tat_us = Some(tat_us),
        }
        Ok(TakeOutcome::Taken {
            tat_us,
            leased: day.leased,
        })
    }

    async fn add_usage(&self, delta: &UsageDelta) -> Result<(), StoreError> {
        self.in_time()?;
        self.shared.limiter_calls.fetch_add(1, Ordering::SeqCst);
        Self::fault(&self.shared.failing_limiter_calls)?;
        let mut days = lock(&self.shared.limiter_days);
        let day = days
            .entry((self.tenant.clone(), limits::day_sk(&delta.day)))
            .or_default();
        day.accepted += delta.accepted;
        day.refused += delta.refused;
        *lock(&self.shared.limiter_minutes)
            .entry((self.tenant.clone(), limits::minute_sk(&delta.minute)))
            .or_default() += delta.accepted;
        Ok(())
    }

    async fn usage(
        &self,
        day: &str,
        previous_minute: &str,
        current_minute: &str,
    ) -> Result<Usage, StoreError> {
        self.in_time()?;
        self.shared.limiter_calls.fetch_add(1, Ordering::SeqCst);
        Self::fault(&self.shared.failing_limiter_calls)?;
        let counter = lock(&self.shared.limiter_days)
            .get(&(self.tenant.clone(), limits::day_sk(day)))
            .copied()
            .unwrap_or_default();
        let minutes = lock(&self.shared.limiter_minutes);
        let minute = |minute: &str| {
            minutes
                .get(&(self.tenant.clone(), limits::minute_sk(minute)))
                .copied()
                .unwrap_or(0)
        };
        Ok(Usage {
            day: counter,
            previous_minute_accepted: minute(previous_minute),
            current_minute_accepted: minute(current_minute),
        })
    }

    async fn aggregate(&self, query: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        self.in_time()?;
        let plan = AggregatePlan::new(query.from, query.to);
        let tables = self.lock();
        let mut totals = Totals::default();
        if let Some((first, end)) = plan.whole_hours {
            let key = |hour: EventTimestamp| {
                (
                    query.client_id.clone(),
                    query.metric.clone(),
                    hour.unix_nanos(),
                )
            };
            let last_hour = EventTimestamp::from_unix_nanos(end.unix_nanos() - HOUR_NS)
                .expect("end is after first");
            for (n, total) in tables
                .hourly
                .range(key(first)..=key(last_hour))
                .map(|(_, v)| v)
            {
                totals.add(*n, *total)?;
            }
        }
        for (from, to) in plan.partial {
            let range = SkRange::of_times(from, to).expect("plan ranges are not empty");
            let lo = range.lo.expect("closed");
            let hi = range.hi.expect("closed");
            for record in tables.processed.range(lo..=hi).map(|(_, r)| r) {
                let event = &record.event;
                if event.client_id == query.client_id
                    && query.metric.as_ref().is_none_or(|m| *m == event.metric)
                {
                    totals.add(1, event.amount.into())?;
                }
            }
        }
        Ok(totals.0)
    }
}
