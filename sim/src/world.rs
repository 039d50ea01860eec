//! One simulated run: the stores, runner instances ("nodes", each with a
//! deadline scheduler), senders and the scheduler that crashes and restarts
//! them, then the healing phase and the shutdown.

use std::sync::Arc;
use std::time::Duration;

use eventsource::clock::Clock;
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::projection::{ProjectionBackend, ProjectionRunner, RunnerOptions};
use eventsource::saga::{DeadlineScheduler, DeadlineStore, SagaProcessor, SagaStore};
use eventsource::store::EventStore;
use eventsource::{CommandBus, RetryPolicy};
use tokio::task::JoinHandle;

use crate::backend::{FaultyBackend, Fencing};
use crate::deadlines::DeadlineOracle;
use crate::domain::TransferSaga;
use crate::faults::{Faults, Rates};
use crate::read_model::{AuditProjection, BalancesBackend, BalancesProjection, Deliveries};
use crate::sagas::FaultySagaStore;
use crate::sender::{self, Script};
use crate::store::FaultyStore;

/// The shape of a run.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Runner instances, each running every projection and the saga, and
    /// a deadline scheduler.
    pub nodes: usize,
    /// Command senders.
    pub senders: usize,
    /// Operations per sender.
    pub operations: usize,
    /// Simulated time the workload may take before healing starts.
    pub workload: Duration,
    /// Simulated time the healed system has to settle.
    pub settle: Duration,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            nodes: 3,
            senders: 3,
            operations: 12,
            workload: Duration::from_secs(60),
            settle: Duration::from_secs(300),
        }
    }
}

/// Everything the invariants look at once a run ended.
pub struct Ended {
    /// The log, not through faults.
    pub store: InMemoryStore,
    /// The balances read model.
    pub balances: BalancesBackend,
    /// Checkpoints and leases of the audit projection and the saga.
    pub backend: InMemoryProjectionBackend,
    /// The audit projection's deliveries.
    pub deliveries: Deliveries,
    /// Saga instances and their deadlines.
    pub sagas: InMemorySagaStore,
    /// What the saga store did with each deadline.
    pub deadlines: DeadlineOracle,
    /// When the system had settled (deadlines due by then must have fired).
    pub ended_at: chrono::DateTime<chrono::Utc>,
    /// The fencing oracle.
    pub fencing: Fencing,
    /// The senders' scripts and answers.
    pub scripts: Vec<Arc<Script>>,
    /// The faults, with the trace.
    pub faults: Faults,
    /// Whether every projection reached the head with nothing left to do.
    pub settled: bool,
    /// Tasks alive after everything was shut down.
    pub leaked_tasks: usize,
    /// Crashes of nodes and senders.
    pub crashes: u64,
}

struct World {
    clock: Clock,
    faults: Faults,
    store: Arc<dyn EventStore>,
    bus: CommandBus,
    balances: FaultyBackend<BalancesBackend>,
    backend: FaultyBackend<InMemoryProjectionBackend>,
    sagas: FaultySagaStore<InMemorySagaStore>,
    deliveries: Deliveries,
    options: RunnerOptions,
}

/// A runner instance and the deadline scheduler beside it.
struct Node {
    runner: ProjectionRunner,
    deadlines: JoinHandle<()>,
}

impl Node {
    fn abort(self) {
        self.runner.abort();
        self.deadlines.abort();
    }

    async fn shutdown(self) {
        self.runner.shutdown().await;
        self.deadlines.abort();
        let _ = self.deadlines.await;
    }
}

impl World {
    /// Starts a node: a runner with the balances, the audit trail and the
    /// saga, and a deadline scheduler.
    async fn start_node(&self) -> Option<Node> {
        let runner = ProjectionRunner::new(self.store.clone())
            .ok()?
            .with_clock(self.clock.clone())
            .with_options(self.options);
        self.faults
            .record(format_args!("node {} starts", runner.owner()));
        let audit = AuditProjection {
            deliveries: self.deliveries.clone(),
        };
        let sagas: Arc<dyn SagaStore> = Arc::new(self.sagas.clone());
        let saga = SagaProcessor::<TransferSaga>::shared(self.bus.clone(), sagas)
            .with_clock(self.clock.clone())
            .with_deadlines(self.sagas.clone());
        let started = async {
            runner
                .start(BalancesProjection, self.balances.clone())
                .await?;
            runner.start(audit, self.backend.clone()).await?;
            runner.start(saga, self.backend.clone()).await
        }
        .await;
        match started {
            Ok(()) => {
                let deadlines = DeadlineScheduler::new(self.store.clone(), self.sagas.clone())
                    .with_clock(self.clock.clone())
                    .with_poll(DEADLINE_POLL)
                    .with_lease(DEADLINE_LEASE);
                self.faults
                    .record(format_args!("deadlines {deadlines:?} start"));
                Some(Node {
                    runner,
                    deadlines: deadlines.spawn(),
                })
            }
            Err(error) => {
                self.faults
                    .record(format_args!("node start failed: {error}"));
                runner.abort();
                None
            }
        }
    }

    fn start_sender(&self, script: &Arc<Script>) -> JoinHandle<()> {
        tokio::spawn(sender::run(
            script.clone(),
            self.bus.clone(),
            self.store.clone(),
            self.faults.clone(),
            self.clock.clone(),
        ))
    }
}

/// How often a deadline scheduler looks for due deadlines.
const DEADLINE_POLL: Duration = Duration::from_millis(250);

/// How long a deadline scheduler holds what it claimed: shorter than a
/// stall, so that a stalled scheduler's deadlines are claimed again.
const DEADLINE_LEASE: Duration = Duration::from_secs(1);

/// Runs seed `seed` to its end. Must run on a current-thread Tokio runtime
/// with paused time, with `clock` entered. Fails only if the simulated
/// application's registry is invalid.
pub async fn run(seed: u64, clock: Clock, shape: Shape) -> Result<Ended, eventsource::Error> {
    let intensity = 0.5 + (seed % 7) as f64 * 0.25;
    let faults = Faults::new(seed, Rates::scaled(intensity), clock.clone());
    let fencing = Fencing::default();
    let memory = InMemoryStore::new().with_clock(clock.clone());
    let store: Arc<dyn EventStore> = Arc::new(FaultyStore::new(memory.clone(), faults.clone()));
    let retry =
        RetryPolicy::attempts(5).with_backoff(Duration::from_millis(2), Duration::from_millis(50));
    let bus = CommandBus::new(store.clone())?
        .with_clock(clock.clone())
        .with_retry(retry);
    let leases = InMemoryProjectionBackend::new().with_clock(clock.clone());
    let balances_backend = BalancesBackend::new(leases);
    let backend = InMemoryProjectionBackend::new().with_clock(clock.clone());
    let saga_store = InMemorySagaStore::new();
    let oracle = DeadlineOracle::default();
    let world = World {
        clock: clock.clone(),
        faults: faults.clone(),
        store,
        bus,
        balances: FaultyBackend::new(balances_backend.clone(), faults.clone(), fencing.clone()),
        backend: FaultyBackend::new(backend.clone(), faults.clone(), fencing.clone()),
        sagas: FaultySagaStore::new(saga_store.clone(), faults.clone(), oracle.clone()),
        deliveries: Deliveries::default(),
        options: RunnerOptions::default()
            .with_batch_size(8)
            .with_max_retries(100_000)
            .with_retry_backoff(Duration::from_millis(5), Duration::from_millis(200))
            .with_lease_ttl(Duration::from_secs(1))
            .with_standby_poll(Duration::from_millis(150))
            .with_reconnect_delay(Duration::from_millis(50))
            .with_control_poll(Duration::from_secs(30)),
    };

    let mut nodes: Vec<Option<Node>> = Vec::new();
    for _ in 0..shape.nodes {
        nodes.push(world.start_node().await);
    }
    let scripts: Vec<Arc<Script>> = (0..shape.senders)
        .map(|id| Script::draw(id as u64 + 1, shape.operations, &faults, &clock))
        .collect();
    let mut senders: Vec<Option<JoinHandle<()>>> = scripts
        .iter()
        .map(|s| Some(world.start_sender(s)))
        .collect();

    // The workload: crashes and restarts while the senders work.
    let started = clock.instant();
    let mut crashes = 0;
    while clock.instant() - started < shape.workload && !scripts.iter().all(|s| s.finished()) {
        clock
            .sleep(Duration::from_millis(50 + faults.below(700)))
            .await;
        let draw = faults.below(100);
        if draw < 12 {
            let node = faults.below(nodes.len() as u64) as usize;
            match nodes[node].take() {
                Some(node) => {
                    faults.record(format_args!("crash node {}", node.runner.owner()));
                    node.abort();
                    crashes += 1;
                }
                None => nodes[node] = world.start_node().await,
            }
        } else if draw < 18 {
            let index = faults.below(senders.len() as u64) as usize;
            match senders[index].take() {
                Some(task) if !task.is_finished() => {
                    faults.record(format_args!("crash sender {index}"));
                    task.abort();
                    crashes += 1;
                }
                _ => senders[index] = Some(world.start_sender(&scripts[index])),
            }
        }
    }

    // Healing: no more faults; everything that is down comes back.
    faults.heal();
    faults.record("heal");
    for node in &mut nodes {
        if node.is_none() {
            *node = world.start_node().await;
        }
    }
    for (index, sender) in senders.iter_mut().enumerate() {
        let dead = sender.as_ref().is_none_or(|task| task.is_finished());
        if dead && !scripts[index].finished() {
            *sender = Some(world.start_sender(&scripts[index]));
        }
    }
    let settled = settle(
        &world,
        &memory,
        &balances_backend,
        &backend,
        &scripts,
        shape,
    )
    .await;
    let ended_at = clock.now();

    // Shutdown: every node stops cleanly, every sender ends.
    for node in nodes.iter_mut().filter_map(Option::take) {
        node.shutdown().await;
    }
    for task in senders.iter_mut().filter_map(Option::take) {
        task.abort();
        let _ = task.await;
    }
    // Aborted tasks are dropped on their next poll.
    clock.sleep(Duration::from_secs(5)).await;
    let leaked_tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    faults.record(format_args!("end leaked={leaked_tasks}"));

    Ok(Ended {
        store: memory,
        balances: balances_backend,
        backend,
        deliveries: world.deliveries.clone(),
        sagas: saga_store,
        deadlines: oracle,
        ended_at,
        fencing,
        scripts,
        faults,
        settled,
        leaked_tasks,
        crashes,
    })
}

/// Waits until the senders are done and every projection has reached the
/// head with the head standing still; `false` if that takes longer than
/// the shape allows.
async fn settle(
    world: &World,
    memory: &InMemoryStore,
    balances: &BalancesBackend,
    backend: &InMemoryProjectionBackend,
    scripts: &[Arc<Script>],
    shape: Shape,
) -> bool {
    let clock = &world.clock;
    let started = clock.instant();
    let mut last_head = None;
    while clock.instant() - started < shape.settle {
        clock.sleep(Duration::from_millis(250)).await;
        if !scripts.iter().all(|s| s.finished()) {
            continue;
        }
        let head = memory.head_position().await.unwrap_or(0);
        let mut checkpoints = Vec::new();
        checkpoints.push(balances.leases().checkpoint("sim.balances").await);
        checkpoints.push(backend.checkpoint("sim.audit").await);
        checkpoints.push(backend.checkpoint("sim.transfer").await);
        let caught_up = checkpoints.iter().all(|c| {
            matches!(c, Ok(Some(p)) if *p == head) || (head == 0 && matches!(c, Ok(None)))
        });
        // Deadlines that fell due must have fired (their removal follows).
        let now = clock.now();
        let owed = match world.sagas.inner().pending("sim.transfer").await {
            Ok(pending) => pending.iter().any(|d| d.due_at <= now),
            Err(_) => true,
        };
        if caught_up && !owed && last_head == Some(head) {
            return true;
        }
        last_head = Some(head);
    }
    false
}
