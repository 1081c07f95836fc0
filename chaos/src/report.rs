//! The report: what was sent, what the faults were, and each figure that must be 0.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::checks::{NoticeCheck, Versions};
use crate::faults::FaultLog;

/// Commands sent, by outcome.
#[derive(Debug, Default, Clone)]
pub struct Commands {
    pub sent: u64,
    pub accepted: u64,
    pub unavailable: u64,
    pub no_answer: u64,
    pub rejected: BTreeMap<String, u64>,
}

/// Everything one run found.
#[derive(Debug, Clone)]
pub struct Report {
    pub duration: Duration,
    pub commands: Commands,
    pub faults: FaultLog,
    pub events_lost: u64,
    pub versions: Versions,
    /// Rows differing between the views and their replay, or why the verifier gave no answer.
    pub replay: Result<usize, String>,
    pub notices: NoticeCheck,
}

impl Report {
    /// Each must-be-0 figure that is not, in words; empty when the run passed.
    pub fn failures(&self) -> Vec<String> {
        let n = &self.notices;
        let figures = [
            ("events lost", self.events_lost as usize),
            ("events applied twice", self.versions.applied_twice as usize),
            (
                "events not applied to the users view",
                self.versions.not_applied as usize,
            ),
            (
                "view rows differing from a replay",
                *self.replay.as_ref().unwrap_or(&0),
            ),
            ("notices missed", n.missed),
            ("notices received twice", n.duplicated),
            ("notices received that the view does not hold", n.unexpected),
            ("resyncs other than `unavailable`", n.resyncs),
            (
                "notices missed, live copy lost to a kill or the NATS outage",
                n.live_copy_lost,
            ),
        ];
        let mut failures: Vec<String> = figures
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(what, count)| format!("{what}: {count}"))
            .collect();
        if let Err(error) = &self.replay {
            failures.push(format!("the verifier gave no answer: {error}"));
        }
        failures
    }

    /// Examples of what went wrong, to start looking (shown whether or not it fails the run).
    pub fn details(&self) -> Vec<String> {
        let n = &self.notices;
        let mut details = Vec::new();
        if !n.missed_examples.is_empty() {
            details.push(format!(
                "first missed notices: {}",
                n.missed_examples.join("; ")
            ));
        }
        if !n.live_copy_lost_examples.is_empty() {
            details.push(format!(
                "first notices whose live copy was lost: {}",
                n.live_copy_lost_examples.join("; ")
            ));
        }
        if !n.unexpected_examples.is_empty() {
            details.push(format!(
                "first unexpected notices: {}",
                n.unexpected_examples.join("; ")
            ));
        }
        details
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let c = &self.commands;
        let f = &self.faults;
        let n = &self.notices;
        let rows = [
            ("run", format!("{}s", self.duration.as_secs())),
            ("commands sent", c.sent.to_string()),
            ("  accepted", c.accepted.to_string()),
            ("  rejected with 503", c.unavailable.to_string()),
            (
                "  no answer (command API killed or restarting)",
                c.no_answer.to_string(),
            ),
            ("  other rejections", format_rejections(&c.rejected)),
            ("kill -9", format_roles(&f.kills)),
            ("exited by themselves, restarted", format_roles(&f.exits)),
            ("NATS down", format!("{:.1}s", f.nats_down.as_secs_f64())),
            (
                "Postgres restart",
                f.pg_restart
                    .map_or("not done".into(), |d| format!("{:.1}s", d.as_secs_f64())),
            ),
            (
                "sockets / connections",
                format!("{} / {}", n.sockets, n.connections),
            ),
            (
                "  resync `unavailable`, retried",
                n.retried_unavailable.to_string(),
            ),
            (
                "notices owed / received",
                format!("{} / {}", n.owed, n.received),
            ),
            ("events lost (must be 0)", self.events_lost.to_string()),
            (
                "events applied twice (must be 0)",
                self.versions.applied_twice.to_string(),
            ),
            (
                "view rows differing from a replay (must be 0)",
                self.replay
                    .as_ref()
                    .map_or_else(|e| format!("no answer: {e}"), |d| d.to_string()),
            ),
            ("notices missed, other (must be 0)", n.missed.to_string()),
            (
                "notices missed, live copy lost (kill, NATS outage)",
                n.live_copy_lost.to_string(),
            ),
            (
                "notices received twice (must be 0)",
                n.duplicated.to_string(),
            ),
            ("resyncs (must be 0)", n.resyncs.to_string()),
        ];
        for (what, figure) in rows {
            let _ = writeln!(out, "{what:<54} {figure}");
        }
        out
    }
}

fn format_rejections(rejected: &BTreeMap<String, u64>) -> String {
    if rejected.is_empty() {
        return "0".into();
    }
    let total: u64 = rejected.values().sum();
    let each: Vec<String> = rejected
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect();
    format!("{total} ({})", each.join(", "))
}

fn format_roles(counts: &BTreeMap<crate::services::Role, u32>) -> String {
    let total: u32 = counts.values().sum();
    if total == 0 {
        return "0".into();
    }
    let each: Vec<String> = counts
        .iter()
        .map(|(role, n)| format!("{} {n}", role.name()))
        .collect();
    format!("{total} ({})", each.join(", "))
}
