//! Slack: request signatures, Block Kit rendering, modals, and the Web API client.

pub mod client;
pub mod inbound;
pub mod install;
pub mod once;
pub mod render;
pub mod tokens;
pub mod verify;
pub mod views;
