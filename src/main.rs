//! The `flowdeck` binary: parse the command line, run it.

use clap::Parser;

fn main() -> std::process::ExitCode {
    flowdeck::cli::run(flowdeck::cli::Cli::parse())
}
