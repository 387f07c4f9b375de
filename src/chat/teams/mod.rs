//! Microsoft Teams: Bot Framework authentication, Adaptive Cards, the Bot Connector client, and
//! the app package.
//!
//! Requests come in at `POST /api/messages` ([`inbound`]), are authenticated ([`auth`]) before
//! they are believed, and go through the same service as Slack's; posts go out through the shared
//! delivery worker ([`inbound::TeamsPoster`] with [`client`]), rendered as cards ([`cards`]).

pub mod activity;
pub mod auth;
pub mod cards;
pub mod client;
pub mod forms;
pub mod inbound;
pub mod known;
pub mod package;
#[cfg(feature = "bench")]
pub mod standin;

pub use crate::config::BotRegistration;
