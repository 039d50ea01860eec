//! The files of each crate depend on each other without circles.
//!
//! A file depends on another when it names an item the other defines: in a
//! `use` that is not a re-export, or in a path in its code (`crate::x::Y`,
//! `super::y`, `child::z`, or through a name it imported). Re-exports (`pub
//! use`, `pub(crate) use`) are followed to the item, not counted: a parent
//! that re-exports its children's items does not depend on them. Tests
//! (`#[cfg(test)]`) may depend on anything and are left out; paths inside
//! macro invocations are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One file of a crate: its module path, and what it declares and imports.
#[derive(Default)]
struct Module {
    file: PathBuf,
    /// Child modules, by name, to their module paths.
    children: BTreeMap<String, Vec<String>>,
    /// Items defined here (types, traits, functions, constants, statics).
    items: BTreeSet<String>,
    /// Names a `use` brings in, to the full path they stand for, and
    /// whether the `use` is a re-export.
    aliases: BTreeMap<String, (Vec<String>, bool)>,
    /// Modules whose public names a glob `use` brings in.
    globs: Vec<Vec<String>>,
    /// Full paths named by private `use`s and by code.
    named: Vec<Vec<String>>,
    /// The `use`s as written: path, bound name (`None`: a glob), re-export.
    uses: Vec<(Vec<String>, Option<String>, bool)>,
}

/// The modules of a crate, by module path (`["crate", "store", "error"]`).
struct Crate {
    modules: BTreeMap<Vec<String>, Module>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg") && {
            let text = attr.meta.to_token_stream_string();
            text.contains("test") && !text.contains("not")
        }
    })
}

trait MetaText {
    fn to_token_stream_string(&self) -> String;
}

impl MetaText for syn::Meta {
    fn to_token_stream_string(&self) -> String {
        quote::ToTokens::to_token_stream(self).to_string()
    }
}

fn read(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Crate {
    fn load(src: &Path) -> Self {
        let mut krate = Crate {
            modules: BTreeMap::new(),
        };
        krate.load_file(vec!["crate".to_owned()], src.join("lib.rs"), src.to_owned());
        krate
    }

    /// Loads the module `path` from `file`, whose child modules live in `dir`.
    fn load_file(&mut self, path: Vec<String>, file: PathBuf, dir: PathBuf) {
        let ast = read(&file);
        let mut module = Module {
            file: file.clone(),
            ..Module::default()
        };
        let mut children = Vec::new();
        for item in &ast.items {
            self.read_item(&path, item, &mut module, &mut children);
        }
        // Made absolute once every child module is known: `use child::X`
        // names a child of this module.
        for (written, alias, reexport) in std::mem::take(&mut module.uses) {
            let full = match module.children.get(&written[0]) {
                Some(child) => {
                    let mut full = child.clone();
                    full.extend(written[1..].iter().cloned());
                    full
                }
                None => absolute(&path, &written),
            };
            match alias {
                Some(alias) => {
                    if !reexport {
                        module.named.push(full.clone());
                    }
                    module.aliases.insert(alias, (full, reexport));
                }
                None => module.globs.push(full),
            }
        }
        collect_paths(&path, &ast.items, &mut module);
        self.modules.insert(path.clone(), module);
        for name in children {
            let flat = dir.join(format!("{name}.rs"));
            let nested = dir.join(&name).join("mod.rs");
            let (child_file, child_dir) = if flat.exists() {
                (flat, dir.join(&name))
            } else {
                (nested, dir.join(&name))
            };
            let mut child = path.clone();
            child.push(name);
            self.load_file(child, child_file, child_dir);
        }
    }

    fn read_item(
        &mut self,
        path: &[String],
        item: &syn::Item,
        module: &mut Module,
        children: &mut Vec<String>,
    ) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            return;
        }
        let name = match item {
            syn::Item::Mod(m) if m.content.is_none() => {
                let mut child = path.to_vec();
                child.push(m.ident.to_string());
                module.children.insert(m.ident.to_string(), child);
                children.push(m.ident.to_string());
                return;
            }
            syn::Item::Use(u) => {
                let reexport = !matches!(u.vis, syn::Visibility::Inherited);
                let mut out = Vec::new();
                flatten_use(&u.tree, Vec::new(), &mut out);
                for (full, alias) in out {
                    module.uses.push((full, alias, reexport));
                }
                return;
            }
            syn::Item::Struct(s) => &s.ident,
            syn::Item::Enum(e) => &e.ident,
            syn::Item::Union(u) => &u.ident,
            syn::Item::Trait(t) => &t.ident,
            syn::Item::Fn(f) => &f.sig.ident,
            syn::Item::Type(t) => &t.ident,
            syn::Item::Const(c) => &c.ident,
            syn::Item::Static(s) => &s.ident,
            _ => return,
        };
        module.items.insert(name.to_string());
    }

    /// The file defining the item `path` names, if it is in this crate.
    fn resolve(&self, path: &[String], depth: usize) -> Option<PathBuf> {
        if depth > 16 || path.first().map(String::as_str) != Some("crate") {
            return None;
        }
        let mut module: Vec<String> = vec!["crate".to_owned()];
        for (i, segment) in path.iter().enumerate().skip(1) {
            let here = self.modules.get(&module)?;
            if let Some(child) = here.children.get(segment) {
                module = child.clone();
                continue;
            }
            if here.items.contains(segment) {
                return Some(here.file.clone());
            }
            if let Some((target, _)) = here.aliases.get(segment) {
                let mut rest = target.clone();
                rest.extend(path[i + 1..].iter().cloned());
                return self.resolve(&rest, depth + 1);
            }
            for glob in &here.globs {
                let mut through = glob.clone();
                through.extend(path[i..].iter().cloned());
                if let Some(file) = self.resolve(&through, depth + 1) {
                    return Some(file);
                }
            }
            return None;
        }
        None
    }

    /// Each file, to the files it depends on.
    fn graph(&self) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
        let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for module in self.modules.values() {
            let edges = graph.entry(module.file.clone()).or_default();
            for named in &module.named {
                if let Some(file) = self.resolve(named, 0) {
                    if file != module.file {
                        edges.insert(file);
                    }
                }
            }
        }
        graph
    }
}

/// Every path of a `use` tree, with the name it is bound to (`None`: a glob).
fn flatten_use(
    tree: &syn::UseTree,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut prefix = prefix;
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
        }
        syn::UseTree::Name(n) if n.ident == "self" => {
            let alias = prefix.last().cloned();
            out.push((prefix, alias));
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix;
            full.push(n.ident.to_string());
            out.push((full, Some(n.ident.to_string())));
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix;
            if r.ident != "self" {
                full.push(r.ident.to_string());
            }
            out.push((full, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix, None)),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix.clone(), out);
            }
        }
    }
}

/// `path` as seen from module `module`, made absolute when it starts with
/// `crate`, `self` or `super`; other paths are returned as they are.
fn absolute(module: &[String], path: &[String]) -> Vec<String> {
    let mut base: Vec<String> = module.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => return path.to_vec(),
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return path.to_vec(),
    }
    base.extend(rest.iter().cloned());
    base
}

/// Records the paths the code of `items` names that start in this crate.
fn collect_paths(module: &[String], items: &[syn::Item], out: &mut Module) {
    struct Paths<'a> {
        module: &'a [String],
        found: Vec<Vec<String>>,
    }
    impl<'ast> Visit<'ast> for Paths<'_> {
        fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}
        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            if !is_cfg_test(&m.attrs) && m.content.is_some() {
                syn::visit::visit_item_mod(self, m);
            }
        }
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            if !is_cfg_test(&f.attrs) {
                syn::visit::visit_item_fn(self, f);
            }
        }
        fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
            if !is_cfg_test(&i.attrs) {
                syn::visit::visit_item_impl(self, i);
            }
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            if !is_cfg_test(&f.attrs) {
                syn::visit::visit_impl_item_fn(self, f);
            }
        }
        fn visit_path(&mut self, path: &'ast syn::Path) {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            if path.leading_colon.is_none() && segments.len() > 1 {
                self.found.push(segments);
            }
            syn::visit::visit_path(self, path);
        }
    }
    let mut paths = Paths {
        module,
        found: Vec::new(),
    };
    for item in items {
        paths.visit_item(item);
    }
    let _ = paths.module;
    for found in paths.found {
        let absolute_path = match found[0].as_str() {
            "crate" | "self" | "super" => absolute(module, &found),
            first => {
                // A child module, or a name this file imported.
                if let Some(child) = out.children.get(first) {
                    let mut p = child.clone();
                    p.extend(found[1..].iter().cloned());
                    p
                } else if let Some((target, _)) = out.aliases.get(first) {
                    let mut p = target.clone();
                    p.extend(found[1..].iter().cloned());
                    p
                } else {
                    continue;
                }
            }
        };
        out.named.push(absolute_path);
    }
}

/// The circles of `graph` (its strongly connected components of more than
/// one file), each as a list of files.
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    // Tarjan's algorithm, iteratively bounded by the graph's size.
    struct State<'g> {
        graph: &'g BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'g PathBuf, usize>,
        low: BTreeMap<&'g PathBuf, usize>,
        stack: Vec<&'g PathBuf>,
        on_stack: BTreeSet<&'g PathBuf>,
        next: usize,
        found: Vec<Vec<PathBuf>>,
    }
    fn connect<'g>(s: &mut State<'g>, v: &'g PathBuf) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let Some((w, _)) = s.graph.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                connect(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            connect(&mut state, v);
        }
    }
    state.found
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_owned()
}

fn assert_no_circles(krate: &str) {
    let src = workspace().join(krate).join("src");
    let graph = Crate::load(&src).graph();
    assert!(graph.len() > 10, "{krate}: read only {} files", graph.len());
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        edges > graph.len(),
        "{krate}: found only {edges} dependencies"
    );
    let circles = circles(&graph);
    let shown: Vec<Vec<String>> = circles
        .iter()
        .map(|c| {
            c.iter()
                .map(|f| f.strip_prefix(&src).unwrap_or(f).display().to_string())
                .collect()
        })
        .collect();
    assert!(
        shown.is_empty(),
        "{krate}: files that depend on each other in a circle: {shown:#?}"
    );
}

#[test]
fn the_runtime_has_no_import_circles() {
    assert_no_circles("eventsource");
}

#[test]
fn the_macros_have_no_import_circles() {
    assert_no_circles("eventsource-derive");
}

#[test]
fn the_postgres_store_has_no_import_circles() {
    assert_no_circles("eventsource-postgres");
}

#[test]
fn the_simulation_has_no_import_circles() {
    assert_no_circles("sim");
}

#[test]
fn the_nats_bus_has_no_import_circles() {
    assert_no_circles("eventsource-nats");
}

#[test]
fn a_circle_is_found() {
    let file = |name: &str| PathBuf::from(name);
    let graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = [
        (file("a.rs"), [file("b.rs")].into()),
        (file("b.rs"), [file("c.rs")].into()),
        (file("c.rs"), [file("a.rs")].into()),
        (file("d.rs"), [file("a.rs")].into()),
    ]
    .into();
    assert_eq!(
        circles(&graph),
        [vec![file("a.rs"), file("b.rs"), file("c.rs")]]
    );
}
