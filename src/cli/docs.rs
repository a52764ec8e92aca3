//! `zfsync completions` and `zfsync man`: shell completions and man pages generated from the
//! command line itself (clap_complete, clap_mangen), so they never fall behind `--help`. The
//! Debian package ships them; `scripts/release` makes them with the release binary.
//!
//! Failure modes ([`DocsError`]): the output folder cannot be made, or a page cannot be written
//! (the path and the system's reason are named). Printing to a closed standard output ends
//! quietly, as `zfsync man | head` expects.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;

use super::Cli;

/// The program's name in completions and man pages.
const BIN: &str = "zfsync";

/// Why the pages could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// The output folder cannot be created.
    #[error(
        "cannot create the folder {path} for the man pages: {cause}; choose another with --out"
    )]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The system's reason.
        cause: std::io::Error,
    },
    /// A page cannot be written.
    #[error("cannot write {path}: {cause}")]
    Write {
        /// The page.
        path: PathBuf,
        /// The system's reason.
        cause: std::io::Error,
    },
}

/// Writes the completion script for `shell` to `out` (rendered first: clap_complete panics on a
/// failed write, such as a reader that went away).
pub fn completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    out.write_all(&script)
}

/// Renders the main page, `zfsync(1)`, to `out`.
pub fn main_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    render(&cmd, out)
}

/// Writes `zfsync.1` and one page per subcommand (`zfsync-connect-zalo.1`, …) into `dir`, made
/// when missing; returns the files written, the main page first.
pub fn write_pages(dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    std::fs::create_dir_all(dir).map_err(|cause| DocsError::Folder {
        path: dir.to_path_buf(),
        cause,
    })?;
    // Built once, so each subcommand knows its full name ("zfsync connect zalo").
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_tree(cmd, dir, &mut written)?;
    Ok(written)
}

fn write_tree(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), DocsError> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut text = Vec::new();
    render(&cmd, &mut text)
        .and_then(|()| std::fs::write(&path, &text))
        .map_err(|cause| DocsError::Write {
            path: path.clone(),
            cause,
        })?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub.clone(), dir, written)?;
    }
    Ok(())
}

/// clap_mangen's page, but with a description of our own: `--help`'s indented example lines
/// stay lines (roff's no-fill mode) instead of being run together into one paragraph.
fn render(cmd: &clap::Command, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone()).manual("zfsync manual");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    description(cmd).to_writer(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(out)?;
    }
    if cmd.get_after_long_help().is_some() || cmd.get_after_help().is_some() {
        man.render_extra_section(out)?;
    }
    if cmd.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// The DESCRIPTION section: paragraphs filled, lines indented or aligned in `--help` (examples)
/// kept as they are.
fn description(cmd: &clap::Command) -> roff::Roff {
    let mut page = roff::Roff::new();
    page.control("SH", ["DESCRIPTION"]);
    let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) else {
        return page;
    };
    let mut literal = false;
    for line in about.to_string().lines() {
        // An example line, or one aligned in columns ("Run it:   zfsync run …").
        let indented = line.starts_with(' ') || line.trim().contains("  ");
        if indented != literal {
            page.control(if indented { "nf" } else { "fi" }, []);
            literal = indented;
        }
        if line.trim().is_empty() {
            page.control("PP", []);
        } else {
            page.text([roff::roman(line)]);
        }
    }
    if literal {
        page.control("fi", []);
    }
    page
}

/// Prints to standard output; a reader that went away (`| head`) is not an error.
pub fn print(
    render: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match render(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_gets_a_page() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_pages(&dir.path().join("man1")).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names[0], "zfsync.1");
        for name in [
            "zfsync-run.1",
            "zfsync-connect-zalo.1",
            "zfsync-failed-retry.1",
            "zfsync-man.1",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
        let run = std::fs::read_to_string(dir.path().join("man1").join("zfsync-run.1")).unwrap();
        assert!(run.contains(".TH zfsync-run 1"), "{run}");
        // --help's indented examples stay one per line.
        let man = std::fs::read_to_string(dir.path().join("man1").join("zfsync-man.1")).unwrap();
        let examples = man.split(".nf\n").nth(1).unwrap_or_default();
        let examples = examples.split(".fi").next().unwrap_or_default();
        assert_eq!(
            examples
                .lines()
                .filter(|l| l.starts_with("  zfsync man"))
                .count(),
            2,
            "{man}"
        );
    }

    #[test]
    fn an_unwritable_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let e = write_pages(&file.join("man1")).unwrap_err().to_string();
        assert!(e.contains("a-file") && e.contains("--out"), "{e}");
    }
}
