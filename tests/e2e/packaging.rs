//! What the packages take from the binary: shell completions and man pages made by
//! `zfsync completions` and `zfsync man`.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;

use crate::helpers::{zfsync, COMMAND_TIMEOUT};

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

/// Formats a man page with groff as `man` would, failing on any warning.
fn groff(page: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("groff")
        // UTF-8 input as man reads it (preconv); plain text out, without overstriking.
        .args(["-Kutf8", "-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("groff is needed to render the man pages ({e}): apt-get install groff-base")
        });
    child.stdin.take().unwrap().write_all(page).unwrap();
    let out = child.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.is_empty(),
        "groff: {warnings}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn man_pages_render_for_every_subcommand() {
    let (ok, page, err) = run(&["man"], &[]).await;
    assert!(ok, "{err}");
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    let text = groff(page.as_bytes());
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
        let text = groff(&page);
        assert!(
            text.contains(&format!("zfsync {name}")),
            "{}:\n{text}",
            file.display()
        );
    }
    // A subcommand's examples keep their lines, as in --help.
    let text = groff(&std::fs::read(out.join("zfsync-connect-zalo.1")).unwrap());
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
