//! The workspace's file-level import graph has no cycle.
//!
//! Every `.rs` file under a member crate's `src/` (members read from the workspace `Cargo.toml`) is
//! read as text. Each path that names something of the same crate, `crate::…`, `super::…`,
//! `self::…` or a declared child module (`use client::X;` in the parent), in a `use` (grouped or
//! not, any visibility), an expression (`crate::store::x(`) or a path string
//! (`deserialize_with = "crate::lenient::opt_string"`), is resolved to the file that holds it by
//! the module tree of file paths (`a/b.rs` or `a/b/mod.rs` is module `a::b`; an item's path ends at
//! its file). An inline module (`mod tests { use super::*; }`) belongs to its file, so a test module
//! importing its parent is no edge. Comments and other string literals are ignored.
//!
//! A module naming its own descendants (`pub use client::FreshchatClient;` in `lib.rs`, a parent
//! re-exporting its children) is containment, not a dependency, and is no edge; a child naming
//! its parent is one (`use super::FreshchatClient;` in `client/transport.rs`). So siblings never
//! name each other both ways, and no file reaches out of a folder to something that reaches back
//! into it.
//!
//! A cycle between files (A names B, B names A, directly or around a longer loop) fails the test
//! with every file of the cycle named. The fix is to move what both need into a third file that
//! depends on neither (a `wire.rs`, a `lenient.rs`), or to move the code that needs both out of
//! one of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files still tied up in a cycle, each to be untangled where its owner works on it: the test
/// tolerates a cycle only when every file in it is listed here, and fails once a listed file is in
/// no cycle any more (take it off the list). Empty: the workspace has no file-level cycle, and a
/// new one fails the test.
const NOT_YET_UNTANGLED: &[&str] = &[];

#[test]
fn no_file_level_import_cycle_in_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut tangled: BTreeSet<String> = BTreeSet::new();
    let mut files = 0;
    for src in crate_sources(root) {
        let graph = Graph::of_crate(&src);
        files += graph.files.len();
        let shown = |f: &PathBuf| f.strip_prefix(root).unwrap_or(f).display().to_string();
        for (cycle, knot) in graph.cycles() {
            let knot: Vec<String> = knot.iter().map(shown).collect();
            tangled.extend(knot.iter().cloned());
            if knot.iter().all(|f| NOT_YET_UNTANGLED.contains(&f.as_str())) {
                continue;
            }
            let mut line = cycle.iter().map(shown).collect::<Vec<_>>().join(" -> ");
            let more: Vec<&String> = knot
                .iter()
                .filter(|f| !cycle.iter().any(|c| shown(c) == **f))
                .collect();
            if !more.is_empty() {
                let more: Vec<&str> = more.iter().map(|s| s.as_str()).collect();
                line.push_str(&format!(" (tied up with {})", more.join(", ")));
            }
            found.push(line);
        }
    }
    // The scan saw the workspace (not an empty folder that trivially has no cycle).
    assert!(
        files > 100,
        "only {files} source files found under {}",
        root.display()
    );
    assert!(
        found.is_empty(),
        "file-level import cycles (each file names the next, the last names the first):\n  {}",
        found.join("\n  ")
    );
    let untangled: Vec<&&str> = NOT_YET_UNTANGLED
        .iter()
        .filter(|f| !tangled.contains(**f))
        .collect();
    assert!(
        untangled.is_empty(),
        "no longer in a cycle, take them off NOT_YET_UNTANGLED: {untangled:?}"
    );
}

/// The parser sees what it must: grouped uses, visibilities, inline paths, path strings, child
/// modules, inline test modules, and nothing in comments or ordinary strings.
#[test]
fn the_import_scanner_reads_every_form() {
    let dir = std::env::temp_dir().join(format!("zfsync-structure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap_or(&dir)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write(
        "lib.rs",
        "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub use a::{X, Y};\n",
    );
    write(
        "a/mod.rs",
        "mod inner;\npub(crate) use crate::{b, c::Z};\nuse inner::W;\n",
    );
    write(
        "a/inner.rs",
        "use super::V;\nfn f() { super::super::d::g(); }\n",
    );
    write(
        "b.rs",
        "// use crate::d;\nconst S: &str = \"crate::d::x\";\nconst R: &str = r#\"crate::d\"#;\n\
         #[serde(with = \"crate::c::serde\")]\nstruct T;\nmod tests { use super::*; use crate::d; }\n",
    );
    write(
        "c.rs",
        "fn f<'a>(x: &'a str) -> char { let _ = '\"'; crate::b::T; 'x' }\n",
    );
    write("d.rs", "use std::fmt;\nfn g() { let s = self.x; }\n");
    let graph = Graph::of_crate(&dir);
    let edges = |from: &str| -> BTreeSet<String> {
        graph.edges[&dir.join(from)]
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap_or(f).display().to_string())
            .collect()
    };
    // Down into a module's own subtree is containment; up to the parent is a dependency.
    assert_eq!(edges("lib.rs"), set(&[]));
    assert_eq!(edges("a/mod.rs"), set(&["b.rs", "c.rs"]));
    assert_eq!(edges("a/inner.rs"), set(&["a/mod.rs", "d.rs"]));
    assert_eq!(edges("b.rs"), set(&["c.rs", "d.rs"]));
    assert_eq!(edges("c.rs"), set(&["b.rs"]));
    assert_eq!(edges("d.rs"), set(&[]));
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    let names: BTreeSet<PathBuf> = cycles[0].0.iter().cloned().collect();
    assert_eq!(
        names,
        [dir.join("b.rs"), dir.join("c.rs")].into_iter().collect()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The `src/` folder of every workspace member.
fn crate_sources(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("cannot read the workspace Cargo.toml: {e}"));
    let start = manifest
        .find("members")
        .and_then(|i| manifest[i..].find('[').map(|j| i + j + 1))
        .unwrap_or_else(|| panic!("no `members = [...]` in the workspace Cargo.toml"));
    let end = manifest[start..]
        .find(']')
        .map(|j| start + j)
        .unwrap_or_else(|| panic!("`members` is not closed"));
    let members: Vec<&str> = manifest[start..end]
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    assert!(members.contains(&"."), "members: {members:?}");
    members
        .iter()
        .map(|m| root.join(m).join("src"))
        .filter(|p| p.is_dir())
        .collect()
}

/// The file-level import graph of one crate.
struct Graph {
    /// Module path (`["store", "model"]`) to its file.
    files: BTreeMap<Vec<String>, PathBuf>,
    edges: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
}

impl Graph {
    fn of_crate(src: &Path) -> Graph {
        let mut paths = Vec::new();
        walk(src, &mut paths);
        let mut files = BTreeMap::new();
        let has_lib = src.join("lib.rs").is_file();
        for p in &paths {
            if let Some(m) = module_of(src, p, has_lib) {
                files.insert(m, p.clone());
            }
        }
        let mut graph = Graph {
            files,
            edges: BTreeMap::new(),
        };
        let modules: Vec<(Vec<String>, PathBuf)> = graph
            .files
            .iter()
            .map(|(m, p)| (m.clone(), p.clone()))
            .collect();
        for (module, path) in modules {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let mut to = BTreeSet::new();
            for target in graph.references(&module, &tokens(&text)) {
                // A module naming its own descendants is containment, not a dependency.
                if target.starts_with(&module) {
                    continue;
                }
                if let Some(file) = graph.file_of(&target) {
                    if *file != path {
                        to.insert(file.clone());
                    }
                }
            }
            graph.edges.insert(path, to);
        }
        graph
    }

    /// The file holding `path`: the longest prefix of it that is a file module.
    fn file_of(&self, path: &[String]) -> Option<&PathBuf> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.files.get(&path[..n]))
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.files.contains_key(path)
    }

    /// Absolute module paths named in a file whose module is `module`.
    fn references(&self, module: &[String], toks: &[Tok]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        // The inline modules open at this point, with the brace depth each closes at.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        let mut i = 0;
        while i < toks.len() {
            let here: Vec<String> = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(n, _)| n.clone()))
                .collect();
            match &toks[i] {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth = depth.saturating_sub(1);
                    if inline.last().is_some_and(|(_, d)| *d == depth) {
                        inline.pop();
                    }
                }
                Tok::Ident(k) if k == "mod" => {
                    if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                        (toks.get(i + 1), toks.get(i + 2))
                    {
                        inline.push((name.clone(), depth));
                        depth += 1;
                        i += 3;
                        continue;
                    }
                }
                Tok::Ident(k) if k == "use" && !prev_is(toks, i, "::") => {
                    let mut j = i + 1;
                    let mut paths = Vec::new();
                    use_tree(toks, &mut j, Vec::new(), &mut paths);
                    for p in paths {
                        if let Some(abs) = self.absolute(&here, &p) {
                            out.push(abs);
                        }
                    }
                    i = j;
                    continue;
                }
                // Only where a path string is a path: serde's `with = "…"` and its kin.
                Tok::Path(p) if path_attribute_before(toks, i) => {
                    let segs: Vec<String> = p.split("::").map(str::to_owned).collect();
                    if let Some(abs) = self.absolute(&here, &segs) {
                        out.push(abs);
                    }
                }
                Tok::Ident(first)
                    if !prev_is(toks, i, "::")
                        && !prev_is(toks, i, ".")
                        && toks.get(i + 1) == Some(&Tok::Sep) =>
                {
                    let mut segs = vec![first.clone()];
                    let mut j = i + 1;
                    while toks.get(j) == Some(&Tok::Sep) {
                        match toks.get(j + 1) {
                            Some(Tok::Ident(s)) => {
                                segs.push(s.clone());
                                j += 2;
                            }
                            _ => break,
                        }
                    }
                    if let Some(abs) = self.absolute(&here, &segs) {
                        out.push(abs);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    /// `segs` as seen from module `here`, made absolute; `None` when it is not of this crate.
    fn absolute(&self, here: &[String], segs: &[String]) -> Option<Vec<String>> {
        let first = segs.first()?;
        let mut abs: Vec<String> = match first.as_str() {
            "crate" | "$crate" | "super" | "self" => here.to_vec(),
            // A bare first segment is ours only when it is a child module of `here`.
            child => {
                let mut c = here.to_vec();
                c.push(child.to_owned());
                if !self.is_module(&c) {
                    return None;
                }
                here.to_vec()
            }
        };
        if first == "crate" || first == "$crate" {
            abs.clear();
        }
        let rest = if first == "crate" || first == "$crate" || first == "self" {
            &segs[1..]
        } else {
            segs
        };
        for s in rest {
            match s.as_str() {
                "super" => {
                    abs.pop()?;
                }
                "self" => {}
                "*" => break,
                name => abs.push(name.to_owned()),
            }
        }
        Some(abs)
    }

    /// Every strongly connected set of more than one file: a loop through some of its files, and
    /// all of them.
    fn cycles(&self) -> Vec<(Vec<PathBuf>, Vec<PathBuf>)> {
        let nodes: Vec<&PathBuf> = self.edges.keys().collect();
        let mut out = Vec::new();
        let mut seen: BTreeSet<&PathBuf> = BTreeSet::new();
        for start in &nodes {
            if seen.contains(*start) {
                continue;
            }
            // The files that reach `start` and that `start` reaches form its component.
            let forward = self.reach(start, false);
            let backward = self.reach(start, true);
            let component: BTreeSet<&PathBuf> = forward.intersection(&backward).copied().collect();
            seen.extend(component.iter().copied());
            if component.len() > 1 {
                let all = component.iter().map(|p| (*p).clone()).collect();
                out.push((self.loop_through(start, &component), all));
            }
        }
        out
    }

    fn reach<'a>(&'a self, from: &'a PathBuf, reverse: bool) -> BTreeSet<&'a PathBuf> {
        let mut seen = BTreeSet::from([from]);
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            let next: Vec<&PathBuf> = if reverse {
                self.edges
                    .iter()
                    .filter(|(_, to)| to.contains(n))
                    .map(|(f, _)| f)
                    .collect()
            } else {
                self.edges.get(n).into_iter().flatten().collect()
            };
            for m in next {
                if seen.insert(m) {
                    todo.push(m);
                }
            }
        }
        seen
    }

    /// A shortest loop from `start` back to itself inside `component`.
    fn loop_through(&self, start: &PathBuf, component: &BTreeSet<&PathBuf>) -> Vec<PathBuf> {
        let mut parent: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for m in self.edges.get(n).into_iter().flatten() {
                if !component.contains(m) {
                    continue;
                }
                if m == start {
                    let mut path = vec![n.clone()];
                    let mut at = n;
                    while at != start {
                        at = parent[at];
                        path.push(at.clone());
                    }
                    path.reverse();
                    return path;
                }
                if !parent.contains_key(m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        component.iter().map(|p| (*p).clone()).collect()
    }
}

/// Serde attributes whose string value is a path.
const PATH_ATTRIBUTES: [&str; 5] = [
    "with",
    "deserialize_with",
    "serialize_with",
    "default",
    "skip_serializing_if",
];

fn path_attribute_before(toks: &[Tok], i: usize) -> bool {
    i >= 2
        && toks[i - 1] == Tok::Punct('=')
        && matches!(&toks[i - 2], Tok::Ident(a) if PATH_ATTRIBUTES.contains(&a.as_str()))
}

fn prev_is(toks: &[Tok], i: usize, what: &str) -> bool {
    matches!(
        (i.checked_sub(1).and_then(|p| toks.get(p)), what),
        (Some(Tok::Sep), "::") | (Some(Tok::Punct('.')), ".")
    )
}

/// Expands the use tree at `toks[*j]` into full paths (`a::{b, c::d}` → `a::b`, `a::c::d`),
/// leaving `*j` after its end (`;`, `,` or `}` of the enclosing group).
fn use_tree(toks: &[Tok], j: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    // A leading `::` names an external crate.
    if toks.get(*j) == Some(&Tok::Sep) {
        while *j < toks.len() && toks[*j] != Tok::Punct(';') {
            *j += 1;
        }
        return;
    }
    loop {
        match toks.get(*j) {
            Some(Tok::Ident(s)) if s == "as" => {
                // `as name` ends the path.
                *j += 2;
                out.push(path);
                return;
            }
            Some(Tok::Ident(s)) => {
                if s != "self" || path.is_empty() {
                    path.push(s.clone());
                }
                *j += 1;
            }
            Some(Tok::Punct('*')) => {
                path.push("*".into());
                *j += 1;
            }
            Some(Tok::Sep) => *j += 1,
            Some(Tok::Punct('{')) => {
                *j += 1;
                loop {
                    match toks.get(*j) {
                        Some(Tok::Punct('}')) => {
                            *j += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => *j += 1,
                        None => return,
                        Some(_) => use_tree(toks, j, path.clone(), out),
                    }
                }
                if toks.get(*j) == Some(&Tok::Punct(';')) {
                    *j += 1;
                }
                return;
            }
            Some(Tok::Punct(';')) => {
                *j += 1;
                out.push(path);
                return;
            }
            Some(Tok::Punct(',' | '}')) | None => {
                out.push(path);
                return;
            }
            Some(_) => {
                *j += 1;
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`.
    Sep,
    Punct(char),
    /// A string literal that is itself a path of this crate (`"crate::x::y"`).
    Path(String),
}

/// The tokens of a source file, without comments and ordinary string literals.
fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_start = |ch: char| ch.is_alphabetic() || ch == '_' || ch == '$';
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut nest = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    nest += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            let (content, end) = string_at(&c, i + 1, None);
            out.extend(path_string(&content));
            i = end;
        } else if (ch == 'r' || ch == 'b') && raw_string_at(&c, i).is_some() {
            let (start, hashes) = raw_string_at(&c, i).unwrap_or((i, 0));
            let (content, end) = string_at(&c, start, Some(hashes));
            out.extend(path_string(&content));
            i = end;
        } else if ch == 'b' && next == Some('"') {
            let (_, end) = string_at(&c, i + 2, None);
            i = end;
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                let mut k = i + 2;
                while k < c.len() && c[k] != '\'' {
                    k += 1;
                }
                i = k + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch == 'b' && next == Some('\'') {
            let mut k = i + 2;
            if c.get(k) == Some(&'\\') {
                k += 1;
            }
            k += 1;
            while k < c.len() && c[k] != '\'' {
                k += 1;
            }
            i = k + 1;
        } else if ident_start(ch) {
            let s = i;
            i += 1;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[s..i].iter().collect();
            // `r#type` is the identifier `type`.
            let word = word.strip_prefix("r#").map(str::to_owned).unwrap_or(word);
            out.push(Tok::Ident(word));
        } else if ch == ':' && next == Some(':') {
            out.push(Tok::Sep);
            i += 2;
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

/// `Some((start of content, number of #))` when a raw string (`r"`, `r#"`, `br"`, `br#"`) starts at `i`.
fn raw_string_at(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut k = i;
    if c.get(k) == Some(&'b') {
        k += 1;
    }
    if c.get(k) != Some(&'r') {
        return None;
    }
    // Not the end of a longer identifier such as `bar`.
    if i > 0
        && c.get(i - 1)
            .is_some_and(|p| p.is_alphanumeric() || *p == '_')
    {
        return None;
    }
    k += 1;
    let mut hashes = 0;
    while c.get(k) == Some(&'#') {
        hashes += 1;
        k += 1;
    }
    (c.get(k) == Some(&'"')).then_some((k + 1, hashes))
}

/// The content of a string starting at `start` (after the opening quote) and the index after it.
/// `raw`: the number of `#` closing a raw string (no escapes in it).
fn string_at(c: &[char], start: usize, raw: Option<usize>) -> (String, usize) {
    let mut k = start;
    let mut content = String::new();
    while k < c.len() {
        match (c[k], raw) {
            ('\\', None) => {
                k += 2;
                continue;
            }
            ('"', None) => return (content, k + 1),
            ('"', Some(h)) if (1..=h).all(|n| c.get(k + n) == Some(&'#')) => {
                return (content, k + 1 + h)
            }
            (ch, _) => content.push(ch),
        }
        k += 1;
    }
    (content, k)
}

/// A string literal that is a path of this crate (serde's `with = "crate::…"`), as a path token.
fn path_string(content: &str) -> Option<Tok> {
    let first = content.split("::").next()?;
    let is_path = content.contains("::")
        && matches!(first, "crate" | "super" | "self")
        && content
            .split("::")
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'));
    is_path.then(|| Tok::Path(content.to_owned()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src`: `a/b.rs` and `a/b/mod.rs` are `a::b`, `lib.rs` is the
/// root. Beside a `lib.rs`, `main.rs` is another crate (the binary), `None`; so is `bin/`.
fn module_of(src: &Path, file: &Path, has_lib: bool) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    match last.as_str() {
        "lib.rs" if parts.is_empty() => Some(parts),
        "main.rs" if parts.is_empty() => (!has_lib).then_some(parts),
        "mod.rs" => Some(parts),
        other => {
            parts.push(other.strip_suffix(".rs")?.to_owned());
            Some(parts)
        }
    }
}
