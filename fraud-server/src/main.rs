//! `fraud-server`: parses the command line and calls into the library.

use clap::Parser;
use fraud_server::cli::{Cli, Invocation};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => fraud_server::serve(cli.serve).map_err(|e| e.to_string()),
        Some(Invocation::Serve(config)) => fraud_server::serve(config).map_err(|e| e.to_string()),
        Some(Invocation::Tool(command)) => {
            let stdout = std::io::stdout();
            match fraud_server::cli::run(command, &mut stdout.lock()) {
                // A reader that stopped reading (`| head -1`) is not an error.
                Err(e) if e.is_broken_pipe() => Ok(()),
                other => other.map_err(|e| e.to_string()),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
