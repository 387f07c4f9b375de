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

pub use command::{Answers, Command, Concerns, ContactFormat, DeterminedAction, RaiseDetails};
pub use decide::{Context, decide, escalation_target, handle};
pub use event::{Event, EventBody, StepDue, ThreadRef};
pub use offers::{
    LateStep, Lateness, duty_key, expected, lateness, offers, open_steps, probe, split_duty,
    stage_met,
};
pub use people::{Side, board_people, board_people_for, can_act, owners_for, side_of};
pub use reference::{Reference, ReferenceError};
pub use refusal::Refusal;
pub use state::{Acknowledgement, Determination, Dispute, Proposal, Status};
pub use system::{SystemCommand, decide_system};
pub use verb::Verb;
