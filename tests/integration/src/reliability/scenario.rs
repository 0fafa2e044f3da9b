//! One reliability scenario, set up the same way for every test: a workload of a `Shape` drawn
//! from a new seed, sent by concurrent clients either straight to the main stack or to
//! functions of their own whose DynamoDB is behind a fault proxy, then the checks every test
//! makes of it (latency, ledger, answers after commits, reads against the truth).
//!
//! ```ignore
//! let stage = Scenario::new(shape, workers)
//!     .through_faults("rel-x", instances, &settings, plan, Injected::StorageFaults)
//!     .start(&mut report)
//!     .await;
//! let elapsed = stage.run().await;
//! stage.report_run(&mut report, elapsed, " under faults");
//! let (summary, truthful) = stage.check_answers(&mut report);
//! stage.check_reads(&mut report, &summary, ranges, salt).await;
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::checks::{
    check_answers_follow_commits, check_client_reads, check_latency, check_ledger, report_run,
    LedgerSummary, ReadChecks,
};
use super::client::{Injected, Run, Target};
use super::workload::{Shape, Workload};
use crate::fault_proxy::FaultPlan;
use crate::launcher::ProxiedFunctions;
use crate::report::Report;
use crate::{stack_base_url, Api};

/// What a scenario will be: the workload's shape, how many clients send it, and where.
pub struct Scenario {
    shape: Shape,
    workers: usize,
    through: Option<Through>,
    load_prefix: String,
    reads_from_functions: bool,
}

enum Through {
    /// The main stack, with one key per tenant of the shape.
    Stack { keys: Vec<String> },
    /// `ProxiedFunctions` serving one tenant.
    Faults {
        name: String,
        instances: u32,
        settings: Vec<String>,
        plan: FaultPlan,
        injected: Injected,
    },
}

impl Scenario {
    /// A workload of `shape`, sent by `workers` concurrent clients (as many requests in
    /// flight); say where with `through_stack` or `through_faults`.
    pub fn new(shape: Shape, workers: usize) -> Self {
        Scenario {
            shape,
            workers,
            through: None,
            load_prefix: String::new(),
            reads_from_functions: false,
        }
    }

    /// Straight to the main stack, no fault injected: `keys[t]` owns the client ids of the
    /// shape's tenant `t`.
    pub fn through_stack(self, keys: Vec<String>) -> Self {
        Scenario {
            through: Some(Through::Stack { keys }),
            ..self
        }
    }

    /// To `ProxiedFunctions` of their own (`name`, `instances` per function, `settings`
    /// replacing the stack's), for one tenant (the shape has one); `plan` is the proxy's while
    /// the clients run, `injected` what they may then be answered.
    pub fn through_faults(
        self,
        name: &str,
        instances: u32,
        settings: &[String],
        plan: FaultPlan,
        injected: Injected,
    ) -> Self {
        Scenario {
            through: Some(Through::Faults {
                name: name.to_owned(),
                instances,
                settings: settings.to_vec(),
                plan,
                injected,
            }),
            ..self
        }
    }

    /// Text the report's `load` line starts with, before the workload's description.
    pub fn load_prefix(self, prefix: String) -> Self {
        Scenario {
            load_prefix: prefix,
            ..self
        }
    }

    /// Reads back from the scenario's own functions (when `yes`) instead of the main stack.
    pub fn reading_from_functions(self, yes: bool) -> Self {
        Scenario {
            reads_from_functions: yes,
            ..self
        }
    }

    /// Starts the functions (through faults), builds the workload from a new seed and
    /// reports it (`load`).
    pub async fn start(self, report: &mut Report) -> Stage {
        let through = self.through.expect("through_stack or through_faults");
        let (functions, keys, plan, injected) = match through {
            Through::Stack { keys } => (None, keys, FaultPlan::none(), Injected::Nothing),
            Through::Faults {
                name,
                instances,
                settings,
                plan,
                injected,
            } => {
                assert_eq!(
                    self.shape.clients.len(),
                    1,
                    "proxied functions serve one tenant"
                );
                let functions = ProxiedFunctions::start_with_settings(
                    &name,
                    FaultPlan::none(),
                    instances,
                    &settings,
                )
                .await;
                let keys = vec![functions.key.clone()];
                (Some(functions), keys, plan, injected)
            }
        };
        let seed = fastrand::u64(..);
        let work = Workload::build(&self.shape, seed);
        report.item(
            "load",
            format!(
                "{}{}",
                self.load_prefix,
                work.describe(self.shape.clients.len(), self.workers)
            ),
        );
        let base = match &functions {
            Some(functions) => functions.base.clone(),
            None => stack_base_url(),
        };
        let target = Target::new(
            &base,
            keys.iter().cloned().map(Some).collect(),
            self.workers,
        );
        Stage {
            reads: match self.reads_from_functions {
                true => base,
                false => stack_base_url(),
            },
            run: Run::new(target, work, injected),
            seed,
            functions,
            plan,
            keys,
            workers: self.workers,
            finished: AtomicBool::new(false),
        }
    }
}

/// A started scenario: its functions (through faults), its workload and client run.
pub struct Stage {
    pub run: Arc<Run>,
    /// The workload's seed (its spellings and order).
    pub seed: u64,
    functions: Option<ProxiedFunctions>,
    plan: FaultPlan,
    keys: Vec<String>,
    workers: usize,
    finished: AtomicBool,
    /// Where reads go: the main stack (no faults), or the scenario's functions.
    reads: String,
}

impl Stage {
    /// The functions of a scenario through faults.
    pub fn functions(&self) -> &ProxiedFunctions {
        self.functions
            .as_ref()
            .expect("a scenario through_faults has functions")
    }

    /// Sends the whole workload (under the plan, counted by the proxy from zero); the wall
    /// time.
    pub async fn run(&self) -> Duration {
        if let Some(functions) = &self.functions {
            functions.proxy.reset_stats();
            functions.proxy.set_plan(self.plan.clone());
        }
        let elapsed = self.run.run(self.workers).await;
        self.finished.store(true, Ordering::Relaxed);
        elapsed
    }

    /// `run` is over.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// The run's throughput, latency, answers and client retries (`checks::report_run`).
    pub fn report_run(&self, report: &mut Report, elapsed: Duration, condition: &str) {
        report_run(report, &self.run, elapsed, condition);
    }

    /// No request hung, every event ended counted once (`check_ledger`), and, through the
    /// proxy, no event was answered counted before its commit: the ledger's summary and how
    /// many events that last check covered (0 straight to the stack).
    pub fn check_answers(&self, report: &mut Report) -> (LedgerSummary, usize) {
        check_latency(report, &self.run);
        let summary = check_ledger(report, &self.run);
        let truthful = match &self.functions {
            Some(functions) => check_answers_follow_commits(report, &self.run, &functions.proxy),
            None => 0,
        };
        (summary, truthful)
    }

    /// A client of where the scenario reads (the main stack, or its functions with
    /// `reading_from_functions`) with the key of `tenant`.
    pub fn reader(&self, tenant: usize) -> Api {
        Api::at(&self.reads).with_key(Some(&self.keys[tenant]))
    }

    /// `check_client_reads` for every client (through `reader`), `ranges` random ranges each,
    /// drawn from the seed and `salt`.
    pub async fn check_reads(
        &self,
        report: &mut Report,
        answers: &LedgerSummary,
        ranges: usize,
        salt: u64,
    ) -> ReadChecks {
        let work = &self.run.work;
        let mut rng = fastrand::Rng::with_seed(self.seed ^ salt);
        let mut checks = ReadChecks::default();
        for client in 0..work.clients.len() {
            check_client_reads(
                report,
                &self.reader(work.clients[client].tenant),
                work,
                &answers.hash_of,
                client,
                ranges,
                &mut rng,
                &mut checks,
            )
            .await;
        }
        checks
    }
}
