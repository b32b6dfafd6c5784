//! Progress bars on a terminal (rows, rows/s, ETA), nothing in pipes and CI.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars only when stderr is a terminal, `quiet` is off and `CI` is unset.
    pub fn new(quiet: bool) -> Progress {
        let show = !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress {
            multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A bar counting `total` units of `what` (rows of a parent table).
    pub fn bar(&self, name: &str, total: u64) -> ProgressBar {
        match &self.multi {
            None => ProgressBar::hidden(),
            Some(m) => {
                let b = m.add(ProgressBar::new(total));
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>18} [{bar:30}] {human_pos}/{human_len} rows  {per_sec:>12}  ETA {eta}",
                    )
                    .expect("template")
                    .progress_chars("=> "),
                );
                b.set_prefix(name.to_string());
                b
            }
        }
    }

    /// A bar counting `total` units of `what` (chunks of a wait), hidden off a terminal.
    pub fn counter(&self, what: &str, total: u64) -> ProgressBar {
        match &self.multi {
            None => ProgressBar::hidden(),
            Some(m) => {
                let b = m.add(ProgressBar::new(total));
                b.set_style(
                    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len}  {elapsed}")
                        .expect("template")
                        .progress_chars("=> "),
                );
                b.set_prefix(what.to_string());
                b
            }
        }
    }
}
