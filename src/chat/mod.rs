//! Chat: one mapping from what people do on any platform to what happens (`interact`), the
//! answers every platform gives (`answers`), and one adapter per platform.
//!
//! Platform knowledge stays in `slack`, `teams` and `sandbox`; the core never sees a `thread_ts`.
//! What is drawn is defined once in [`crate::posts`].

pub mod answers;
pub mod interact;
pub mod sandbox;
pub mod slack;
pub mod teams;

pub use crate::posts::{
    Button, Delivery, GrammarError, Line, Message, MessageKind, Origin, Span, Target, Typed,
    compose, fanout, forms, grammar, message,
};
pub use interact::{Asker, FormView, Input, Reply};
