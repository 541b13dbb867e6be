//! The `flowdeck` binary: parse the command line, run it.

use clap::Parser;

fn main() -> std::process::ExitCode {
    limit_allocator_retention();
    flowdeck::cli::run(flowdeck::cli::Cli::parse())
}

/// Each argon2id hash allocates 19 MiB. glibc's dynamic mmap threshold would serve later ones
/// from the heap and keep that memory resident after the hash (idle RSS 11 MB → 31 MB after one
/// login). A fixed threshold returns large blocks to the OS when freed; two arenas keep
/// per-thread heaps from multiplying.
fn limit_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
