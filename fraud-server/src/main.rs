//! `fraud-server`: parses the command line and calls into the library.

use clap::Parser;
use fraud_server::cli::{run, Cli};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    match run(cli.command, &mut stdout.lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
