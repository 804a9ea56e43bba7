//! Progress for long work: an indicatif bar on a terminal, periodic log lines with rate and
//! ETA otherwise (cron jobs, batch schedulers and CI capture stderr to a file).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    started: Instant,
    log: Mutex<(u64, Instant)>,
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    pub fn new(label: &str, total: u64, unit: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}})");
            bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar.set_message(label.to_owned());
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            label: label.to_owned(),
            total,
            started: now,
            log: Mutex::new((0, now)),
        }
    }

    pub fn hidden() -> Self {
        let now = Instant::now();
        Self {
            bar: Some(ProgressBar::hidden()),
            label: String::new(),
            total: 0,
            started: now,
            log: Mutex::new((0, now)),
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.0 += n;
        // No line at the last item: the command's summary says it is done, and a check after
        // the loop that fails would otherwise follow a line reading like success.
        if log.1.elapsed() >= LOG_EVERY && log.0 < self.total {
            log.1 = Instant::now();
            let elapsed = self.started.elapsed().as_secs_f64();
            let rate = log.0 as f64 / elapsed.max(1e-9);
            let eta = (self.total.saturating_sub(log.0)) as f64 / rate.max(1e-9);
            eprintln!("{}: {}/{} ({rate:.1}/s, ETA {eta:.0}s)", self.label, log.0, self.total);
        }
    }

    pub fn set_message(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_owned());
        }
    }

    pub fn finish(&self) -> Duration {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}
