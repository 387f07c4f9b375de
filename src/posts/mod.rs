//! What people see and type, the same on every platform: the message model, the posts a
//! dispute's events cause and where they go, every form, and the typed commands.
//!
//! These are leaves: they read the core's state and the board's policy and write plain data
//! (messages, forms, outbox rows). The service plans posts with them; the chat adapters draw
//! them for Slack, Teams and the sandbox.

pub mod combine;
pub mod compose;
pub mod fanout;
pub mod forms;
pub mod grammar;
pub mod message;

pub use fanout::Origin;
pub use grammar::{GrammarError, Typed};
pub use message::{
    Button, COMMAND_ACTION, CommandButton, Delivery, Line, Message, MessageKind, Span, Target,
};
