//! Suggestions for unknown keys: the list of valid ones, and the closest.

use super::Key;

/// "valid keys are `a`, `b`", for unknown-key messages.
pub(super) fn expected(valid: &[Key]) -> String {
    let keys: Vec<String> = valid.iter().map(|k| format!("`{k}`")).collect();
    format!("valid keys are {}", keys.join(", "))
}

/// The valid key closest to `key`, if it is close enough to be a typo.
pub(super) fn did_you_mean(key: &str, valid: &[Key]) -> Option<Key> {
    valid
        .iter()
        .map(|candidate| (distance(key, candidate.as_str()), *candidate))
        .filter(|(d, candidate)| *d <= (candidate.as_str().len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting a swap of two adjacent characters as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}
