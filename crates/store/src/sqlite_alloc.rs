//! SQLite's own allocations through mimalloc, the allocator the rest of the process uses.
//!
//! sqlx clears a statement's bindings after every run, so SQLite frees and allocates again a
//! copy of every bound value each time: tens of thousands of small blocks per flash-sale batch.
//! Through the C library's allocator that was a fifth of the writer thread's time (its free
//! lists overflow and every block takes the arena's slow path); through mimalloc, a tenth,
//! and the in-process flash-sale bench sells 11–22% more orders a second (three alternating
//! pairs of runs).

// The one place Souk calls C itself: SQLite takes its allocator as a table of C functions.
#![allow(unsafe_code)]

use libsqlite3_sys as ffi;
use std::os::raw::{c_int, c_void};
use std::sync::Once;

extern "C" {
    // In the mimalloc library `libmimalloc_sys` links; that crate declares it only behind a
    // feature.
    fn mi_usable_size(p: *const c_void) -> usize;
}

unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_malloc(n.max(0) as usize)
}

unsafe extern "C" fn free(p: *mut c_void) {
    libmimalloc_sys::mi_free(p)
}

unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_realloc(p, n.max(0) as usize)
}

unsafe extern "C" fn size(p: *mut c_void) -> c_int {
    c_int::try_from(mi_usable_size(p)).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn roundup(n: c_int) -> c_int {
    n.saturating_add(7) & !7
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

/// Installs the allocator; must run before SQLite opens its first database in this process,
/// and does nothing after (SQLite then keeps the one it started with).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: SQLITE_CONFIG_MALLOC copies the table it is given, and is refused with
        // SQLITE_MISUSE once SQLite is initialised; the functions meet its contract (8-byte
        // aligned blocks, `xSize` of a block they allocated, NULL on failure).
        let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) };
        if rc != ffi::SQLITE_OK {
            tracing::debug!(rc, "SQLite was already initialised; it keeps its allocator");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_report_at_least_their_size_and_round_up_to_eight() {
        unsafe {
            let p = malloc(13);
            assert!(!p.is_null());
            assert_eq!(p as usize % 8, 0);
            assert!(size(p) >= 13);
            let q = realloc(p, 5000);
            assert!(size(q) >= 5000);
            free(q);
            assert_eq!((roundup(1), roundup(8), roundup(9)), (8, 8, 16));
        }
    }
}
