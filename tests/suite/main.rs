//! The integration test suite: one test binary, one module per area.

mod helpers;
mod interaction;

mod core_rules;
mod deadlines;
mod policy_check;
mod properties_calendar;
mod properties_core;
mod properties_grammar;
mod screen_cli;
mod screen_corpus;
mod screen_paths;
mod simulate_cli;

mod board_view;
mod databases;
mod properties_chain;
mod report_log;
mod sandbox_api;
mod sandbox_browser;
mod scheduler_once;
mod scheduler_policies;
mod scheduler_replicas;
mod scheduler_rig;
mod scheduler_steps;
mod service_projections;
mod slack_api;
mod slack_app;
mod slack_manifest;
mod slack_server;
mod store_audit;
mod store_concurrency;
mod store_directory;
mod store_faults;
mod store_outbox;
mod store_projections;
mod store_sandbox;
mod store_simulate;
mod teams_app;
mod teams_auth;
mod teams_connector;
mod teams_delivery;
mod teams_invoke;
mod teams_journey;
mod teams_package;
