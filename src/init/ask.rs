//! How the wizard talks. On a terminal: prompts (dialoguer), with secrets typed into a password
//! prompt that echoes nothing, and every check shown as it ends (OK, WARN or FAIL with the fix).
//! With `--non-interactive`: values from flags, the environment and standard input only, and a
//! failed check is an [`InitError::Check`] naming the flag, the config key and the fix.
//!
//! Prompts and check lines go to stderr; the summary at the end goes to stdout (scripts read it).
//! Failure modes: a terminal that cannot be read ([`InitError::Prompt`], or
//! [`InitError::Interrupted`] on Ctrl-C), standard input that ends before a value given as `-`
//! ([`InitError::Stdin`]). Secrets are never printed, in prompts, echoes or errors.

use std::io::{BufRead as _, IsTerminal as _};

use dialoguer::theme::SimpleTheme;
use dialoguer::Password;
use secrecy::SecretString;

use super::InitError;
use crate::check::{Check, Level};

/// One value the wizard asks for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    /// The prompt.
    pub label: &'static str,
    /// The flag that gives it in scripts.
    pub flag: &'static str,
    /// The config key (or secrets-file name) it becomes.
    pub key: &'static str,
    /// The environment variable that may give it (secrets and the webhook key).
    pub env: Option<&'static str>,
    /// Where to find the value, shown before the prompt.
    pub hint: &'static str,
}

/// A value given before the wizard asked: its text and where it came from (for the echo line).
#[derive(Debug)]
pub(super) struct Given<T> {
    /// The value.
    pub value: T,
    /// `--flag`, `ZFSYNC_NAME` or `standard input`.
    pub from: String,
}

/// The wizard's side of the conversation.
pub(super) struct Ui {
    interactive: bool,
    /// Nothing is printed; checks are kept for the caller (the console's form shows them).
    quiet: Option<std::sync::Mutex<Vec<Check>>>,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("interactive", &self.interactive)
            .field("quiet", &self.quiet.is_some())
            .finish()
    }
}

impl Ui {
    pub fn new(interactive: bool) -> Ui {
        Ui {
            interactive,
            quiet: None,
        }
    }

    /// A script's side that prints nothing and keeps the checks it would have shown (for a
    /// form, where a terminal's lines would only reach the daemon's log).
    pub fn quiet() -> Ui {
        Ui {
            interactive: false,
            quiet: Some(std::sync::Mutex::new(Vec::new())),
        }
    }

    /// The checks kept by a [`Ui::quiet`], in the order they ran.
    pub fn take_checks(&self) -> Vec<Check> {
        self.quiet
            .as_ref()
            .map(|q| std::mem::take(&mut *q.lock().unwrap_or_else(|p| p.into_inner())))
            .unwrap_or_default()
    }

    pub fn interactive(&self) -> bool {
        self.interactive
    }

    /// A section title.
    pub fn heading(&self, text: &str) {
        if self.quiet.is_some() {
            return;
        }
        eprintln!("\n{text}");
    }

    /// A line of explanation.
    pub fn note(&self, text: &str) {
        if self.quiet.is_some() {
            return;
        }
        eprintln!("  {text}");
    }

    /// A check result, with its fix when it has one.
    pub fn show(&self, check: &Check) {
        if let Some(q) = &self.quiet {
            q.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(check.clone());
            return;
        }
        let tag = match check.level {
            Level::Ok => "OK  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        eprintln!("  {tag}  {}", check.detail);
        if let Some(fix) = &check.fix {
            eprintln!("        fix: {fix}");
        }
    }

    /// A value failed its check: on a terminal, say why and let the caller ask again; in a
    /// script, the error that names the flag, the key and the fix.
    pub fn reject(&self, field: &Field, check: &Check) -> Result<(), InitError> {
        if self.interactive {
            self.show(check);
            eprintln!("  Enter {} again.", field.label);
            Ok(())
        } else {
            let mut fix = check.fix.clone().unwrap_or_default();
            if check.unreachable {
                fix.push_str("; or pass --skip-checks to write the files without contacting the platforms (then run zfsync check)");
            }
            Err(InitError::Check {
                flag: field.flag,
                key: field.key,
                detail: check.detail.clone(),
                fix,
            })
        }
    }

    /// A platform could not answer a check of `field` (see [`Check::unreachable`]). On a terminal:
    /// the failure, then a choice of trying again, going on without live checks (as
    /// `--skip-checks`), or stopping; in a script, the error that also names `--skip-checks`.
    pub fn unreachable(
        &self,
        platform: &'static str,
        field: &Field,
        check: &Check,
    ) -> Result<Unreachable, InitError> {
        if !self.interactive {
            self.reject(field, check)?;
            return Err(InitError::Unreachable { platform });
        }
        self.show(check);
        let items = [
            format!("Try {platform} again"),
            "Go on without live checks, as --skip-checks does (values are only checked for their form; run 'zfsync check' later)".to_string(),
            format!("Enter {} again", field.label),
            "Quit (nothing is written)".to_string(),
        ];
        match self.choose(&format!("{platform} did not answer. What now?"), &items, 0)? {
            0 => Ok(Unreachable::Retry),
            1 => Ok(Unreachable::SkipChecks),
            2 => Ok(Unreachable::AskAgain),
            _ => Err(InitError::Unreachable { platform }),
        }
    }

    /// A plain value: the given one, else a prompt (with `default` offered), else (in a script)
    /// the default, else an empty answer when `optional`, else an error.
    pub fn text(
        &self,
        field: &Field,
        given: Option<Given<String>>,
        default: Option<String>,
        optional: bool,
    ) -> Result<String, InitError> {
        if let Some(g) = given {
            if self.interactive {
                eprintln!("{}: {} (from {})", field.label, g.value, g.from);
            }
            return Ok(g.value.trim().to_string());
        }
        if !self.interactive {
            return match default {
                Some(d) => Ok(d),
                None if optional => Ok(String::new()),
                None => Err(missing(field)),
            };
        }
        self.hint(field);
        let prompt = match &default {
            Some(d) => format!("{} [{d}]: ", field.label),
            None => format!("{}: ", field.label),
        };
        loop {
            let answer = read_answer(&prompt, field.label)?;
            match (answer.trim(), &default) {
                ("", Some(d)) => return Ok(d.clone()),
                ("", None) if optional => return Ok(String::new()),
                ("", None) => eprintln!("  (an answer is needed here; Ctrl-C stops)"),
                (a, _) => return Ok(a.to_string()),
            }
        }
    }

    /// A secret: the given one, else a password prompt (nothing echoed), else an error.
    pub fn secret(
        &self,
        field: &Field,
        given: Option<Given<SecretString>>,
    ) -> Result<SecretString, InitError> {
        if let Some(value) = self.given_unechoed(field, given)? {
            return Ok(value);
        }
        hidden_answer(field.label)
    }

    /// A PEM key pasted on one line or on several (read until the END line), echoed: it is public.
    pub fn pasted_key(
        &self,
        field: &Field,
        given: Option<Given<String>>,
    ) -> Result<String, InitError> {
        if let Some(value) = self.given_unechoed(field, given)? {
            return Ok(value);
        }
        eprint!("{} (paste it, then Enter): ", field.label);
        blocking(|| read_key_lines(&mut std::io::stdin().lock()))
            .map_err(|e| InitError::Prompt(e.to_string()))?
            .ok_or_else(|| InitError::EndOfInput {
                question: field.label.to_string(),
            })
    }

    /// One of `items`; `default` is preselected.
    /// Numbered, answered with its number (Enter takes the default); read as a line, so it works
    /// in any terminal and ends cleanly at the end of input.
    pub fn choose(
        &self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, InitError> {
        eprintln!("{prompt}");
        for (i, item) in items.iter().enumerate() {
            eprintln!("  {}) {item}", i + 1);
        }
        let ask = format!("Choose 1-{} [{}]: ", items.len(), default + 1);
        loop {
            let answer = read_answer(&ask, prompt)?;
            match answer.trim() {
                "" => return Ok(default),
                a => match a.parse::<usize>() {
                    Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
                    _ => eprintln!("  (a number from 1 to {})", items.len()),
                },
            }
        }
    }

    /// Yes or no, as a line (`y`, `n`, or Enter for `default`).
    pub fn confirm(&self, prompt: &str, default: bool) -> Result<bool, InitError> {
        let ask = format!("{prompt} [{}]: ", if default { "Y/n" } else { "y/N" });
        loop {
            match read_answer(&ask, prompt)?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "" => return Ok(default),
                "y" | "yes" | "có" | "co" => return Ok(true),
                "n" | "no" | "không" | "khong" => return Ok(false),
                _ => eprintln!("  (y or n)"),
            }
        }
    }

    /// A value that is not shown: the given one (only where it came from is said), else an error
    /// in a script, else None after the field's hint, for the caller to prompt.
    fn given_unechoed<T>(
        &self,
        field: &Field,
        given: Option<Given<T>>,
    ) -> Result<Option<T>, InitError> {
        if let Some(g) = given {
            if self.interactive {
                eprintln!("{}: (from {})", field.label, g.from);
            }
            return Ok(Some(g.value));
        }
        if !self.interactive {
            return Err(missing(field));
        }
        self.hint(field);
        Ok(None)
    }

    fn hint(&self, field: &Field) {
        eprintln!("  ({})", field.hint);
    }
}

fn missing(field: &Field) -> InitError {
    InitError::Missing {
        flag: field.flag,
        env: field.env,
    }
}

/// What to do after a platform could not answer a check ([`Ui::unreachable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unreachable {
    /// Check the same value again.
    Retry,
    /// Take the value as it is and check nothing live from here on.
    SkipChecks,
    /// Ask for the value again.
    AskAgain,
}

/// One answer typed at a terminal, after `prompt` on stderr; the end of input stops the wizard
/// ([`InitError::EndOfInput`], naming `question`) instead of asking again for ever.
fn read_answer(prompt: &str, question: &str) -> Result<String, InitError> {
    use std::io::Write as _;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = blocking(|| std::io::stdin().lock().read_line(&mut line))
        .map_err(|e| InitError::Prompt(e.to_string()))?;
    if n == 0 {
        eprintln!();
        return Err(InitError::EndOfInput {
            question: question.to_string(),
        });
    }
    Ok(line)
}

/// A secret typed without echo. The terminal's reader gives an empty line at the end of input,
/// as for Enter alone: three empty answers in a row stop the wizard instead of asking for ever.
fn hidden_answer(label: &str) -> Result<SecretString, InitError> {
    for _ in 0..3 {
        let prompt = Password::with_theme(&SimpleTheme)
            .with_prompt(label)
            .allow_empty_password(true);
        let answer = blocking(|| prompt.interact()).map_err(prompt_error)?;
        if !answer.trim().is_empty() {
            return Ok(SecretString::from(answer.trim().to_string()));
        }
        eprintln!("  (nothing typed; Ctrl-C stops)");
    }
    Err(InitError::EndOfInput {
        question: label.to_string(),
    })
}

fn prompt_error(e: dialoguer::Error) -> InitError {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == std::io::ErrorKind::Interrupted {
        InitError::Interrupted
    } else {
        InitError::Prompt(io.to_string())
    }
}

/// Runs a blocking prompt without stalling the runtime's other tasks where the runtime allows it.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Reads a pasted key: one line; or, when that line opens a PEM block without closing it, every
/// line up to the END line; or, when it is a full 64-character line of a PEM body pasted without
/// its armour, every line up to the shorter last one. `None` at end of input before anything.
pub(super) fn read_key_lines(input: &mut impl std::io::BufRead) -> std::io::Result<Option<String>> {
    let mut first = String::new();
    if input.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut key = first.trim().to_string();
    let opened = key.contains("-----BEGIN") && !key.contains("-----END");
    let mut bare = is_pem_body_line(&key);
    while opened || bare {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim();
        key.push('\n');
        key.push_str(line);
        if opened && line.contains("-----END") {
            break;
        }
        if bare && !is_pem_body_line(line) {
            bare = false;
            if !opened {
                break;
            }
        }
    }
    Ok(Some(one_line(&key)))
}

/// A full line of a PEM body: 64 base64 characters.
fn is_pem_body_line(line: &str) -> bool {
    line.len() == 64
        && line
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

/// The key on one line, as Freshchat's page shows it pasted by most people:
/// `-----BEGIN X----- <base64> -----END X-----`, the base64 without the PEM's line breaks.
pub(super) fn one_line(key: &str) -> String {
    let flat = key.split_whitespace().collect::<Vec<_>>().join(" ");
    let armour = |text: &str, from: usize| -> Option<(usize, usize)> {
        let start = text[from..].find("-----")? + from;
        let end = text[start + 5..].find("-----")? + start + 10;
        Some((start, end))
    };
    let Some((h0, h1)) = armour(&flat, 0).filter(|(s, _)| flat[*s..].starts_with("-----BEGIN"))
    else {
        return flat;
    };
    let Some((f0, f1)) = armour(&flat, h1).filter(|(s, _)| flat[*s..].starts_with("-----END"))
    else {
        return flat;
    };
    let body: String = flat[h1..f0]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    format!("{} {body} {}", &flat[h0..h1], &flat[f0..f1])
}

/// Values given as `-`, read from standard input in the wizard's order: one line each, a PEM key
/// up to its END line. On a terminal the secrets are read without echo.
#[derive(Debug)]
pub(super) struct Stdin {
    terminal: bool,
}

impl Stdin {
    pub fn new() -> Stdin {
        Stdin {
            terminal: std::io::stdin().is_terminal(),
        }
    }

    /// One secret line.
    pub fn secret(&self, field: &Field) -> Result<SecretString, InitError> {
        if self.terminal {
            return hidden_answer(field.label);
        }
        let mut line = String::new();
        let n = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| stdin_error(field, e.to_string()))?;
        let value = line.trim();
        if n == 0 || value.is_empty() {
            return Err(stdin_error(
                field,
                "standard input ended (or gave an empty line) before this value; give one line per '-', in the order --freshchat-api-key, --freshchat-webhook-public-key, --zalo-app-secret, --zalo-oa-secret-key".into(),
            ));
        }
        Ok(SecretString::from(value.to_string()))
    }

    /// A PEM key (several lines allowed).
    pub fn key(&self, field: &Field) -> Result<String, InitError> {
        if self.terminal {
            eprint!("{} (paste it, then Enter): ", field.label);
        }
        match read_key_lines(&mut std::io::stdin().lock()) {
            Ok(Some(k)) if !k.is_empty() => Ok(k),
            Ok(_) => Err(stdin_error(
                field,
                "standard input ended before the key".into(),
            )),
            Err(e) => Err(stdin_error(field, e.to_string())),
        }
    }
}

fn stdin_error(field: &Field, detail: String) -> InitError {
    InitError::Stdin {
        flag: field.flag,
        detail,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_pem_block_is_read_to_its_end_line() {
        let pasted = "-----BEGIN RSA PUBLIC KEY-----\nAAAA\nBBBB\n-----END RSA PUBLIC KEY-----\nnext answer\n";
        let mut input = std::io::Cursor::new(pasted);
        let key = read_key_lines(&mut input).unwrap().unwrap();
        assert_eq!(
            key,
            "-----BEGIN RSA PUBLIC KEY----- AAAABBBB -----END RSA PUBLIC KEY-----"
        );
        // The next answer is left for the next question.
        let mut rest = String::new();
        input.read_line(&mut rest).unwrap();
        assert_eq!(rest, "next answer\n");
    }

    #[test]
    fn a_one_line_key_is_one_answer() {
        let mut input =
            std::io::Cursor::new("-----BEGIN PUBLIC KEY----- AAAA -----END PUBLIC KEY-----\nx\n");
        assert_eq!(
            read_key_lines(&mut input).unwrap().unwrap(),
            "-----BEGIN PUBLIC KEY----- AAAA -----END PUBLIC KEY-----"
        );
        let mut empty = std::io::Cursor::new("");
        assert!(read_key_lines(&mut empty).unwrap().is_none());
    }

    #[test]
    fn a_pem_body_pasted_without_armour_is_read_to_its_short_last_line() {
        let full = "A".repeat(64);
        let pasted = format!("{full}\n{full}\nAQAB\nnext\n");
        let mut input = std::io::Cursor::new(pasted);
        let key = read_key_lines(&mut input).unwrap().unwrap();
        assert_eq!(key, format!("{full} {full} AQAB"));
        let mut rest = String::new();
        input.read_line(&mut rest).unwrap();
        assert_eq!(rest, "next\n");
    }

    #[test]
    fn one_line_keeps_the_armour_and_joins_the_body() {
        assert_eq!(
            one_line("  -----BEGIN PUBLIC KEY-----\nAB\nCD\n-----END PUBLIC KEY-----\n"),
            "-----BEGIN PUBLIC KEY----- ABCD -----END PUBLIC KEY-----"
        );
        assert_eq!(one_line("AB\nCD"), "AB CD");
    }
}
