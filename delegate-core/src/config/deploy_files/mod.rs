//! Checks the deployment files (Dockerfile, compose.yaml, .env.example, deploy/nginx.conf)
//! against the code: the variables they set are ones the config loader reads, the binaries
//! the image ships are the workspace's, and the port, user and health check agree.

mod parse;

use crate::Config;
use parse::*;
use std::collections::BTreeSet;

/// The compose service that balances load over the instances: the only one with a host port.
const LOAD_BALANCER_SERVICE: &str = "lb";

/// Settings of third-party images, by the compose service that runs the image. They
/// configure that image, not Delegate, so they are checked against this list instead of the
/// config loader.
const IMAGE_SETTINGS: &[(&str, &[&str])] = &[(
    "postgres",
    &["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"],
)];

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
