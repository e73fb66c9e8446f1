//! `idp-shared`: what two or more parts of the identity provider need, and nothing else.

pub mod admin;
pub mod bearer;
pub mod cache;
pub mod cache_keys;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod http_client;
pub mod names;
pub mod parsed;
pub mod realms;
pub mod security;
pub mod service;
pub mod telemetry;
pub mod testkit;

pub use config::{ServiceKind, Settings};

/// Every part allocates through mimalloc: under token load glibc's malloc took a tenth of the
/// platform's CPU (idp-bench with perf), much of it in arena locks and consolidation. Declared
/// here so each binary that links the platform gets it without a line of its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use service::{IdpService, ServiceContext, StartError};
