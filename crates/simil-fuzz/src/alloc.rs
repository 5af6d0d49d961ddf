//! A global allocator that records any single allocation over [`ALLOC_CAP`]: a decoder that
//! trusts a length from its input before checking it against the bytes it has shows up here
//! even when the machine could have served the allocation.
//!
//! Unwinding out of an allocator is undefined behaviour, so it does not panic: it records the
//! size, serves the request from the system allocator (which aborts the process if it cannot),
//! and [`crate::run_one`] reports the input as a failure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest single allocation any decoder may make for a fuzz input: 64 MiB. Inputs are at
/// most a few hundred KB, and the formats' own caps (a head's 64 M parameters, `MAX_DIM`
/// 4096, 10⁴ hits) are reachable only with files that large.
pub const ALLOC_CAP: usize = 64 << 20;

static OVER: AtomicUsize = AtomicUsize::new(0);

/// [`System`], recording allocations over [`ALLOC_CAP`].
pub struct CappedAlloc;

unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    if size > ALLOC_CAP {
        OVER.fetch_max(size, Ordering::Relaxed);
    }
}

/// Forgets earlier over-cap allocations.
pub fn reset() {
    OVER.store(0, Ordering::Relaxed);
}

/// The largest allocation over the cap since [`reset`], if any.
pub fn over_cap() -> Option<usize> {
    match OVER.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}
