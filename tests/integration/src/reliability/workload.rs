//! Reliability workloads: distinct events (random clients, metrics, amounts, instants; a few
//! twins that differ only by `event_id`), their sends in many spellings (each event once, then
//! re-sends, some racing their first send), grouped into single requests and batches per
//! tenant.

use std::collections::VecDeque;

use super::calendar::NS;
use super::spelling::{spell_event, NANO};

/// The metrics events are drawn from.
pub const METRICS: [&str; 4] = ["purchase", "refund", "view", "signup"];

/// One real event: what its identity is made of.
#[derive(Debug, Clone)]
pub struct Event {
    pub client: usize,
    pub metric: &'static str,
    /// 10^-9 units.
    pub amount: i128,
    /// Unix nanoseconds.
    pub ts: i64,
    pub event_id: Option<String>,
}

type Identity = (usize, &'static str, i128, i64, Option<String>);

impl Event {
    fn identity(&self) -> Identity {
        (
            self.client,
            self.metric,
            self.amount,
            self.ts,
            self.event_id.clone(),
        )
    }
}

pub struct ClientInfo {
    pub id: String,
    pub tenant: usize,
}

/// One send of one event, in one spelling.
pub struct SendItem {
    pub event: usize,
    pub body: String,
}

/// One request: one event alone, or a batch.
pub struct Job {
    pub tenant: usize,
    pub sends: Vec<usize>,
    pub batch: bool,
}

/// What a workload is made of; its spellings and order are drawn from a seed
/// (`Workload::build`).
pub struct Shape {
    /// `client ids[t]` of each tenant `t`.
    pub clients: Vec<Vec<String>>,
    /// Distinct events.
    pub distinct: usize,
    /// Sends of them (each event once, the rest re-sends).
    pub sends: usize,
    /// Share of sends that go alone (the others in batches).
    pub single_share: f64,
    pub max_batch: usize,
    /// Timestamps fall in `[start, start + length)`.
    pub window: (i64, i64),
}

/// Distinct events, their sends (each a spelling), grouped into requests.
pub struct Workload {
    pub clients: Vec<ClientInfo>,
    pub events: Vec<Event>,
    pub sends: Vec<SendItem>,
    pub jobs: Vec<Job>,
    pub window: (i64, i64),
}

fn random_event(rng: &mut fastrand::Rng, client: usize, i: usize, window: (i64, i64)) -> Event {
    let raw = window.0 + rng.i64(0..window.1);
    let ts = match rng.u8(..100) {
        0..=14 => raw - raw.rem_euclid(NS),
        15..=84 => raw - raw.rem_euclid(1_000_000),
        85..=94 => raw - raw.rem_euclid(1_000),
        _ => raw,
    }
    .max(window.0);
    let amount = match rng.u8(..100) {
        0..=54 => rng.i128(0..100_000) * 10_000_000,
        55..=69 => rng.i128(0..5_000) * NANO,
        70..=81 => rng.i128(0..1_000_000_000_000),
        82..=91 => -rng.i128(1..100_000) * 10_000_000,
        92..=95 => 0,
        // 18 digits before the point and 9 after: sums must stay exact
        _ => {
            rng.i128(100_000_000_000_000_000..1_000_000_000_000_000_000) * NANO + rng.i128(0..NANO)
        }
    };
    Event {
        client,
        metric: METRICS[rng.usize(..METRICS.len())],
        amount,
        ts,
        event_id: (rng.u8(..100) < 35).then(|| format!("ev-{i}.{:x}", rng.u32(..))),
    }
}

impl Workload {
    /// The workload of `shape`, its random parts drawn from `seed`.
    pub fn build(shape: &Shape, seed: u64) -> Workload {
        let mut rng = fastrand::Rng::with_seed(seed);
        let clients: Vec<ClientInfo> = shape
            .clients
            .iter()
            .enumerate()
            .flat_map(|(tenant, ids)| {
                ids.iter().map(move |id| ClientInfo {
                    id: id.clone(),
                    tenant,
                })
            })
            .collect();
        // distinct events, round robin over clients; a few "twins" that differ from an
        // earlier event only by event_id (two real events, both counted)
        let mut events: Vec<Event> = Vec::with_capacity(shape.distinct);
        let mut seen = std::collections::HashSet::new();
        while events.len() < shape.distinct {
            let i = events.len();
            let client = i % clients.len();
            let event = match events.iter().rev().find(|e| e.client == client) {
                Some(previous) if rng.u8(..100) < 3 => Event {
                    event_id: Some(format!("twin-{i}")),
                    ..previous.clone()
                },
                _ => random_event(&mut rng, client, i, shape.window),
            };
            if seen.insert(event.identity()) {
                events.push(event);
            }
        }
        // every event once, then re-sends of random events in other spellings; a send's key
        // orders it: a third of the re-sends sit right after their first send, so they race
        let mut keyed: Vec<(f64, usize)> = Vec::with_capacity(shape.sends);
        let mut first_key = Vec::with_capacity(events.len());
        for event in 0..events.len() {
            let key = rng.f64();
            first_key.push(key);
            keyed.push((key, event));
        }
        for _ in events.len()..shape.sends.max(events.len()) {
            let event = rng.usize(..events.len());
            let key = match rng.u8(..3) {
                0 => first_key[event] + 1e-12 * rng.f64(),
                _ => rng.f64(),
            };
            keyed.push((key, event));
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let sends: Vec<SendItem> = keyed
            .iter()
            .map(|&(_, event)| SendItem {
                event,
                body: spell_event(&events[event], &clients[events[event].client].id, &mut rng),
            })
            .collect();
        // requests per tenant (a key owns its tenant's clients only), then interleaved
        let tenants = shape.clients.len();
        let mut per_tenant: Vec<Vec<Job>> = (0..tenants).map(|_| Vec::new()).collect();
        for (tenant, jobs) in per_tenant.iter_mut().enumerate() {
            let mine: Vec<usize> = (0..sends.len())
                .filter(|&s| clients[events[sends[s].event].client].tenant == tenant)
                .collect();
            // a send goes alone with probability `single_share`, else into the open batch,
            // which is sent once it reaches its (random) size
            let mut open: Vec<usize> = Vec::new();
            let mut target = rng.usize(2..=shape.max_batch.max(2));
            for &send in &mine {
                if rng.f64() < shape.single_share {
                    jobs.push(Job {
                        tenant,
                        sends: vec![send],
                        batch: false,
                    });
                    continue;
                }
                open.push(send);
                if open.len() >= target {
                    jobs.push(Job {
                        tenant,
                        sends: std::mem::take(&mut open),
                        batch: true,
                    });
                    target = rng.usize(2..=shape.max_batch.max(2));
                }
            }
            if !open.is_empty() {
                jobs.push(Job {
                    tenant,
                    batch: open.len() > 1,
                    sends: open,
                });
            }
        }
        let mut jobs = Vec::new();
        let mut queues: Vec<VecDeque<Job>> = per_tenant.into_iter().map(Into::into).collect();
        while queues.iter().any(|q| !q.is_empty()) {
            for queue in &mut queues {
                if let Some(job) = queue.pop_front() {
                    jobs.push(job);
                }
            }
        }
        Workload {
            clients,
            events,
            sends,
            jobs,
            window: shape.window,
        }
    }

    fn batch_sends(&self) -> usize {
        self.jobs
            .iter()
            .filter(|j| j.batch)
            .map(|j| j.sends.len())
            .sum()
    }

    /// The report's `load` line.
    pub fn describe(&self, tenants: usize, workers: usize) -> String {
        let batches = self.jobs.iter().filter(|j| j.batch).count();
        format!(
            "{} event sends ({} distinct events, {} re-sends in other spellings: offsets, `10` vs `\"10.00\"`, exponents, epoch s/ms, field order, source), {} alone and {} in {} batches (2-{} events), by {} concurrent clients, {} tenant(s) x {} client id(s)",
            self.sends.len(),
            self.events.len(),
            self.sends.len() - self.events.len(),
            self.sends.len() - self.batch_sends(),
            self.batch_sends(),
            batches,
            self.jobs.iter().map(|j| j.sends.len()).max().unwrap_or(0),
            workers,
            tenants,
            self.clients.len(),
        )
    }

    /// (count, total in 10^-9 units) of the events of `client`: what `/aggregates` must say.
    pub fn totals_of(&self, client: usize) -> (u64, i128) {
        self.events
            .iter()
            .filter(|e| e.client == client)
            .fold((0, 0), |(n, t), e| (n + 1, t + e.amount))
    }
}
