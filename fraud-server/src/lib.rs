//! The `fraud-server` crate: the command-line tool (and, with the server
//! issue, the HTTP server) over `fraud-engine`.

pub mod cli;
