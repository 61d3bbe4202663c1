//! The unit tests' global allocator: the system allocator, counting the live
//! bytes each thread allocated, so a test can measure what a structure costs
//! on the heap ([`live`] before and after). Only in `cargo test` builds of
//! the library; the binary runs on mimalloc (`main.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread (requested sizes).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    // `try_with`: a thread being torn down frees memory after its
    // thread-locals are gone; that is not counted.
    let _ = LIVE.try_with(|l| l.set(l.get() + n));
}

/// Live heap bytes the current thread allocated (and has not freed).
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        System.alloc(l)
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        System.alloc_zeroed(l)
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        System.dealloc(p, l)
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        add(new as isize - l.size() as isize);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[cfg(test)]
mod tests {
    #[test]
    fn counts_what_this_thread_holds() {
        let before = super::live();
        // black_box: an allocation nothing reads may be elided by the optimiser.
        let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(1000));
        assert_eq!(super::live() - before, 8000);
        drop(v);
        assert_eq!(super::live(), before);
    }
}
