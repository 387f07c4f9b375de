//! The Dispute aggregate: commands in, events out, no I/O, the clock passed in.
//!
//! `decide` checks a command against the dispute's state, the board's policy, the working-day
//! calendar and the directory, and returns the events it causes or a `Refusal` a person can act
//! on. `Dispute::apply` folds events into state; the same events always give the same state,
//! whether replayed from the record or kept live.

mod command;
mod decide;
mod event;
mod offers;
mod people;
mod reference;
mod refusal;
mod state;
mod system;
mod verb;

pub use command::{Command, Concerns, ContactFormat, RaiseDetails};
pub use decide::{Context, decide, handle};
pub use event::{Event, EventBody, StepDue, ThreadRef};
pub use offers::{Lateness, expected, lateness, offers, open_steps, probe, stage_met};
pub use people::{Side, can_act, owners_for, side_of};
pub use reference::{Reference, ReferenceError};
pub use refusal::Refusal;
pub use state::{Acknowledgement, Dispute, Proposal, Status};
pub use system::{SystemCommand, decide_system};
pub use verb::Verb;
