//! Progress on stderr: indicatif bars on a terminal; otherwise one line per status change
//! (nothing with `--quiet`).

use std::time::Duration;

use cloud_task_async::TaskStatus;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::{Ui, percent};

/// How often a bar's spinner turns.
const TICK: Duration = Duration::from_millis(120);

/// A bar on stderr, or `None` when bars are not drawn.
fn bar(ui: &Ui, length: u64, template: &str) -> Option<ProgressBar> {
    if !ui.draw_bars() {
        return None;
    }
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar =
        ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr()).with_style(style);
    bar.enable_steady_tick(TICK);
    Some(bar)
}

/// A spinner with `message` on a terminal (nothing otherwise), until dropped or finished.
pub fn spinner(ui: &Ui, message: &str) -> Option<ProgressBar> {
    let bar = bar(ui, 1, "{spinner} {msg} {elapsed}")?;
    bar.set_message(message.to_owned());
    Some(bar)
}

/// The progress of a task being waited for.
pub struct TaskProgress {
    bar: Option<ProgressBar>,
    ui: Ui,
    task_id: String,
    last: Option<TaskStatus>,
}

impl TaskProgress {
    /// Starts showing the progress of `task_id`.
    pub fn new(ui: &Ui, task_id: &str) -> TaskProgress {
        let bar = bar(
            ui,
            100,
            "{spinner} {prefix} {msg:10} [{bar:30}] {pos:>3}% {elapsed}",
        );
        if let Some(bar) = &bar {
            bar.set_prefix(short_id(task_id).to_owned());
            bar.set_message("waiting");
        }
        TaskProgress {
            bar,
            ui: ui.clone(),
            task_id: task_id.to_owned(),
            last: None,
        }
    }

    /// A new status or progress of the task.
    pub fn update(&mut self, status: &TaskStatus, progress: f64) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(crate::output::clean(&status.to_string()).into_owned());
                bar.set_position(progress.clamp(0.0, 100.0) as u64);
            }
            None if self.last.as_ref() != Some(status) => self.ui.note(&format!(
                "task {}: {status} {}",
                self.task_id,
                percent(progress)
            )),
            None => {}
        }
        self.last = Some(status.clone());
    }

    /// Runs `print` (which writes lines) with the bar out of the way: the lines appear
    /// above it.
    pub fn above<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// A line printer for a failed poll that will be tried again, for
    /// [`AwaitOptions::on_retry`](cloud_task_async::AwaitOptions::on_retry): `task ID: rate
    /// limited (HTTP 429); polling again in 2s`, above the bar. A held-back wait is not a
    /// silent one.
    pub fn retry_notifier(
        &self,
    ) -> impl Fn(&str, &cloud_task_async::Error, std::time::Duration) + Send + Sync + 'static {
        let bar = self.bar.clone();
        let ui = self.ui.clone();
        move |task_id, error, wait| {
            let why = match error.status().map(|s| s.as_u16()) {
                Some(429) => "rate limited (HTTP 429)".to_owned(),
                _ => error.reason(),
            };
            let line = format!(
                "task {}: {why}; polling again in {}",
                short_id(task_id),
                crate::duration::format_duration(wait)
            );
            match &bar {
                Some(bar) => bar.suspend(|| ui.note(&line)),
                None => ui.note(&line),
            }
        }
    }

    /// The wait is over: the bar disappears.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for TaskProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The first part of a task ID, enough to tell tasks apart on a bar.
fn short_id(task_id: &str) -> &str {
    match task_id.char_indices().nth(8) {
        Some((end, _)) => &task_id[..end],
        None => task_id,
    }
}

/// A bar of bytes uploaded (with rate and time left), or `None` when not drawn.
pub fn upload_bar(ui: &Ui, name: &str, size: u64) -> Option<ProgressBar> {
    let bar = bar(
        ui,
        size,
        "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )?;
    bar.set_prefix(name.to_owned());
    Some(bar)
}

/// A bar of bytes downloaded (length set once the server says), or `None` when not drawn.
pub fn download_bar(ui: &Ui, name: &str) -> Option<ProgressBar> {
    let bar = bar(
        ui,
        0,
        "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )?;
    bar.set_prefix(name.to_owned());
    Some(bar)
}

/// The bytes done when the SDK reports `percent` of a `size`-byte upload.
pub fn uploaded_bytes(size: u64, percent: u8) -> u64 {
    (u128::from(size) * u128::from(percent.min(100)) / 100) as u64
}

/// A bar of the inputs of a batch that have ended, its counts as the message, or `None`
/// when not drawn.
pub fn batch_bar(ui: &Ui, total: u64) -> Option<ProgressBar> {
    bar(
        ui,
        total,
        "{spinner} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bars_off_a_terminal() {
        let ui = Ui::plain(false, false, None);
        assert!(upload_bar(&ui, "a.txt", 10).is_none());
        assert!(TaskProgress::new(&ui, "t-1").bar.is_none());
    }

    #[test]
    fn bytes_follow_the_percentage() {
        assert_eq!(uploaded_bytes(1000, 0), 0);
        assert_eq!(uploaded_bytes(1000, 42), 420);
        assert_eq!(uploaded_bytes(u64::MAX, 100), u64::MAX);
        assert_eq!(uploaded_bytes(7, 200), 7);
    }

    #[test]
    fn short_ids_cut_at_eight_characters() {
        assert_eq!(short_id("0190f2a4-0000-7000"), "0190f2a4");
        assert_eq!(short_id("t-1"), "t-1");
    }
}
