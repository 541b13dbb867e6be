//! The deployment files (Dockerfile, deploy/compose.yaml, deploy/Caddyfile, deploy/kubernetes/,
//! deploy/flowdeck.service, .env.example) cannot drift from the binary: every variable they give
//! flowdeck is one it reads, every probe path answers, every port is the one flowdeck listens on,
//! every command they run parses. Plain line scanning (no YAML library): the files are ours and
//! kept in a simple shape.

mod common;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use clap::Parser;
use common::TestApp;
use reqwest::StatusCode;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn kubernetes_files() -> Vec<(String, String)> {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The keys of every block under a line whose trimmed text starts with `header` (YAML maps:
/// `KEY: value` lines indented deeper than the header, up to the first line that is not).
fn keys_under(text: &str, header: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with(header) {
            continue;
        }
        let depth = indent(line);
        for l in &lines[i + 1..] {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            if indent(l) <= depth {
                break;
            }
            if let Some((k, v)) = l.trim().split_once(": ") {
                out.push((k.to_string(), v.trim_matches('"').to_string()));
            }
        }
    }
    out
}

/// `- name: X` / `value: Y` pairs of Kubernetes `env:` lists (a `valueFrom` gives "").
fn kubernetes_env(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(name) = l.strip_prefix("- name: ") else {
            continue;
        };
        if !(name.starts_with("FLOWDECK_") || name == "DATABASE_URL") {
            continue;
        }
        let value = lines
            .get(i + 1)
            .and_then(|n| n.strip_prefix("value: "))
            .unwrap_or("")
            .trim_matches('"')
            .to_string();
        out.push((name.to_string(), value));
    }
    out
}

fn port_of(listen: &str) -> u16 {
    listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("{listen:?} is not an address with a port"))
}

/// Every variable flowdeck is given by each deployment file: (file, variable, value).
fn given_variables() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    // `ENV A=1 \` and its continuation lines `B=2 \`.
    let mut in_env = false;
    for line in read("Dockerfile").lines() {
        let l = line.trim();
        if !(l.starts_with("ENV ") || in_env) {
            continue;
        }
        in_env = l.ends_with('\\');
        let l = l.trim_start_matches("ENV ").trim_end_matches('\\');
        for part in l.split_whitespace() {
            if let Some((k, v)) = part.split_once('=')
                && (k.starts_with("FLOWDECK_") || k == "DATABASE_URL")
            {
                out.push(("Dockerfile".into(), k.into(), v.into()));
            }
        }
    }
    for (k, v) in keys_under(&read("deploy/compose.yaml"), "environment:") {
        if k.starts_with("FLOWDECK_") || k == "DATABASE_URL" {
            out.push(("deploy/compose.yaml".into(), k, v));
        }
    }
    for (file, text) in kubernetes_files() {
        for (k, v) in kubernetes_env(&text) {
            out.push((format!("deploy/kubernetes/{file}"), k, v));
        }
    }
    for line in read("deploy/flowdeck.service").lines() {
        if let Some(kv) = line.strip_prefix("Environment=") {
            let (k, v) = kv.split_once('=').unwrap();
            out.push(("deploy/flowdeck.service".into(), k.into(), v.into()));
        }
    }
    for line in read(".env.example").lines() {
        let l = line.trim_start_matches('#').trim();
        if let Some((k, v)) = l.split_once('=')
            && !k.contains(' ')
            && (k.starts_with("FLOWDECK_") || k == "DATABASE_URL" || k == "RUST_LOG")
        {
            out.push((".env.example".into(), k.into(), v.into()));
        }
    }
    out
}

#[test]
fn every_variable_the_deployment_files_set_is_one_flowdeck_reads() {
    let known = flowdeck::cli::variables();
    // Read by the test suite, not the binary; .env.example documents it for developers.
    let test_only = ["FLOWDECK_TEST_DATABASE_URL"];
    let given = given_variables();
    assert!(
        given.len() > 40,
        "the scan found the files' variables ({} found)",
        given.len()
    );
    let unknown: Vec<String> = given
        .iter()
        .filter(|(_, k, _)| !known.contains(k) && !test_only.contains(&k.as_str()))
        .map(|(f, k, _)| format!("{f}: {k}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "variables flowdeck does not read: {unknown:?}"
    );
    // And the other way round: .env.example explains every variable flowdeck reads.
    let documented: BTreeSet<&str> = given
        .iter()
        .filter(|(f, ..)| f == ".env.example")
        .map(|(_, k, _)| k.as_str())
        .collect();
    let client_only = ["FLOWDECK_URL", "FLOWDECK_TOKEN"];
    let undocumented: Vec<&String> = known
        .iter()
        .filter(|k| !documented.contains(k.as_str()) && !client_only.contains(&k.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        ".env.example does not explain {undocumented:?}"
    );
}

#[test]
fn every_value_the_deployment_files_set_is_accepted_by_flowdeck_serve() {
    // Each file's settings, as a `flowdeck serve` command line would carry them, must parse and
    // validate (a typo'd number or address would stop the container at start).
    let mut by_file: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for (f, k, v) in given_variables() {
        if f == ".env.example" || v.is_empty() || v.contains("${") {
            continue;
        }
        by_file.entry(f).or_default().push((k, v));
    }
    let cmd = <flowdeck::cli::Cli as clap::CommandFactory>::command();
    let serve = cmd.find_subcommand("serve").unwrap();
    for (file, vars) in by_file {
        let mut argv = vec!["flowdeck".to_string(), "serve".to_string()];
        for (k, v) in &vars {
            let arg = serve
                .get_arguments()
                .chain(cmd.get_arguments())
                .find(|a| a.get_env().is_some_and(|e| e == k.as_str()));
            match arg.and_then(|a| Some((a.get_long()?, a.get_action().takes_values()))) {
                Some((flag, true)) => argv.push(format!("--{flag}={v}")),
                // A switch (`FLOWDECK_TRUST_PROXY=true`): present when true.
                Some((flag, false)) => {
                    assert!(["true", "false"].contains(&v.as_str()), "{file}: {k}={v}");
                    if v == "true" {
                        argv.push(format!("--{flag}"));
                    }
                }
                None => assert!(
                    k == "FLOWDECK_PG_USER" || k == "FLOWDECK_PG_BIN",
                    "{file}: {k} is no serve option"
                ),
            }
        }
        let cli = flowdeck::cli::Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{file}: {argv:?}: {e}"));
        let Some(flowdeck::cli::Command::Serve(opts)) = cli.command else {
            panic!("{file}: not a serve command");
        };
        flowdeck::config::Config::from_opts(&opts)
            .unwrap_or_else(|e| panic!("{file}: flowdeck would refuse to start: {e:#}"));
    }
}

#[test]
fn every_command_the_deployment_files_run_is_a_flowdeck_command() {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    let list = |s: &str| -> Vec<String> {
        s.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|w| w.trim().trim_matches('"').to_string())
            .filter(|w| !w.is_empty())
            .collect()
    };
    // A command as the files write it: `["serve"]` after the entrypoint, or
    // `["CMD", "flowdeck", "healthcheck"]` / `["flowdeck", "healthcheck"]` in full.
    let flowdeck_args = |argv: Vec<String>| -> Option<Vec<String>> {
        let argv: Vec<String> = argv.into_iter().skip_while(|w| w == "CMD").collect();
        match argv.first().map(String::as_str) {
            Some("flowdeck") => Some(argv[1..].to_vec()),
            Some(w) if w.contains(' ') || w.contains('-') => None, // another program
            Some(_) => Some(argv),
            None => None,
        }
    };
    for line in read("Dockerfile").lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("CMD ")
            && let Some(argv) = flowdeck_args(list(rest))
        {
            commands.push(("Dockerfile".into(), argv));
        }
        if let Some(rest) = l.strip_prefix("ENTRYPOINT ") {
            assert_eq!(list(rest), ["flowdeck"], "the entrypoint is the binary");
        }
    }
    for (i, line) in read("deploy/compose.yaml").lines().enumerate() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("command: ") {
            commands.push((format!("compose.yaml:{}", i + 1), list(rest)));
        }
        if let Some(rest) = l.strip_prefix("test: ")
            && let Some(argv) = flowdeck_args(list(rest))
        {
            commands.push((format!("compose.yaml:{}", i + 1), argv));
        }
    }
    for (file, text) in kubernetes_files() {
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("args: ") {
                commands.push((file.clone(), list(rest)));
            }
        }
    }
    for line in read("deploy/flowdeck.service").lines() {
        if let Some(rest) = line.strip_prefix("ExecStart=/usr/local/bin/flowdeck ") {
            commands.push(("flowdeck.service".into(), list(rest)));
        }
    }
    let subcommands: BTreeSet<&str> = commands.iter().map(|(_, argv)| argv[0].as_str()).collect();
    for needed in ["serve", "migrate", "healthcheck"] {
        assert!(
            subcommands.contains(needed),
            "the files run `flowdeck {needed}` somewhere ({subcommands:?})"
        );
    }
    for (place, argv) in &commands {
        let mut full = vec!["flowdeck".to_string()];
        full.extend(argv.iter().cloned());
        if let Err(e) = flowdeck::cli::Cli::try_parse_from(&full) {
            panic!("{place}: `{}` does not parse: {e}", full.join(" "));
        }
    }
}

#[test]
fn ports_match_the_addresses_flowdeck_listens_on() {
    let vars = given_variables();
    let value = |file: &str, k: &str| -> String {
        vars.iter()
            .find(|(f, key, _)| f == file && key == k)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("{file} sets {k}"))
    };
    // The image: EXPOSE is the port FLOWDECK_LISTEN binds.
    let docker = read("Dockerfile");
    let expose: u16 = docker
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(expose, port_of(&value("Dockerfile", "FLOWDECK_LISTEN")));

    // Compose: Caddy's upstreams are the replicas' services on their FLOWDECK_LISTEN port.
    let compose = read("deploy/compose.yaml");
    let listen = port_of(&value("deploy/compose.yaml", "FLOWDECK_LISTEN"));
    let caddy = read("deploy/Caddyfile");
    let upstreams: Vec<&str> = caddy
        .lines()
        .find_map(|l| l.trim().strip_prefix("reverse_proxy "))
        .unwrap()
        .trim_end_matches('{')
        .split_whitespace()
        .collect();
    assert_eq!(upstreams.len(), 2, "two replicas behind the proxy");
    for u in upstreams {
        let (host, port) = u.split_once(':').unwrap();
        assert_eq!(port.parse::<u16>().unwrap(), listen, "{u}");
        assert!(
            compose.contains(&format!("\n  {host}:\n")),
            "{host} is a service in compose.yaml"
        );
    }

    // Kubernetes: named container ports are the listen addresses; the Service, the scrape
    // annotation and the probes use them.
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let ports = keys_under(&deployment, "ports:");
    let port_named = |name: &str| -> u16 {
        let i = ports
            .iter()
            .position(|(k, v)| k == "- name" && v == name)
            .unwrap_or_else(|| panic!("a container port named {name}"));
        ports[i + 1].1.parse().unwrap()
    };
    let file = "deploy/kubernetes/deployment.yaml";
    assert_eq!(port_named("http"), port_of(&value(file, "FLOWDECK_LISTEN")));
    assert_eq!(
        port_named("metrics"),
        port_of(&value(file, "FLOWDECK_METRICS_LISTEN"))
    );
    let scrape_port: u16 = deployment
        .lines()
        .find_map(|l| l.trim().strip_prefix("prometheus.io/port: "))
        .unwrap()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert_eq!(scrape_port, port_named("metrics"));
    let service = read("deploy/kubernetes/service.yaml");
    for target in service
        .lines()
        .filter_map(|l| l.trim().strip_prefix("targetPort: "))
    {
        assert!(
            ["http", "metrics"].contains(&target),
            "the Service targets a named container port, not {target}"
        );
    }
}

#[test]
fn kustomization_lists_every_manifest_and_nothing_missing() {
    let k = read("deploy/kubernetes/kustomization.yaml");
    let listed: BTreeSet<String> = k
        .lines()
        .skip_while(|l| !l.starts_with("resources:"))
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").to_string())
        .collect();
    let present: BTreeSet<String> = kubernetes_files()
        .into_iter()
        .map(|(f, _)| f)
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
    for kind in [
        "Deployment",
        "Service",
        "Ingress",
        "PodDisruptionBudget",
        "Job",
        "Secret",
    ] {
        assert!(
            kubernetes_files()
                .iter()
                .any(|(_, t)| t.contains(&format!("\nkind: {kind}\n"))),
            "a {kind}"
        );
    }
    let deployment = read("deploy/kubernetes/deployment.yaml");
    assert!(deployment.contains("replicas: 2"));
    for probe in ["startupProbe:", "livenessProbe:", "readinessProbe:"] {
        assert!(deployment.contains(probe), "{probe}");
    }
}

/// Probe paths used by the files, each with the file that uses it.
fn probe_paths() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, text) in kubernetes_files() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.trim() == "httpGet:" {
                let path = lines[i + 1].trim().strip_prefix("path: ").unwrap();
                out.push((file.clone(), path.to_string()));
            }
            if let Some(p) = l.trim().strip_prefix("prometheus.io/path: ") {
                out.push((file.clone(), p.to_string()));
            }
        }
    }
    for l in read("deploy/Caddyfile").lines() {
        if let Some(p) = l.trim().strip_prefix("health_uri ") {
            out.push(("Caddyfile".into(), p.to_string()));
        }
    }
    out
}

#[tokio::test]
async fn every_probe_path_answers_200_on_a_running_flowdeck() {
    let paths = probe_paths();
    let used: BTreeSet<&str> = paths.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        used,
        BTreeSet::from(["/healthz", "/readyz", "/metrics"]),
        "{paths:?}"
    );
    let app = TestApp::spawn().await;
    let c = app.client();
    for (file, path) in &paths {
        let page = c.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{file}: GET {path}");
    }
}

#[tokio::test]
async fn flowdeck_healthcheck_exits_0_against_a_live_server_and_1_against_none() {
    let app = TestApp::spawn().await;
    let run = |listen: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
            .env("FLOWDECK_LISTEN", listen)
            .arg("healthcheck")
            .output()
            .unwrap()
    };
    // As the image runs it: FLOWDECK_LISTEN is 0.0.0.0:<port>, the check goes to 127.0.0.1.
    let ok = tokio::task::spawn_blocking(move || run(format!("0.0.0.0:{}", app.addr.port())))
        .await
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = tokio::task::spawn_blocking(move || run(free.to_string()))
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));
}

#[test]
fn the_image_runs_as_a_non_root_user_with_a_healthcheck_and_labels() {
    let d = read("Dockerfile");
    assert!(
        d.lines().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
    let user = d
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .unwrap();
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "{user}"
    );
    assert!(d.contains("HEALTHCHECK"));
    for label in [
        "org.opencontainers.image.version",
        "org.opencontainers.image.source",
    ] {
        assert!(d.contains(label), "{label}");
    }
    let workflow = read(".github/workflows/image.yml");
    assert!(workflow.contains("platforms: linux/amd64,linux/arm64"));
    for tag in [
        "pattern=v{{version}}",
        "pattern={{major}}.{{minor}}",
        "pattern={{major}}",
        "value=latest",
        "value=main",
        "prefix=sha-",
    ] {
        assert!(workflow.contains(tag), "the workflow tags {tag}");
    }
    assert!(workflow.contains("push: ${{ github.event_name != 'pull_request' }}"));
    assert!(Path::new(&root().join(".dockerignore")).exists());
}

#[test]
fn the_image_build_context_holds_everything_cargo_needs() {
    // The Dockerfile's COPY sources, minus what .dockerignore leaves out, in a folder of their own:
    // cargo must accept the manifest and find every locked dependency there (`cargo fetch
    // --locked --offline` reads every target the manifest declares, as the image's build does).
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let ctx = tempfile::tempdir().unwrap();
    let mut copied = Vec::new();
    for line in read("Dockerfile").lines() {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        if rest.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(
                !ignored.iter().any(|i| i == src),
                "{src} is copied but .dockerignore leaves it out"
            );
            copy_tree(&root().join(src), &ctx.path().join(src));
            copied.push(src.to_string());
        }
    }
    for needed in ["Cargo.toml", "Cargo.lock", "src", "migrations", ".sqlx"] {
        assert!(
            copied.iter().any(|c| c == needed),
            "the image copies {needed}"
        );
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        // This machine's platform: the registry cache holds what it builds with.
        .args(["fetch", "--locked", "--offline", "--target"])
        .arg(format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
        .current_dir(ctx.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo refuses the image's build context: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}
