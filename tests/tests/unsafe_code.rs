//! The workspace denies `unsafe` code, and exactly one library block opts
//! out: the `TCP_NODELAY` call on a socket sqlx owns
//! (`eventsource-postgres/src/nodelay.rs`). A new one must be added here on
//! purpose, next to a reason.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The library files allowed `unsafe`, with how many blocks each holds.
const ALLOWED: &[(&str, usize)] = &[("eventsource-postgres/src/nodelay.rs", 1)];

/// Counts `unsafe` blocks, functions, impls and traits.
#[derive(Default)]
struct Unsafe(usize);

impl<'ast> Visit<'ast> for Unsafe {
    fn visit_expr_unsafe(&mut self, e: &'ast syn::ExprUnsafe) {
        self.0 += 1;
        syn::visit::visit_expr_unsafe(self, e);
    }
    fn visit_signature(&mut self, s: &'ast syn::Signature) {
        self.0 += usize::from(matches!(s.safety, syn::Safety::Unsafe(_)));
        syn::visit::visit_signature(self, s);
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        self.0 += usize::from(i.unsafety.is_some());
        syn::visit::visit_item_impl(self, i);
    }
    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        self.0 += usize::from(t.unsafety.is_some());
        syn::visit::visit_item_trait(self, t);
    }
}

/// Every `.rs` file under `dir`, skipping build output.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn unsafe_code_is_only_where_it_is_allowed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).expect("the workspace").flatten() {
        // Library code only: each crate's `src`. Tests may read sockets
        // back the same way to check what the library did.
        let src = entry.path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    assert!(files.len() > 100, "read only {} files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let Ok(parsed) = syn::parse_file(&text) else {
            panic!("{} does not parse", file.display());
        };
        let mut count = Unsafe::default();
        count.visit_file(&parsed);
        if count.0 > 0 {
            let name = file
                .strip_prefix(root)
                .unwrap_or(file)
                .display()
                .to_string();
            found.push((name, count.0));
        }
    }
    let allowed: Vec<(String, usize)> =
        ALLOWED.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect();
    assert_eq!(found, allowed, "unsafe code outside the allowed places");
}
