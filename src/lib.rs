//! escalation-bot: runs Safeguarding Adults Boards' professional-disagreement procedures in chat.
//!
//! The core (`escalation`) is pure: commands in, events out, the clock passed in. Everything else
//! is an adapter around it: policies and calendars it reads, the directory of people, the store
//! that keeps the record, and the chat platforms that carry it.

pub mod calendar;
pub mod chat;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod directory;
pub mod escalation;
pub mod policy;
pub mod posts;
pub mod privacy;
pub mod reminders;
pub mod report;
pub mod scheduler;
pub mod service;
pub mod simulate;
pub mod store;
pub mod web;
