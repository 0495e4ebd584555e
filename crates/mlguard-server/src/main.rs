#![doc = include_str!("../README.md")]

mod cli;
mod config;
mod healthcheck;
mod http;
mod import;
mod secrets;
mod serve;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc hands large freed blocks back to the system: each argon2 check takes
/// 19 MiB, which glibc's allocator would otherwise keep for the life of the process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = cli::run(cli);
    telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Logging may not be set up yet (bad configuration): say it plainly.
            eprintln!("mlguard: {error}");
            ExitCode::FAILURE
        }
    }
}
