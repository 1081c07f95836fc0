//! The rebuild's progress bar on stderr: redrawn in place on a terminal, a line every few
//! seconds in a log.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use audit::shadow::{Phase, Progress};

const WIDTH: usize = 30;

/// Draws [`Progress`] reports for one projection.
pub struct ProgressBar {
    name: String,
    started: Instant,
    drawn: Option<(Instant, Phase)>,
    terminal: bool,
}

impl ProgressBar {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            started: Instant::now(),
            drawn: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Draws `progress` unless the last drawing is recent (and of the same phase).
    pub fn update(&mut self, progress: Progress) {
        let every = match self.terminal {
            true => Duration::from_millis(100),
            false => Duration::from_secs(5),
        };
        let due = match self.drawn {
            Some((at, phase)) => phase != progress.phase || at.elapsed() >= every,
            None => true,
        };
        if due {
            self.drawn = Some((Instant::now(), progress.phase));
            self.draw(&line(&self.name, progress, self.started.elapsed()));
        }
    }

    /// Ends the line drawn in place.
    pub fn finish(&mut self) {
        if self.terminal && self.drawn.is_some() {
            self.draw("\n");
        }
    }

    fn draw(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        // A progress bar that cannot be drawn is not worth failing the rebuild for.
        let _ = match self.terminal {
            true => write!(err, "\r{text}\x1b[K"),
            false => writeln!(err, "{text}"),
        };
        let _ = err.flush();
    }
}

/// `users: building [#########.....] 45%  450000/1000000 events  52000 events/s  10 s left`
fn line(name: &str, progress: Progress, elapsed: Duration) -> String {
    let Progress {
        phase,
        applied,
        total,
    } = progress;
    let fraction = match total {
        0 => 1.0,
        _ => applied as f64 / total as f64,
    };
    let filled = (fraction * WIDTH as f64).round() as usize;
    let bar = format!(
        "{}{}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled.min(WIDTH))
    );
    let rate = applied as f64 / elapsed.as_secs_f64().max(0.001);
    let left = match rate > 0.0 {
        true => format!("{:.0} s left", total.saturating_sub(applied) as f64 / rate),
        false => "time left unknown".to_owned(),
    };
    let phase = match phase {
        Phase::Building => "building",
        Phase::Switching => "switching",
    };
    format!(
        "{name}: {phase} [{bar}] {:>3.0}%  {applied}/{total} events  {rate:.0} events/s  {left}",
        fraction * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_share_rate_and_time_left() {
        let progress = Progress {
            phase: Phase::Building,
            applied: 500,
            total: 1000,
        };
        assert_eq!(
            line("users", progress, Duration::from_secs(2)),
            "users: building [###############...............]  50%  500/1000 events  250 events/s  2 s left"
        );
    }
}
