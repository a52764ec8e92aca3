//! What a run found: per target, the inputs tried, how each was answered (by status and reason),
//! panics, 5xx answers and every broken promise ([`Finding`]), with the seed and index that rebuild
//! the input and the input itself. Displayed as the table RELIABILITY.md quotes.
//!
//! Failure: writing findings to a folder can fail with the I/O error; nothing else here fails.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::Target;

/// Findings of one kind kept whole (the rest are only counted).
const KEEP_PER_KIND: usize = 20;
/// Bytes of an input shown in a report (all of it goes to the findings folder).
const SHOWN_BYTES: usize = 2048;

/// One broken promise, with what rebuilds it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The target.
    pub target: Target,
    /// The run's seed.
    pub seed: u64,
    /// The input's index: `--seed S --replay target:index` rebuilds it.
    pub index: u64,
    /// Which promise: `panic`, `5xx`, `no_reason`, `accepted_invalid`, `refused_valid`, ...
    pub kind: &'static str,
    /// What happened.
    pub detail: String,
    /// The input (a request body, a config file).
    pub input: Vec<u8>,
    /// What came with it: request headers, the secrets file.
    pub context: Vec<(String, Vec<u8>)>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[{}] {} at input {} (reproduce: --seed {} --replay {}:{}): {}",
            self.target, self.kind, self.index, self.seed, self.target, self.index, self.detail
        )?;
        writeln!(
            f,
            "  input ({} bytes): {}",
            self.input.len(),
            shown(&self.input)
        )?;
        for (name, value) in &self.context {
            writeln!(f, "  {name}: {}", shown(value))?;
        }
        Ok(())
    }
}

fn shown(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(SHOWN_BYTES)];
    let mut s = format!("b\"{}\"", cut.escape_ascii());
    if bytes.len() > SHOWN_BYTES {
        s.push_str(&format!(" … ({} more bytes)", bytes.len() - SHOWN_BYTES));
    }
    s
}

/// The outcome of one target.
#[derive(Debug, Clone)]
pub struct TargetReport {
    /// Which target.
    pub target: Target,
    /// Inputs tried.
    pub inputs: u64,
    /// Inputs accepted (200 from a route; a config that loaded; a plan made).
    pub accepted: u64,
    /// How inputs were answered: `200 stored`, `401 bad_signature`, `invalid zalo.app_id`, ...
    pub outcomes: BTreeMap<String, u64>,
    /// Panics (handler, parser, loader or engine).
    pub panics: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Accepted deliveries sent again, each of which must be answered `duplicate`.
    pub replays: u64,
    /// Plans made from accepted events and checked.
    pub plans: u64,
    /// Every broken promise, counted by kind.
    pub finding_counts: BTreeMap<&'static str, u64>,
    /// The first findings of each kind, whole.
    pub findings: Vec<Finding>,
    /// Wall time.
    pub elapsed: Duration,
    /// The slowest single input.
    pub slowest: Duration,
    /// Its index.
    pub slowest_index: Option<u64>,
}

impl TargetReport {
    /// An empty report.
    pub fn new(target: Target) -> TargetReport {
        TargetReport {
            target,
            inputs: 0,
            accepted: 0,
            outcomes: BTreeMap::new(),
            panics: 0,
            server_errors: 0,
            replays: 0,
            plans: 0,
            finding_counts: BTreeMap::new(),
            findings: Vec::new(),
            elapsed: Duration::ZERO,
            slowest: Duration::ZERO,
            slowest_index: None,
        }
    }

    /// Counts one outcome.
    pub fn outcome(&mut self, label: impl Into<String>) {
        *self.outcomes.entry(label.into()).or_default() += 1;
    }

    /// Records a finding (kept whole while few of its kind are).
    pub fn finding(&mut self, f: Finding) {
        let n = self.finding_counts.entry(f.kind).or_default();
        *n += 1;
        if *n as usize <= KEEP_PER_KIND {
            self.findings.push(f);
        }
    }

    /// Adds another part of the same target's run.
    pub fn absorb(&mut self, other: TargetReport) {
        self.inputs += other.inputs;
        self.accepted += other.accepted;
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        self.panics += other.panics;
        self.server_errors += other.server_errors;
        self.replays += other.replays;
        self.plans += other.plans;
        for f in other.findings {
            let kept = self.findings.iter().filter(|x| x.kind == f.kind).count();
            if kept < KEEP_PER_KIND {
                self.findings.push(f);
            }
        }
        for (k, v) in other.finding_counts {
            *self.finding_counts.entry(k).or_default() += v;
        }
        if other.slowest > self.slowest {
            self.slowest = other.slowest;
            self.slowest_index = other.slowest_index;
        }
    }

    /// All findings, of every kind.
    pub fn total_findings(&self) -> u64 {
        self.finding_counts.values().sum()
    }

    /// Inputs refused (every outcome but the accepted ones).
    pub fn refused(&self) -> u64 {
        self.inputs - self.accepted
    }
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run's seed.
    pub seed: u64,
    /// One report per target, in the order run.
    pub targets: Vec<TargetReport>,
}

impl Report {
    /// True when nothing panicked, nothing answered 5xx and every promise held.
    pub fn clean(&self) -> bool {
        self.targets
            .iter()
            .all(|t| t.panics == 0 && t.server_errors == 0 && t.total_findings() == 0)
    }

    /// Writes every kept finding's input (and context) to `dir`, one file each.
    pub fn write_findings(&self, dir: &Path) -> std::io::Result<usize> {
        std::fs::create_dir_all(dir)?;
        let mut n = 0;
        for t in &self.targets {
            for f in &t.findings {
                let stem = format!("{}-{}-{}-{}", f.target, f.seed, f.index, f.kind);
                std::fs::write(dir.join(format!("{stem}.input")), &f.input)?;
                for (name, value) in &f.context {
                    let safe: String = name
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    std::fs::write(dir.join(format!("{stem}.{safe}")), value)?;
                }
                std::fs::write(dir.join(format!("{stem}.txt")), f.to_string())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {}", self.seed)?;
        writeln!(
            f,
            "{:<10} {:>9} {:>9} {:>9} {:>7} {:>5} {:>8} {:>9} {:>9} {:>9} {:>10}",
            "target",
            "inputs",
            "accepted",
            "refused",
            "panics",
            "5xx",
            "findings",
            "replays",
            "plans",
            "time",
            "inputs/s"
        )?;
        for t in &self.targets {
            let secs = t.elapsed.as_secs_f64();
            writeln!(
                f,
                "{:<10} {:>9} {:>9} {:>9} {:>7} {:>5} {:>8} {:>9} {:>9} {:>8.1}s {:>10.0}",
                t.target.to_string(),
                t.inputs,
                t.accepted,
                t.refused(),
                t.panics,
                t.server_errors,
                t.total_findings(),
                t.replays,
                t.plans,
                secs,
                if secs > 0.0 {
                    t.inputs as f64 / secs
                } else {
                    0.0
                }
            )?;
        }
        for t in &self.targets {
            writeln!(
                f,
                "\n{} outcomes (slowest input: {:.1} ms, index {}):",
                t.target,
                t.slowest.as_secs_f64() * 1000.0,
                t.slowest_index.map_or("-".to_string(), |i| i.to_string())
            )?;
            for (label, n) in &t.outcomes {
                writeln!(f, "  {n:>9}  {label}")?;
            }
            for (kind, n) in &t.finding_counts {
                writeln!(f, "  {n:>9}  FINDING {kind}")?;
            }
        }
        let findings: Vec<&Finding> = self.targets.iter().flat_map(|t| &t.findings).collect();
        if !findings.is_empty() {
            writeln!(f, "\nfindings (first {KEEP_PER_KIND} of each kind):")?;
            for x in findings {
                write!(f, "{x}")?;
            }
        }
        Ok(())
    }
}
