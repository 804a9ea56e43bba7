//! One writer per output. Two `vejr` runs aimed at one store, run directory or forecast file
//! would otherwise race to rename their temporary results into place, and a run that exits 0
//! could leave the other's result. The first run takes an advisory lock (`flock`) on a small
//! file beside the target, `.NAME.vejr-lock`, and holds it until it has finished; a second
//! is refused at once, naming the first. The kernel releases the lock when its holder dies
//! (a SIGKILL included), so a crashed run never blocks the next: a lock file left behind is
//! taken over.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::{CommandError, CommandResult};

pub struct OutputLock {
    path: PathBuf,
    file: File,
}

/// The lock file of `target`, beside it.
pub fn lock_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    // A name at the filesystem's limit still gets a lock file within it.
    let name = vejr_ingest::output_name::shortened(&format!(".{name}"), ".vejr-lock");
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(name),
        _ => PathBuf::from(name),
    }
}

impl OutputLock {
    /// The lock on an output whose directory may not exist yet: the directory is made (the
    /// command would make it to write there anyway), the name checked against the system's
    /// limits first.
    pub fn acquire_making_directory(option: &str, target: &Path) -> CommandResult<Self> {
        if let Some(why) = vejr_ingest::output_name::too_long(target) {
            return Err(CommandError::bad_input(format!("{option} {why}")));
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                CommandError::failure(format!(
                    "{option} {}: cannot make {}: {e}",
                    target.display(),
                    parent.display()
                ))
            })?;
        }
        Self::acquire(target)
    }

    /// Takes the lock on `target` (a file or directory that may not exist yet; its directory
    /// must exist), or refuses with one line naming the run that holds it.
    pub fn acquire(target: &Path) -> CommandResult<Self> {
        let path = lock_path(target);
        // The holder removes the lock file when it finishes: a file opened just before that
        // is locked in vain, so the lock counts only if the name still leads to it.
        for _ in 0..100 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| CommandError::failure(format!("{}: cannot make a lock file: {e}", path.display())))?;
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(CommandError::failure(format!("{}: cannot lock: {err}", path.display())));
                }
                // The holder writes who it is just after taking the lock.
                let mut holder = String::new();
                for _ in 0..50 {
                    holder.clear();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut holder);
                    if !holder.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                let holder = holder.trim();
                return Err(CommandError::bad_input(format!(
                    "{} is being written by another vejr ({}); wait for it to finish or choose another output",
                    target.display(),
                    if holder.is_empty() { "just started" } else { holder }
                )));
            }
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(held), Ok(named)) => held.ino() == named.ino() && held.dev() == named.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            let who = format!(
                "pid {}: {}; since {}",
                std::process::id(),
                command_line(),
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            );
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = file.write_all(who.as_bytes());
            return Ok(Self { path, file });
        }
        Err(CommandError::failure(format!(
            "{}: the lock file keeps being replaced; is another vejr starting and stopping in a loop?",
            path.display()
        )))
    }
}

/// Raises the soft limit on open descriptors to at least `wanted` where the hard limit allows
/// (a long series holds a lock file per forecast; many systems start processes at 1024).
pub fn allow_descriptors(wanted: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit on a struct this function owns.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && (limit.rlim_cur as usize) < wanted {
            limit.rlim_cur = (wanted as libc::rlim_t).min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The command line, short enough for one line.
fn command_line() -> String {
    let mut line: String = std::env::args()
        .map(|a| {
            Path::new(&a)
                .file_name()
                .filter(|_| a.starts_with('/'))
                .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > 160 {
        line = line.chars().take(157).collect::<String>() + "…";
    }
    line
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still held, so that no other run can lock the name between the two.
        let _ = std::fs::remove_file(&self.path);
        // SAFETY: releases this lock's own descriptor's lock; closing it would as well.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_first_and_the_lock_goes_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("forecast.nc");
        let first = OutputLock::acquire(&target).unwrap();
        let lock = lock_path(&target);
        assert_eq!(lock, dir.path().join(".forecast.nc.vejr-lock"));
        let e = OutputLock::acquire(&target).err().expect("refused");
        assert_eq!(e.code, crate::exit::BAD_INPUT);
        assert!(e.message.contains("being written by another vejr"), "{}", e.message);
        assert!(
            e.message.contains(&format!("pid {}", std::process::id())),
            "{}",
            e.message
        );
        drop(first);
        assert!(!lock.exists(), "the lock file is removed with its lock");
        let again = OutputLock::acquire(&target).unwrap();
        drop(again);
        // A lock file left by a killed run (no lock on it) is taken over.
        std::fs::write(&lock, "pid 1: vejr forecast; since long ago").unwrap();
        let taken = OutputLock::acquire(&target).unwrap();
        drop(taken);
    }
}
