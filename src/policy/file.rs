//! The policy file as written: TOML tables with positions kept, so problems can name their line.

use serde::Deserialize;
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub id: S<String>,
    pub name: S<String>,
    pub reference_prefix: S<String>,
    pub document: S<String>,
    #[serde(default)]
    pub stage_word: Option<String>,
    pub calendar: S<String>,
    #[serde(default)]
    pub working_hours: Option<HoursFile>,
    #[serde(default)]
    pub calendar_days: Option<S<CalendarDaysFile>>,
    #[serde(default)]
    pub covers: Option<S<CoversFile>>,
    pub levels: Vec<LevelFile>,
    pub categories: Vec<CategoryFile>,
    pub urgent: S<UrgentFile>,
    #[serde(default)]
    pub acknowledgement: Option<S<AcknowledgementFile>>,
    #[serde(default)]
    pub delay_reason: Option<S<DelayReasonFile>>,
    #[serde(default)]
    pub reminders: Option<S<RemindersFile>>,
    pub record_keeping: S<RuleFile>,
    pub resolution: S<RuleFile>,
    pub learning: S<RuleFile>,
    pub board: BoardFile,
    #[serde(rename = "ladder")]
    pub ladders: Vec<S<LadderFile>>,
    #[serde(rename = "stage")]
    pub stages: Vec<S<StageFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HoursFile {
    pub open: S<String>,
    pub close: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CalendarDaysFile {
    pub on_non_working_day: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CoversFile {
    pub who: Vec<S<String>>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LevelFile {
    pub id: S<String>,
    pub name: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CategoryFile {
    pub id: S<String>,
    pub name: S<String>,
    pub source: S<String>,
    #[serde(default)]
    pub guidance: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    pub prompt: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UrgentFile {
    pub prompt: S<String>,
    pub source: S<String>,
    #[serde(default)]
    pub notify: Vec<S<NoticeFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AcknowledgementFile {
    pub window: S<LimitFile>,
    pub nudge_levels: Vec<S<String>>,
    pub prompt: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DelayReasonFile {
    pub required: bool,
    pub prompt: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BoardFile {
    pub name: S<String>,
    #[serde(rename = "rung")]
    pub rungs: Vec<S<BoardRungFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BoardRungFile {
    pub id: S<String>,
    pub title: S<String>,
    pub role: S<String>,
    #[serde(default)]
    pub serves: Option<S<ServesFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServesFile {
    #[serde(default)]
    pub concerns: Vec<S<String>>,
    #[serde(default)]
    pub categories: Vec<S<String>>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LadderFile {
    pub kind: S<String>,
    pub name: S<String>,
    pub source: S<String>,
    pub rungs: Vec<S<RungFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RungFile {
    pub id: S<String>,
    pub title: S<String>,
    pub level: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageFile {
    pub number: S<u32>,
    pub name: S<String>,
    pub source: S<String>,
    #[serde(default)]
    pub level: Option<S<String>>,
    #[serde(default)]
    pub raising_level: Option<S<String>>,
    #[serde(default)]
    pub receiving_level: Option<S<String>>,
    #[serde(default)]
    pub acknowledge: bool,
    #[serde(default)]
    pub formal_challenge: bool,
    #[serde(default)]
    pub limit: Option<S<LimitFile>>,
    #[serde(default)]
    pub no_limit: Option<S<NoLimitFile>>,
    #[serde(default)]
    pub limit_not_stated: Option<S<SourceOnly>>,
    #[serde(default)]
    pub decided_by: Option<S<DecisionFile>>,
    #[serde(default)]
    pub through: Vec<S<ThroughFile>>,
    #[serde(default)]
    pub bring_forward: Option<S<SourceOnly>>,
    #[serde(default)]
    pub owners_move: Option<S<SourceOnly>>,
    #[serde(default)]
    pub repeats: Option<S<RuleFile>>,
    #[serde(default)]
    pub form: Option<S<FormFile>>,
    #[serde(default)]
    pub notify: Vec<S<NoticeFile>>,
    #[serde(default)]
    pub exclude: Vec<S<ExcludeFile>>,
    #[serde(default, rename = "step")]
    pub steps: Vec<S<StepFile>>,
    pub prompt: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitFile {
    #[serde(default)]
    pub days: Option<S<u32>>,
    #[serde(default)]
    pub hours: Option<S<u32>>,
    #[serde(default)]
    pub same_working_day: Option<S<bool>>,
    #[serde(default)]
    pub unit: Option<S<String>>,
    pub from: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionFile {
    pub body: S<String>,
    pub name: S<String>,
    pub owner: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThroughFile {
    pub kind: S<String>,
    pub via_kind: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoLimitFile {
    pub words: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceOnly {
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FormFile {
    pub id: S<String>,
    pub name: S<String>,
    pub source: S<String>,
    #[serde(default)]
    pub template: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoticeFile {
    pub who: S<String>,
    pub when: S<String>,
    pub message: S<String>,
    pub source: S<String>,
    #[serde(default)]
    pub id: Option<S<String>>,
    #[serde(default)]
    pub ask: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExcludeFile {
    pub who: S<String>,
    pub source: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepFile {
    pub id: S<String>,
    pub name: S<String>,
    pub source: S<String>,
    #[serde(default)]
    pub limit: Option<S<LimitFile>>,
    #[serde(default)]
    pub by: Option<S<String>>,
    pub prompt: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RemindersFile {
    pub working_days_before: Vec<S<u32>>,
    pub source: S<String>,
}
