//! How long an fsync takes on a disk while a scenario runs: what every commit of
//! PostgreSQL and every sync of the NATS store on that disk waits for at least.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

/// One sample: when (µs since the epoch) and how long (ms).
pub type Sample = (i64, f64);

/// Writes 4 KiB at the start of a file in `dir` and syncs it, every `every`, until
/// finished, on a thread of its own.
/// Dropped without `finish` (a scenario failed), it stops all the same.
pub struct FsyncProbe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<Vec<Sample>>>>,
}

impl FsyncProbe {
    pub fn start(dir: &Path, every: Duration) -> Result<FsyncProbe> {
        let path = dir.join("fsync-probe");
        let mut file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(&[0; 4096])?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut samples = Vec::new();
                let block = [b'x'; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let at = chrono::Utc::now().timestamp_micros();
                    let began = std::time::Instant::now();
                    file.write_all_at(&block, 0)?;
                    file.sync_data()?;
                    samples.push((at, began.elapsed().as_secs_f64() * 1000.0));
                    // The sampling interval of a probe, not a wait for anything.
                    std::thread::sleep(every);
                }
                Ok(samples)
            }
        });
        Ok(FsyncProbe { stop, thread: Some(thread) })
    }

    pub fn finish(mut self) -> Result<Vec<Sample>> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().context("finished twice")?;
        thread.join().map_err(|_| anyhow::anyhow!("the fsync probe panicked"))?
    }
}

impl Drop for FsyncProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
