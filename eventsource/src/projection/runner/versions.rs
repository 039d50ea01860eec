//! Versions of a projection: where each keeps its state, and what a program
//! records of the one it runs.

/// Where `version` of projection `name` keeps its checkpoint, lease and
/// parked events: the name itself for version 1 (as before versions
/// existed, so upgrading keeps them), `name@vN` for the others.
///
/// ```
/// assert_eq!(eventsource::projection::slot("orders.summary", 1), "orders.summary");
/// assert_eq!(eventsource::projection::slot("orders.summary", 2), "orders.summary@v2");
/// ```
pub fn slot(name: &str, version: u32) -> String {
    if version == 1 {
        name.to_owned()
    } else {
        format!("{name}@v{version}")
    }
}

/// What a backend records of a version: the names of the events it
/// handles, sorted and without repeats.
pub(super) fn fingerprint(events: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_keeps_the_bare_name() {
        assert_eq!(slot("orders.summary", 1), "orders.summary");
        assert_eq!(slot("orders.summary", 2), "orders.summary@v2");
        assert_eq!(fingerprint(&["b", "a", "b"]), ["a", "b"]);
    }
}
