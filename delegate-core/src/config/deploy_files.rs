//! Checks the deployment files (Dockerfile, compose.yaml, .env.example, deploy/nginx.conf)
//! against the code: the variables they set are ones the config loader reads, the binaries
//! the image ships are the workspace's, and the port, user and health check agree.

use crate::Config;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The compose service that balances load over the instances: the only one with a host port.
const LOAD_BALANCER_SERVICE: &str = "lb";

/// Settings of third-party images, by the compose service that runs the image. They
/// configure that image, not Delegate, so they are checked against this list instead of the
/// config loader.
const IMAGE_SETTINGS: &[(&str, &[&str])] = &[(
    "postgres",
    &["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"],
)];

// ---- reading files ---------------------------------------------------------------------------

/// The workspace root: the parent of delegate-core.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("delegate-core is a directory of the workspace")
        .to_path_buf()
}

/// A file of the workspace, by its path from the root.
fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Whether `name` looks like an environment variable (`NODE_ENV`, `DELEGATE_AUTH__X`).
fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `s` trimmed and without one pair of surrounding quotes.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(s)
}

/// The program of an entrypoint: the first element of `["prog", …]`, or the first word.
fn first_program(value: &str) -> String {
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
struct Assignment {
    line: usize,
    name: String,
    commented: bool,
}

/// Every `NAME=value` line of an env file, and every `# NAME=value` example.
fn env_file_assignments(text: &str) -> Vec<Assignment> {
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
struct YamlLine {
    number: usize,
    path: Vec<String>,
    text: String,
}

impl YamlLine {
    /// The key this line starts (`key:` or `key: value`), unless it is a list item.
    fn key(&self) -> Option<&str> {
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
    fn value(&self) -> &str {
        self.text.split_once(": ").map_or("", |(_, value)| {
            value.find(" #").map_or(value, |at| &value[..at]).trim()
        })
    }

    /// The content of a list item (`- content`).
    fn item(&self) -> Option<&str> {
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
    fn owner(&self) -> String {
        match (self.service(), self.path.first()) {
            (Some(service), _) => format!("service `{service}`"),
            (None, Some(top)) => format!("`{top}`"),
            (None, None) => "the top level".to_owned(),
        }
    }
}

/// The lines of a block-style YAML file with their mapping paths. A list item may sit at its
/// key's indentation (`ports:` then `- "80:80"` below it) or deeper.
fn yaml_lines(text: &str) -> Vec<YamlLine> {
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
struct EnvEntry {
    line: usize,
    owner: String,
    service: Option<String>,
    name: String,
    value: String,
}

/// Every variable of every `environment:` block (mapping or `- NAME=value` list).
fn compose_environment(lines: &[YamlLine]) -> Vec<EnvEntry> {
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
fn compose_services(lines: &[YamlLine]) -> BTreeSet<String> {
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
struct Instruction {
    keyword: String,
    args: String,
}

fn dockerfile_instructions(text: &str) -> Vec<Instruction> {
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
fn runtime_stage(instructions: &[Instruction]) -> &[Instruction] {
    let start = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("Dockerfile: no FROM");
    &instructions[start..]
}

/// The arguments of every `keyword` instruction, split into words without quotes or `;`.
fn words_of<'a>(instructions: &'a [Instruction], keyword: &str) -> Vec<&'a str> {
    instructions
        .iter()
        .filter(|i| i.keyword == keyword)
        .flat_map(|i| i.args.split_whitespace())
        .map(|word| word.trim_matches(|c: char| matches!(c, '"' | '\'' | ';' | ',' | '[' | ']')))
        .collect()
}

/// The binaries a Dockerfile builds or copies: `--bin X` and `target/release/X`.
fn dockerfile_binaries(instructions: &[Instruction]) -> BTreeSet<String> {
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
fn dockerfile_packages(instructions: &[Instruction]) -> BTreeSet<String> {
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
struct Member {
    dir: String,
    package: String,
    bins: Vec<String>,
    /// Target files relative to the member: explicit `path`s and the conventional
    /// `src/lib.rs` / `src/main.rs` when present.
    target_paths: Vec<String>,
}

/// The workspace's member directories, from the root Cargo.toml.
fn workspace_members() -> Vec<String> {
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
fn member(dir: &str) -> Member {
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
fn nginx_upstream_servers(text: &str) -> Vec<(usize, String, String)> {
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

// ---- the checks ------------------------------------------------------------------------------

#[test]
fn every_variable_in_env_example_is_read_by_the_config() {
    let assignments = env_file_assignments(&read(".env.example"));
    for required in ["NODE_ENV", "JWT_SECRET", "JWT_REFRESH_SECRET"] {
        assert!(
            assignments
                .iter()
                .any(|a| a.name == required && !a.commented),
            ".env.example does not set {required}, which a production deployment needs"
        );
    }
    for assignment in &assignments {
        let kind = if assignment.commented {
            "the commented-out example "
        } else {
            ""
        };
        assert!(
            Config::reads_env(&assignment.name),
            ".env.example line {}: {kind}`{}` is not read by the config loader (misspelt, or \
             not a setting of Delegate)",
            assignment.line,
            assignment.name
        );
    }
}

#[test]
fn every_variable_compose_sets_is_read_by_the_config() {
    let entries = compose_environment(&yaml_lines(&read("compose.yaml")));
    assert!(
        entries.iter().any(|e| e.name == "DATABASE_URL"),
        "compose.yaml: found no DATABASE_URL in any environment block (is the scan broken?)"
    );
    for entry in &entries {
        let image_settings = IMAGE_SETTINGS
            .iter()
            .find(|(service, _)| entry.service.as_deref() == Some(*service))
            .map(|(_, names)| *names);
        match image_settings {
            Some(names) => assert!(
                names.contains(&entry.name.as_str()),
                "compose.yaml line {}: `{}` in the environment of {} is not one of that image's \
                 settings we expect ({names:?})",
                entry.line,
                entry.name,
                entry.owner
            ),
            None => assert!(
                Config::reads_env(&entry.name),
                "compose.yaml line {}: `{}` in the environment of {} is not read by the config \
                 loader (misspelt, or not a setting of Delegate)",
                entry.line,
                entry.name,
                entry.owner
            ),
        }
    }
}

#[test]
fn every_variable_the_dockerfile_sets_is_read_by_the_config() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    for env in instructions.iter().filter(|i| i.keyword == "ENV") {
        let names: Vec<&str> = if env.args.contains('=') {
            env.args
                .split_whitespace()
                .filter_map(|word| word.split_once('=').map(|(name, _)| name))
                .collect()
        } else {
            env.args.split_whitespace().take(1).collect()
        };
        for name in names {
            assert!(
                Config::reads_env(name),
                "Dockerfile: `ENV {name}` is not read by the config loader"
            );
        }
    }
}

#[test]
fn every_binary_the_image_builds_or_runs_is_a_workspace_binary() {
    let members: Vec<Member> = workspace_members()
        .iter()
        .map(String::as_str)
        .map(member)
        .collect();
    let declared: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.bins.iter().map(String::as_str))
        .collect();
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let shipped = dockerfile_binaries(&instructions);
    assert!(
        !shipped.is_empty(),
        "Dockerfile: names no binary (`--bin X` or `target/release/X`)"
    );
    for bin in &shipped {
        assert!(
            declared.contains(bin.as_str()),
            "Dockerfile: the binary `{bin}` is no [[bin]] of a workspace member (they declare \
             {declared:?})"
        );
    }
    for package in dockerfile_packages(&instructions) {
        let built = members
            .iter()
            .find(|m| m.package == package)
            .unwrap_or_else(|| {
                panic!("Dockerfile: builds package `{package}`, which is not a workspace member")
            });
        for bin in &built.bins {
            assert!(
                shipped.contains(bin),
                "Dockerfile: builds {package} ({}/Cargo.toml) but does not copy its binary \
                 `{bin}` (target/release/{bin}) into the image",
                built.dir
            );
        }
    }
    let entrypoint = runtime_stage(&instructions)
        .iter()
        .rfind(|i| i.keyword == "ENTRYPOINT")
        .map(|i| first_program(&i.args))
        .expect("Dockerfile: the runtime stage has no ENTRYPOINT");
    assert!(
        shipped.contains(&entrypoint),
        "Dockerfile: ENTRYPOINT runs `{entrypoint}`, which the image does not ship ({shipped:?})"
    );
    for line in yaml_lines(&read("compose.yaml")) {
        if line.key() == Some("entrypoint") {
            let program = first_program(line.value());
            assert!(
                shipped.contains(&program),
                "compose.yaml line {}: the entrypoint of {} runs `{program}`, which the image \
                 does not ship ({shipped:?})",
                line.number,
                line.owner()
            );
        }
    }
}

#[test]
fn the_dockerfile_copies_every_workspace_manifest_and_stubs_every_target() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let copied: BTreeSet<&str> = words_of(&instructions, "COPY").into_iter().collect();
    let run: BTreeSet<&str> = words_of(&instructions, "RUN").into_iter().collect();
    for dir in workspace_members() {
        let manifest = format!("{dir}/Cargo.toml");
        assert!(
            copied.contains(manifest.as_str()),
            "Dockerfile: does not copy {manifest}; Cargo needs every workspace member's \
             manifest for the dependency build"
        );
        for target in member(&dir).target_paths {
            let path = format!("{dir}/{target}");
            assert!(
                run.contains(path.as_str()),
                "Dockerfile: no stand-in for {path} (a target of {manifest}); the dependency \
                 build fails without it"
            );
        }
    }
}

#[test]
fn the_image_checks_its_health_on_the_health_route() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let port = Config::default().server.port.to_string();
    let check = runtime_stage(&instructions)
        .iter()
        .rfind(|i| i.keyword == "HEALTHCHECK")
        .expect("Dockerfile: the runtime stage has no HEALTHCHECK");
    assert!(
        !check.args.eq_ignore_ascii_case("NONE") && check.args.contains("/health"),
        "Dockerfile: HEALTHCHECK does not call /health: {}",
        check.args
    );
    assert!(
        check.args.contains(&port),
        "Dockerfile: HEALTHCHECK does not use the default port {port}: {}",
        check.args
    );
}

#[test]
fn the_image_runs_as_a_non_root_user() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let user = runtime_stage(&instructions)
        .iter()
        .rfind(|i| i.keyword == "USER")
        .map(|i| {
            i.args
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .expect("Dockerfile: the runtime stage has no USER, so it runs as root");
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "Dockerfile: the runtime stage runs as `{user}`, which is root"
    );
}

#[test]
fn the_image_exposes_the_default_port() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let port = Config::default().server.port.to_string();
    let exposed: Vec<&str> = words_of(runtime_stage(&instructions), "EXPOSE")
        .into_iter()
        .map(|p| p.trim_end_matches("/tcp"))
        .collect();
    assert_eq!(
        exposed,
        [port.as_str()],
        "Dockerfile: EXPOSE should be the server's default port {port}"
    );
    for env in words_of(runtime_stage(&instructions), "ENV") {
        if let Some(value) = env.strip_prefix("PORT=") {
            assert_eq!(
                value, port,
                "Dockerfile: ENV PORT={value}, but EXPOSE and the health check use {port}"
            );
        }
    }
}

#[test]
fn compose_publishes_one_host_port_on_the_load_balancer_only() {
    let lines = yaml_lines(&read("compose.yaml"));
    let mut published: Vec<(usize, String, String)> = Vec::new();
    for line in &lines {
        if line.key() == Some("network_mode") {
            assert!(
                !line.value().contains("host"),
                "compose.yaml line {}: {} uses the host's network, publishing every port it \
                 opens",
                line.number,
                line.owner()
            );
        }
        if line.key() == Some("ports") {
            let inline = line.value();
            let flow = inline.trim_start_matches('[').trim_end_matches(']');
            for entry in flow.split(',').map(unquote).filter(|e| !e.is_empty()) {
                published.push((line.number, line.owner(), entry.to_owned()));
            }
        }
        if line.path.last().map(String::as_str) == Some("ports")
            && let Some(item) = line.item()
        {
            published.push((line.number, line.owner(), unquote(item).to_owned()));
        }
    }
    let expected_owner = format!("service `{LOAD_BALANCER_SERVICE}`");
    assert_eq!(
        published.len(),
        1,
        "compose.yaml should publish exactly one host port, on the load balancer \
         `{LOAD_BALANCER_SERVICE}`; it publishes {published:?}"
    );
    let (line, owner, entry) = &published[0];
    assert_eq!(
        owner, &expected_owner,
        "compose.yaml line {line}: `{entry}` is published by {owner}; only the load balancer \
         `{LOAD_BALANCER_SERVICE}` may publish a port"
    );
}

#[test]
fn the_load_balancer_reaches_every_instance_on_the_port_compose_gives_it() {
    let port = Config::default().server.port.to_string();
    let lines = yaml_lines(&read("compose.yaml"));
    let services = compose_services(&lines);
    for entry in compose_environment(&lines)
        .iter()
        .filter(|e| e.name == "PORT")
    {
        assert_eq!(
            entry.value, port,
            "compose.yaml line {}: PORT of {} is {}, but the image exposes and checks {port}",
            entry.line, entry.owner, entry.value
        );
    }
    let upstream = nginx_upstream_servers(&read("deploy/nginx.conf"));
    assert!(
        !upstream.is_empty(),
        "deploy/nginx.conf: no upstream `server host:port` lines"
    );
    for (line, host, server_port) in &upstream {
        assert!(
            services.contains(host),
            "deploy/nginx.conf line {line}: upstream `{host}` is not a compose service \
             ({services:?})"
        );
        assert_eq!(
            server_port, &port,
            "deploy/nginx.conf line {line}: `{host}:{server_port}` is not the instances' port"
        );
    }
    for instance in services.iter().filter(|s| s.starts_with("delegate-")) {
        assert!(
            upstream.iter().any(|(_, host, _)| host == instance),
            "deploy/nginx.conf: the compose instance `{instance}` is in no upstream, so it \
             gets no traffic"
        );
    }
}
