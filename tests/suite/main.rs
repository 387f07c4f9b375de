//! The integration test suite: one test binary, one module per area.

mod helpers;

mod core_rules;
mod deadlines;
mod policy_check;
mod screen_cli;
mod simulate_cli;

mod databases;
mod store_audit;
mod store_concurrency;
mod store_faults;
mod store_outbox;
mod store_projections;
mod store_simulate;
mod slack_manifest;
mod slack_server;
mod slack_app;
mod slack_api;
mod sandbox_api;
mod scheduler_rig;
mod scheduler_policies;
mod sandbox_browser;
mod store_sandbox;
mod teams_connector;
mod teams_app;
mod store_directory;
mod scheduler_once;
mod scheduler_replicas;
mod teams_auth;
mod teams_journey;
mod teams_delivery;
mod teams_invoke;
mod teams_package;
