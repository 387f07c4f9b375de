//! Platform-neutral chat: the command grammar, the message model, and which posts events cause.
//!
//! Platform knowledge stays in `slack`, `teams` and `sandbox`; the core never sees a `thread_ts`.

pub mod answers;
pub mod compose;
pub mod fanout;
pub mod forms;
pub mod grammar;
pub mod interact;
pub mod message;
pub mod sandbox;
pub mod slack;
pub mod teams;

pub use fanout::Origin;
pub use grammar::{GrammarError, Typed};
pub use interact::{Asker, FormView, Input, Reply};
pub use message::{Button, Delivery, Line, Message, MessageKind, Span, Target};
