//! sipedge: a thread-per-core, shared-nothing SIP edge.
//!
//! Three rooms: `sip` (wire format, pure), `core` (edge logic, sans-IO),
//! `shard` (the only async code). Around them: `config`, `control` (main
//! thread), `admin` (HTTP), `telemetry`, `host` (CPUs, limits), `cli`,
//! `tune` (sysctl profiles against the running kernel), `subscribers` (the
//! `users` subcommand's file editor), `ctl` (the command line's admin client).

pub mod admin;
pub mod cli;
pub mod config;
pub mod control;
pub mod core;
pub mod ctl;
#[cfg(test)]
pub mod heap_probe;
pub mod host;
pub mod reason;
pub mod services;
pub mod shard;
pub mod sip;
pub mod subscribers;
pub mod telemetry;
pub mod tls;
pub mod tune;
