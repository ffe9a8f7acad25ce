//! The shape of the code, as the README's "How it works" promises it: the modules' imports
//! form no cycle (each stage builds on the ones before it), and no function outside tests is
//! over 80 lines; and the program is linked as README Performance says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its module path (`store::update`, `lib` for the root).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into()).collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            let name = parts.join("::");
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The code of a file without its `#[cfg(test)]` module and comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file refers to through `crate::…` paths (in `use` lists too).
fn imports(name: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code(text);
    let mut out = BTreeSet::new();
    let mut paths: Vec<String> = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
            .unwrap_or(rest.len());
        let path = &rest[..end];
        // `crate::a::{b, c::d}`: each member of the list.
        match path.split_once("::{") {
            Some((base, _)) => {
                let close = rest.find('}').unwrap_or(rest.len());
                let list = &rest[base.len() + 3..close];
                for member in list.split(',') {
                    let member = member.trim().split(" as ").next().unwrap_or("");
                    paths.push(format!("{base}::{member}"));
                }
                paths.push(base.to_string());
            }
            None => paths.push(path.trim_end_matches([':', '{']).to_string()),
        }
    }
    for p in paths {
        let parts: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        // The longest prefix that is a module of its own file.
        let target = (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find(|m| known.contains(m));
        if let Some(t) = target
            && t != name
        {
            out.insert(t);
        }
    }
    out
}

#[test]
fn module_imports_form_no_cycle() {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|(name, text)| (name.clone(), imports(name, text, &known)))
        .collect();
    // Depth-first search for a back edge; the cycle is printed whole.
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(at) = stack.iter().position(|s| s == n) {
            panic!("import cycle: {} → {n}", stack[at..].join(" → "));
        }
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            visit(m, graph, stack, done);
        }
        stack.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new(), &mut done);
    }
    // The check sees imports: the engine uses the stages it ties together.
    assert!(graph["engine"].contains("search") && graph["cli"].contains("engine"));
}

#[test]
fn no_function_over_80_lines_outside_tests() {
    let mut long = Vec::new();
    for (name, text) in modules() {
        let code = code(&text);
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i].trim_start();
            let is_fn = l.starts_with("fn ")
                || l.starts_with("pub fn ")
                || l.starts_with("pub(crate) fn ")
                || l.starts_with("pub(super) fn ")
                || l.starts_with("const fn ")
                || l.starts_with("pub const fn ");
            if !is_fn {
                i += 1;
                continue;
            }
            // The body runs from the first `{` to the brace that balances it.
            let (mut depth, mut opened, mut j) = (0i32, false, i);
            while j < lines.len() {
                for c in lines[j].chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        ';' if !opened && depth == 0 => opened = true,
                        _ => {}
                    }
                }
                if opened && depth <= 0 {
                    break;
                }
                j += 1;
            }
            if j + 1 - i > 80 {
                long.push(format!("{name}: {} ({} lines)", l, j + 1 - i));
            }
            i = j + 1;
        }
    }
    assert!(
        long.is_empty(),
        "functions over 80 lines:\n{}",
        long.join("\n")
    );
}

/// The kinds of an ELF file's program headers (`p_type`), read from its 64-bit header.
fn program_headers(elf: &[u8]) -> Vec<u32> {
    let at = |o: usize, n: usize| -> u64 {
        elf[o..o + n]
            .iter()
            .rev()
            .fold(0, |v, b| (v << 8) | u64::from(*b))
    };
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let (offset, size, count) = (at(0x20, 8) as usize, at(0x36, 2) as usize, at(0x38, 2));
    (0..count as usize)
        .map(|i| at(offset + i * size, 4) as u32)
        .collect()
}

/// On x86_64 Linux (glibc) the program is linked statically and position-dependent
/// (`.cargo/link-static`): no interpreter (the dynamic loader) and no dynamic section.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
fn the_program_is_linked_statically() {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(env!("CARGO_BIN_EXE_zhsearch")).unwrap();
    let kinds = program_headers(&elf);
    assert!(!kinds.is_empty());
    assert!(
        !kinds.contains(&PT_INTERP) && !kinds.contains(&PT_DYNAMIC),
        "program headers {kinds:?}: linked dynamically"
    );
    // Position-dependent: an executable, not a shared object (a static PIE).
    assert_eq!(u16::from_le_bytes([elf[16], elf[17]]), 2, "ET_EXEC");
}
