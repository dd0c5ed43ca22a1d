//! Reading the deployment files for the checks: `.env.example` assignments, an indentation
//! scan of compose.yaml, Dockerfile instructions, the workspace's Cargo manifests and nginx's
//! upstream servers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// ---- reading files ---------------------------------------------------------------------------

/// The workspace root: the parent of delegate-core.
pub(super) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("delegate-core is a directory of the workspace")
        .to_path_buf()
}

/// A file of the workspace, by its path from the root.
pub(super) fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Whether `name` looks like an environment variable (`NODE_ENV`, `DELEGATE_AUTH__X`).
pub(super) fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `s` trimmed and without one pair of surrounding quotes.
pub(super) fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(s)
}

/// The program of an entrypoint: the first element of `["prog", …]`, or the first word.
pub(super) fn first_program(value: &str) -> String {
    let value = value.trim();
    let first = match value.strip_prefix('[') {
        Some(list) => list
            .trim_end_matches(']')
            .split(',')
            .next()
            .unwrap_or_default(),
        None => value.split_whitespace().next().unwrap_or_default(),
    };
    unquote(first).to_owned()
}

// ---- .env.example ----------------------------------------------------------------------------

/// A variable assigned in an env file; `commented` for a commented-out example
/// (`# NAME=value`), which must name a real variable too.
#[derive(Debug)]
pub(super) struct Assignment {
    pub(super) line: usize,
    pub(super) name: String,
    pub(super) commented: bool,
}

/// Every `NAME=value` line of an env file, and every `# NAME=value` example.
pub(super) fn env_file_assignments(text: &str) -> Vec<Assignment> {
    let mut found = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let number = index + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((name, _)) = comment.trim_start().split_once('=')
                && is_env_name(name)
            {
                found.push(Assignment {
                    line: number,
                    name: name.to_owned(),
                    commented: true,
                });
            }
            continue;
        }
        let (name, _) = line.split_once('=').unwrap_or_else(|| {
            panic!(".env.example line {number}: `{line}` is neither a comment nor NAME=value")
        });
        assert!(
            is_env_name(name),
            ".env.example line {number}: `{name}` is not a variable name (write NAME=value, \
             without spaces or `export`)"
        );
        found.push(Assignment {
            line: number,
            name: name.to_owned(),
            commented: false,
        });
    }
    found
}

// ---- compose.yaml (an indentation scan of the block style the file uses) ---------------------

/// A meaningful line of a YAML file and the keys of the mappings around it, outermost first.
#[derive(Debug)]
pub(super) struct YamlLine {
    pub(super) number: usize,
    pub(super) path: Vec<String>,
    pub(super) text: String,
}

impl YamlLine {
    /// The key this line starts (`key:` or `key: value`), unless it is a list item.
    pub(super) fn key(&self) -> Option<&str> {
        if self.item().is_some() {
            return None;
        }
        let end = self
            .text
            .find(": ")
            .or_else(|| self.text.strip_suffix(':').map(str::len))?;
        Some(unquote(&self.text[..end]))
    }

    /// The inline value after `key: `, without a trailing comment.
    pub(super) fn value(&self) -> &str {
        self.text.split_once(": ").map_or("", |(_, value)| {
            value.find(" #").map_or(value, |at| &value[..at]).trim()
        })
    }

    /// The content of a list item (`- content`).
    pub(super) fn item(&self) -> Option<&str> {
        if self.text == "-" {
            return Some("");
        }
        self.text.strip_prefix("- ").map(str::trim)
    }

    /// The compose service this line belongs to.
    fn service(&self) -> Option<&str> {
        match self.path.as_slice() {
            [top, service, ..] if top == "services" => Some(service.as_str()),
            _ => None,
        }
    }

    /// Where the line is, for messages: the service, or the top-level key (an `x-` block
    /// merged into services).
    pub(super) fn owner(&self) -> String {
        match (self.service(), self.path.first()) {
            (Some(service), _) => format!("service `{service}`"),
            (None, Some(top)) => format!("`{top}`"),
            (None, None) => "the top level".to_owned(),
        }
    }
}

/// The lines of a block-style YAML file with their mapping paths. A list item may sit at its
/// key's indentation (`ports:` then `- "80:80"` below it) or deeper.
pub(super) fn yaml_lines(text: &str) -> Vec<YamlLine> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let content = raw.trim_end();
        let text = content.trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let indent = content.len() - text.len();
        let is_item = text == "-" || text.starts_with("- ");
        while stack
            .last()
            .is_some_and(|(at, _)| if is_item { *at > indent } else { *at >= indent })
        {
            stack.pop();
        }
        let line = YamlLine {
            number: index + 1,
            path: stack.iter().map(|(_, key)| key.clone()).collect(),
            text: text.to_owned(),
        };
        if let Some(key) = line.key() {
            stack.push((indent, key.to_owned()));
        }
        lines.push(line);
    }
    lines
}

/// A variable set in an `environment:` block of compose.yaml.
#[derive(Debug)]
pub(super) struct EnvEntry {
    pub(super) line: usize,
    pub(super) owner: String,
    pub(super) service: Option<String>,
    pub(super) name: String,
    pub(super) value: String,
}

/// Every variable of every `environment:` block (mapping or `- NAME=value` list).
pub(super) fn compose_environment(lines: &[YamlLine]) -> Vec<EnvEntry> {
    let mut entries = Vec::new();
    for line in lines {
        if line.key() == Some("environment") {
            let inline = line.value();
            assert!(
                inline.is_empty() || inline.starts_with('&'),
                "compose.yaml line {}: write `environment` of {} as a block, one variable a \
                 line, so this test can read it",
                line.number,
                line.owner()
            );
        }
        if line.path.last().map(String::as_str) != Some("environment") {
            continue;
        }
        let (name, value) = match (line.item(), line.key()) {
            (Some(item), _) => {
                let item = unquote(item);
                item.split_once('=').unwrap_or((item, ""))
            }
            (None, Some(key)) => (key, line.value()),
            (None, None) => panic!(
                "compose.yaml line {}: `{}` in the environment of {} is not a variable",
                line.number,
                line.text,
                line.owner()
            ),
        };
        entries.push(EnvEntry {
            line: line.number,
            owner: line.owner(),
            service: line.service().map(str::to_owned),
            name: name.to_owned(),
            value: unquote(value).to_owned(),
        });
    }
    entries
}

/// The names of the compose services.
pub(super) fn compose_services(lines: &[YamlLine]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| line.path == ["services"])
        .filter_map(|line| line.key().map(str::to_owned))
        .collect()
}

// ---- Dockerfile ------------------------------------------------------------------------------

/// One Dockerfile instruction: its keyword (upper case) and arguments, continuation lines
/// joined and comment lines dropped.
#[derive(Debug)]
pub(super) struct Instruction {
    pub(super) keyword: String,
    pub(super) args: String,
}

pub(super) fn dockerfile_instructions(text: &str) -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let (keyword, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((current.as_str(), ""));
        instructions.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        });
        current.clear();
    }
    instructions
}

/// The instructions of the last stage (the image that runs).
pub(super) fn runtime_stage(instructions: &[Instruction]) -> &[Instruction] {
    let start = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("Dockerfile: no FROM");
    &instructions[start..]
}

/// The arguments of every `keyword` instruction, split into words without quotes or `;`.
pub(super) fn words_of<'a>(instructions: &'a [Instruction], keyword: &str) -> Vec<&'a str> {
    instructions
        .iter()
        .filter(|i| i.keyword == keyword)
        .flat_map(|i| i.args.split_whitespace())
        .map(|word| word.trim_matches(|c: char| matches!(c, '"' | '\'' | ';' | ',' | '[' | ']')))
        .collect()
}

/// The binaries a Dockerfile builds or copies: `--bin X` and `target/release/X`.
pub(super) fn dockerfile_binaries(instructions: &[Instruction]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for instruction in instructions {
        let words: Vec<&str> = instruction.args.split_whitespace().collect();
        for (at, word) in words.iter().enumerate() {
            if *word == "--bin" {
                if let Some(name) = words.get(at + 1) {
                    found.insert(unquote(name).to_owned());
                }
            } else if let Some(name) = word.strip_prefix("--bin=") {
                found.insert(unquote(name).to_owned());
            }
        }
        let mut rest = instruction.args.as_str();
        while let Some(at) = rest.find("target/release/") {
            rest = &rest[at + "target/release/".len()..];
            let name: String = rest
                .chars()
                .take_while(|&c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            // `target/release/deps/…` and the like are directories, not binaries.
            if !name.is_empty() && !rest[name.len()..].starts_with('/') {
                found.insert(name);
            }
        }
    }
    found
}

/// The packages a Dockerfile builds (`-p X`, `--package X`).
pub(super) fn dockerfile_packages(instructions: &[Instruction]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for words in instructions
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| i.args.split_whitespace().collect::<Vec<_>>())
    {
        // Only a `cargo` command's `-p` names a package (`mkdir -p` does not).
        let Some(cargo) = words.iter().position(|w| *w == "cargo") else {
            continue;
        };
        for (at, word) in words.iter().enumerate().skip(cargo) {
            if (*word == "-p" || *word == "--package")
                && let Some(name) = words.get(at + 1)
            {
                found.insert(unquote(name).to_owned());
            }
        }
    }
    found
}

// ---- Cargo manifests -------------------------------------------------------------------------

/// What the Docker build needs to know of a workspace member.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) dir: String,
    pub(super) package: String,
    pub(super) bins: Vec<String>,
    /// Target files relative to the member: explicit `path`s and the conventional
    /// `src/lib.rs` / `src/main.rs` when present.
    pub(super) target_paths: Vec<String>,
}

/// The workspace's member directories, from the root Cargo.toml.
pub(super) fn workspace_members() -> Vec<String> {
    let root = read("Cargo.toml");
    let from = root
        .find("members")
        .expect("Cargo.toml: no workspace `members`");
    let list = &root[from..];
    let open = list.find('[').expect("Cargo.toml: `members` is not a list");
    let close = list.find(']').expect("Cargo.toml: `members` is not closed");
    list[open + 1..close]
        .split(',')
        .map(unquote)
        .filter(|member| !member.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A member's package name, `[[bin]]` names and target files.
pub(super) fn member(dir: &str) -> Member {
    let manifest = read(&format!("{dir}/Cargo.toml"));
    let mut section = String::new();
    let mut package = String::new();
    let mut bins = Vec::new();
    let mut target_paths: Vec<String> = Vec::new();
    for raw in manifest.lines() {
        let line = raw.trim();
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), unquote(value).to_owned());
        match (section.as_str(), key) {
            ("package", "name") => package = value,
            ("bin", "name") => bins.push(value),
            ("lib" | "bin" | "bench" | "example" | "test", "path") => target_paths.push(value),
            _ => {}
        }
    }
    for conventional in ["src/lib.rs", "src/main.rs"] {
        let on_disk = workspace_root().join(dir).join(conventional).is_file();
        if on_disk && !target_paths.iter().any(|p| p == conventional) {
            target_paths.push(conventional.to_owned());
        }
    }
    assert!(!package.is_empty(), "{dir}/Cargo.toml: no [package] name");
    Member {
        dir: dir.to_owned(),
        package,
        bins,
        target_paths,
    }
}

// ---- deploy/nginx.conf -----------------------------------------------------------------------

/// The `server host:port` lines of the nginx upstreams: (line, host, port).
pub(super) fn nginx_upstream_servers(text: &str) -> Vec<(usize, String, String)> {
    let mut servers = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        let Some(rest) = line.strip_prefix("server ") else {
            continue;
        };
        let address = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches(';');
        if address.starts_with('{') {
            continue; // a `server { … }` block, not an upstream server
        }
        let (host, port) = address.rsplit_once(':').unwrap_or_else(|| {
            panic!(
                "deploy/nginx.conf line {}: upstream server `{address}` names no port",
                index + 1
            )
        });
        servers.push((index + 1, host.to_owned(), port.to_owned()));
    }
    servers
}
