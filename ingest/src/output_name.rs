//! Names of the files vejr writes beside its outputs (`NAME.partial`, lock files), kept within
//! the filesystem's limit on a name: an output named near the limit is legal, and its
//! temporary name must be too.

use std::path::{Path, PathBuf};

/// The longest file name (one path component) in bytes: Linux's NAME_MAX, on every filesystem
/// vejr writes to (ext4, XFS, Lustre, GPFS, tmpfs).
pub const NAME_MAX: usize = 255;
/// The longest path the kernel takes.
pub const PATH_MAX: usize = 4096;

/// `name` + `suffix`, or where that is over [`NAME_MAX`] the start of `name`, a hash of all of
/// it (two long names that share a start still differ) and `suffix`.
pub fn shortened(name: &str, suffix: &str) -> String {
    if name.len() + suffix.len() <= NAME_MAX {
        return format!("{name}{suffix}");
    }
    let hash = format!("~{:016x}", fnv1a(name.as_bytes()));
    let mut keep = NAME_MAX.saturating_sub(hash.len() + suffix.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{hash}{suffix}", &name[..keep])
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `path` with `suffix` added to its file name, shortened to stay a legal name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(shortened(&name, suffix))
}

/// Why `path` cannot be created, when its name or the whole path is longer than the system
/// takes: said before any work (the kernel's "File name too long" comes after it, and netCDF
/// turns it into "Permission denied").
pub fn too_long(path: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    if let Some(component) = path
        .components()
        .map(|c| c.as_os_str().as_bytes().len())
        .find(|&n| n > NAME_MAX)
    {
        return Some(format!(
            "{}: file name too long ({component} bytes; a name takes at most {NAME_MAX})",
            path.display()
        ));
    }
    let length = path.as_os_str().as_bytes().len();
    (length >= PATH_MAX).then(|| {
        format!(
            "{}: path too long ({length} bytes; at most {})",
            path.display(),
            PATH_MAX - 1
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_near_the_limit_keep_a_legal_temporary_name() {
        assert_eq!(shortened("forecast.nc", ".partial"), "forecast.nc.partial");
        let long = "f".repeat(250) + ".nc";
        let partial = shortened(&long, ".partial");
        assert_eq!(partial.len(), NAME_MAX);
        assert!(partial.ends_with(".partial") && partial.starts_with("fff"));
        // Two long names with one start get two temporary names.
        let other = "f".repeat(250) + ".nd";
        assert_ne!(shortened(&other, ".partial"), partial);
        // Cut at a character, not inside one.
        let unicode = "æ".repeat(126);
        assert!(shortened(&unicode, ".partial").len() <= NAME_MAX);
        assert!(too_long(Path::new(&long)).is_none());
        let e = too_long(&Path::new("/tmp").join("x".repeat(300))).unwrap();
        assert!(e.contains("file name too long (300 bytes"), "{e}");
    }
}
