//! flowdeck: a self-hosted dashboard for lean remote engineering teams.
//! One folder per capability; see docs/ARCHITECTURE.md.

pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod deploys;
pub mod docs;
pub mod error;
pub mod home;
pub mod hooks;
pub mod insight;
pub mod memory;
pub mod ops;
pub mod outbox;
pub mod presence;
pub mod releases;
pub mod rhythm;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod ui;
