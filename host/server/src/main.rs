//! The `portico` command.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    portico::cli::main()
}
