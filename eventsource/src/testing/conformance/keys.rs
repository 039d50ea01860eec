//! Key stores of crypto-shredding (`shredding::KeyStore`): one key per
//! subject, kept until forgotten, and a forgotten subject refused for good.
//! Run with [`run_key_store`](super::run_key_store).

use std::sync::Arc;

use crate::shredding::{KeyStore, new_key};
use crate::store::StoreError;

use super::Outcome;
use super::support::{Step, ensure};

pub(super) async fn a_subject_keeps_its_first_key(keys: Arc<dyn KeyStore>) -> Outcome {
    ensure!(
        keys.key("s-1").await.step("key")?.is_none(),
        "a fresh key store has a key for `s-1`"
    );
    let first = new_key();
    let got = keys
        .key_for_append("s-1", first)
        .await
        .step("key_for_append")?;
    ensure!(got == first, "the first append did not store the fresh key");
    let again = keys
        .key_for_append("s-1", new_key())
        .await
        .step("key_for_append again")?;
    ensure!(again == first, "a second append replaced the subject's key");
    let read = keys.key("s-1").await.step("key")?;
    ensure!(read == Some(first), "key() does not return the stored key");
    let other = keys
        .key_for_append("s-2", new_key())
        .await
        .step("key_for_append s-2")?;
    ensure!(other != first, "two subjects share a key");
    Ok(())
}

pub(super) async fn a_forgotten_subject_is_refused_for_good(keys: Arc<dyn KeyStore>) -> Outcome {
    keys.key_for_append("s-1", new_key())
        .await
        .step("key_for_append")?;
    keys.key_for_append("s-2", new_key())
        .await
        .step("key_for_append")?;
    ensure!(
        keys.forget("s-1").await.step("forget")?,
        "forgetting a subject with a key answered false"
    );
    ensure!(
        keys.key("s-1").await.step("key")?.is_none(),
        "a forgotten subject still has a key"
    );
    match keys.key_for_append("s-1", new_key()).await {
        Err(StoreError::SubjectForgotten { subject }) if &*subject == "s-1" => {}
        other => {
            return Err(format!(
                "an append for a forgotten subject answered {other:?}"
            ));
        }
    }
    ensure!(
        !keys.forget("s-1").await.step("forget again")?,
        "forgetting twice answered true"
    );
    ensure!(
        keys.key("s-2").await.step("key")?.is_some(),
        "forgetting `s-1` lost the key of `s-2`"
    );
    Ok(())
}

pub(super) async fn a_subject_forgotten_before_its_first_event_stays_forgotten(
    keys: Arc<dyn KeyStore>,
) -> Outcome {
    ensure!(
        !keys.forget("s-9").await.step("forget")?,
        "forgetting an unknown subject answered true"
    );
    match keys.key_for_append("s-9", new_key()).await {
        Err(StoreError::SubjectForgotten { .. }) => Ok(()),
        other => Err(format!(
            "an append for a subject forgotten before it had a key answered {other:?}"
        )),
    }
}
