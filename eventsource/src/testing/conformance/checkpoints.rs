//! Checkpoints: load, save, reset; positions only move forward.

use super::support::{Step, ensure};
use super::{Outcome, Subject};

pub(super) async fn load_save_and_reset(s: Subject) -> Outcome {
    let store = &*s.checkpoints;
    ensure!(
        store.load("p").await.step("load")?.is_none(),
        "a fresh store has a checkpoint for `p`"
    );
    store.save("p", 42).await.step("save")?;
    store.save("q", 7).await.step("save")?;
    let p = store.load("p").await.step("load")?;
    ensure!(p == Some(42), "checkpoint `p` loaded as {p:?}, saved 42");
    store.reset("p").await.step("reset")?;
    let p = store.load("p").await.step("load")?;
    ensure!(p.is_none(), "checkpoint `p` loaded as {p:?} after a reset");
    let q = store.load("q").await.step("load")?;
    ensure!(q == Some(7), "resetting `p` changed `q` to {q:?}");
    store.save("p", 3).await.step("save after reset")?;
    let p = store.load("p").await.step("load")?;
    ensure!(p == Some(3), "after a reset, saving 3 loaded as {p:?}");
    store
        .reset("missing")
        .await
        .step("resetting a missing checkpoint")?;
    Ok(())
}

pub(super) async fn positions_only_move_forward(s: Subject) -> Outcome {
    let store = &*s.checkpoints;
    store.save("p", 100).await.step("save")?;
    store.save("p", 50).await.step("save lower")?;
    let p = store.load("p").await.step("load")?;
    ensure!(p == Some(100), "saving 50 after 100 loaded as {p:?}");
    let big = (1u64 << 62) + 5;
    store.save("p", big).await.step("save large")?;
    let p = store.load("p").await.step("load")?;
    ensure!(p == Some(big), "saving {big} loaded as {p:?}");
    Ok(())
}
