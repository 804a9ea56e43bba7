//! The memory allocator of vejr's binaries: mimalloc, told to keep freed memory.
//!
//! Every tensor operation allocates its output, tens of megabytes at 1° and more at 0.25°.
//! glibc handed such blocks back to the kernel and faulted them in again page by page (a third
//! of a forward pass); mimalloc reuses them, but by default still returns idle memory to the
//! kernel after 10 ms, which a training step's rhythm of allocate-and-free keeps hitting
//! (100,000 page faults in five 1° forward + backward passes, 21,000 without purging).

/// The global allocator; each binary names it (`#[global_allocator]`).
pub type Allocator = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same in its v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped for reuse instead of returning it to the kernel (peak memory is
/// what the process holds anyway). Call first thing in `main`.
pub fn keep_freed_memory() {
    // SAFETY: sets one integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}
