//! ecCodes prints its own `ECCODES ERROR : …` lines on stderr before vejr's message, which
//! breaks the one-line promise and, alone, does not say which file. Its log goes here instead
//! (a logging procedure on ecCodes' default context): the last message joins vejr's one line.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Mutex, Once};

static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

type LogProc = Option<unsafe extern "C" fn(*const c_void, c_int, *const c_char)>;

unsafe extern "C" {
    fn grib_context_get_default() -> *mut c_void;
    fn grib_context_set_logging_proc(context: *mut c_void, log: LogProc);
}

unsafe extern "C" fn keep(_context: *const c_void, _level: c_int, message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: ecCodes passes a NUL-terminated message that lives for this call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().trim().to_string();
    if let Ok(mut messages) = MESSAGES.lock() {
        if messages.len() >= 64 {
            messages.remove(0);
        }
        messages.push(text);
    }
}

/// Routes ecCodes' log here, once per process.
pub fn capture() {
    static ONCE: Once = Once::new();
    // SAFETY: the default context exists for the process's life; `keep` has the signature of
    // ecCodes' grib_log_proc.
    ONCE.call_once(|| unsafe { grib_context_set_logging_proc(grib_context_get_default(), Some(keep)) });
}

/// Forgets what was logged (before a new file or message is read).
pub fn clear() {
    if let Ok(mut messages) = MESSAGES.lock() {
        messages.clear();
    }
}

/// `message`, with the last thing ecCodes logged since [`clear`] when that adds anything.
pub fn with_reason(message: String) -> String {
    let last = MESSAGES.lock().ok().and_then(|m| m.last().cloned());
    match last {
        Some(reason) if !reason.is_empty() && !message.contains(&reason) => format!("{message} (ecCodes: {reason})"),
        _ => message,
    }
}
