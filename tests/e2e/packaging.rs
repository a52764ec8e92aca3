//! What the packages and the container image take from the binary: shell completions and man
//! pages made by `zfsync completions` and `zfsync man`, and `zfsync health`, the image's health
//! check, asking the daemon on the address `ZFSYNC_LISTEN` (which the image sets) names.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use zfsync::tools::sandbox::{wait_http_ok, Env, EnvOptions, StoreBackend};

use crate::helpers::{sigterm, zfsync, COMMAND_TIMEOUT};

/// Runs `zfsync <args>` with `vars` set; (success, stdout, stderr).
async fn run(args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = zfsync();
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("zfsync {args:?} did not finish"))
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The subcommands `zfsync --help` lists (the "Commands:" block), `help` aside.
async fn subcommands() -> Vec<String> {
    let (ok, help, _) = run(&["--help"], &[]).await;
    assert!(ok);
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's line; its wrapped description continues further in.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    for expected in [
        "init",
        "run",
        "connect",
        "check",
        "health",
        "completions",
        "man",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}\n{help}"
        );
    }
    names
}

#[tokio::test]
async fn completions_offer_every_subcommand_in_every_shell() {
    let names = subcommands().await;
    for (shell, marker) in [
        ("bash", "complete -F _zfsync"),
        ("zsh", "#compdef zfsync"),
        ("fish", "complete -c zfsync"),
        ("elvish", "edit:completion:arg-completer[zfsync]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (ok, script, err) = run(&["completions", shell], &[]).await;
        assert!(ok, "{shell}: {err}");
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} completion lacks {name}"
            );
        }
    }
    // Options of a subcommand are completed too.
    let (_, bash, _) = run(&["completions", "bash"], &[]).await;
    assert!(bash.contains("--keep-running") && bash.contains("--access-token"));

    // The bash script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zfsync.bash");
    std::fs::write(&file, &bash).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    let (ok, _, err) = run(&["completions", "tcsh"], &[]).await;
    assert!(!ok && err.contains("possible values"), "{err}");
}

/// Formats a man page with groff as `man` would, failing on any warning; None when groff is
/// missing and `ZFSYNC_TEST_SKIP` names it.
fn groff(page: &[u8]) -> Option<String> {
    use std::io::Write as _;
    let spawned = std::process::Command::new("groff")
        // UTF-8 input as man reads it (preconv); plain text out, without overstriking.
        .args(["-Kutf8", "-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        return crate::prerequisites::missing(
            "groff",
            "groff is not installed, so the man pages cannot be rendered: apt-get install \
             groff-base (.ci/run does)",
        );
    };
    child.stdin.take().unwrap().write_all(page).unwrap();
    let out = child.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.is_empty(),
        "groff: {warnings}"
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn man_pages_render_for_every_subcommand() {
    let (ok, page, err) = run(&["man"], &[]).await;
    assert!(ok, "{err}");
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    let Some(text) = groff(page.as_bytes()) else {
        return;
    };
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "SUBCOMMANDS",
        "VERSION",
    ] {
        assert!(
            text.contains(section),
            "zfsync(1) has no {section}:\n{text}"
        );
    }
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("share/man/man1");
    let (ok, said, err) = run(&["man", "--out", out.to_str().unwrap()], &[]).await;
    assert!(ok, "{err}");
    assert!(
        said.contains("zfsync.1") && said.contains(out.to_str().unwrap()),
        "{said}"
    );
    for name in subcommands().await {
        let file = out.join(format!("zfsync-{name}.1"));
        let page = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let text = groff(&page).unwrap_or_default();
        assert!(
            text.contains(&format!("zfsync {name}")),
            "{}:\n{text}",
            file.display()
        );
    }
    // A subcommand's examples keep their lines, as in --help.
    let text =
        groff(&std::fs::read(out.join("zfsync-connect-zalo.1")).unwrap()).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.trim() == "zfsync connect zalo --config zfsync.toml"),
        "{text}"
    );

    // A folder that cannot be made is named.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (ok, _, err) = run(&["man", "--out", file.join("man1").to_str().unwrap()], &[]).await;
    assert!(
        !ok && err.contains("a-file") && err.contains("--out"),
        "{err}"
    );
}

/// A free loopback port, released for the daemon to take.
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn health_asks_the_daemon_where_zfsync_listen_says() {
    let env = Env::new(EnvOptions {
        store: StoreBackend::Sqlite,
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let config = env.config_path().to_str().unwrap().to_string();
    let listen = free_port();
    let vars = [("ZFSYNC_LISTEN", listen.as_str())];
    let mut daemon = zfsync()
        .args(["run", "--config", &config])
        .env("ZFSYNC_LISTEN", &listen)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_http_ok(&format!("http://{listen}/healthz"), Duration::from_secs(20))
        .await
        .unwrap();
    // The configured address is not where the daemon listens.
    assert!(std::net::TcpStream::connect(env.daemon_url().trim_start_matches("http://")).is_err());

    let (ok, said, err) = run(&["health", "--config", &config], &vars).await;
    assert!(ok, "{said}{err}");
    assert_eq!(said.trim(), "ok");
    // Zalo is not connected: not ready, and (with the configured admin token) why.
    let (ok, said, _) = run(&["health", "--ready", "--config", &config], &vars).await;
    assert!(!ok);
    assert!(
        said.contains("/readyz answered 503") && said.contains("Zalo is not connected"),
        "{said}"
    );
    // ZFSYNC_CONFIG alone, as in the container image.
    let (ok, said, _) = run(
        &["health"],
        &[("ZFSYNC_LISTEN", &listen), ("ZFSYNC_CONFIG", &config)],
    )
    .await;
    assert!(ok && said.trim() == "ok", "{said}");

    // Without ZFSYNC_LISTEN it asks the configured address, where nothing listens.
    let (ok, _, err) = run(&["health", "--config", &config], &[]).await;
    assert!(!ok);
    assert!(
        err.contains("nothing answers on") && err.contains("is zfsync running"),
        "{err}"
    );
    let (ok, _, err) = run(
        &["health", "--config", &config],
        &[("ZFSYNC_LISTEN", "8080")],
    )
    .await;
    assert!(
        !ok && err.contains("ZFSYNC_LISTEN=\"8080\"") && err.contains("server.listen"),
        "{err}"
    );

    sigterm(&daemon);
    let status = tokio::time::timeout(COMMAND_TIMEOUT, daemon.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let (ok, _, _) = run(&["health", "--config", &config], &vars).await;
    assert!(!ok, "health passes with the daemon stopped");
}
