//! The allocator: mimalloc (its mature v2 line) instead of glibc's malloc, for every binary built
//! on this library (the server, its tests and benches), and a way to hand freed memory back to
//! the OS at once.
//!
//! Rendering a page is thousands of small allocations: a CPU profile of the list pages under
//! load (issue 16) spent a quarter to a third of the time in glibc's malloc, free and
//! consolidation, and in waking threads blocked on its arena locks (the server capped glibc at two
//! arenas to keep RSS down). With mimalloc the same binary served the home page 2.4× and
//! `/deployments/history` 1.8× as fast, at the same idle RSS. mimalloc keeps freed memory for
//! reuse until its next purge, which only runs when the allocator is next busy: after a
//! password hash (9 MiB that nothing else reuses) `give_back` purges at once.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns this thread's freed memory to the OS now (after a large, transient allocation).
pub fn give_back() {
    // SAFETY: mi_collect only walks mimalloc's own structures of the calling thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
