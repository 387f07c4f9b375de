//! Bot Framework wire types: the Activity Teams sends us, and the pieces of it we read.
//!
//! Only what the service uses is modelled; unknown fields are ignored, missing optional ones
//! default, so a new Teams field never turns a request into a 400.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Teams channel id carried by every activity from Teams.
pub const MSTEAMS: &str = "msteams";

/// The invoke name of an Adaptive Card `Action.Execute` (Universal Actions).
pub const ADAPTIVE_CARD_ACTION: &str = "adaptiveCard/action";

/// An Activity as Teams POSTs it to the messaging endpoint.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub service_url: String,
    #[serde(default)]
    pub from: ChannelAccount,
    #[serde(default)]
    pub recipient: ChannelAccount,
    #[serde(default)]
    pub conversation: ConversationAccount,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub value: Option<Value>,
    /// The invoke's name, e.g. `adaptiveCard/action`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub reply_to_id: Option<String>,
    #[serde(default)]
    pub channel_data: Option<ChannelData>,
    /// `conversationUpdate`: who joined the conversation (the bot itself when it is added).
    #[serde(default)]
    pub members_added: Vec<ChannelAccount>,
    /// `conversationUpdate`: who left it (the bot itself when it is removed).
    #[serde(default)]
    pub members_removed: Vec<ChannelAccount>,
    /// `installationUpdate`: `add` or `remove` (with `-upgrade` when the app was upgraded).
    #[serde(default)]
    pub action: Option<String>,
}

/// A user or bot: `29:…` for users (with their Entra object id), `28:<app id>` for bots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub aad_object_id: Option<String>,
}

/// The conversation: a channel thread, a group chat, or a personal (1:1) chat.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub conversation_type: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub is_group: Option<bool>,
}

/// An entity attached to a message; mentions are the ones we read.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Entity {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub mentioned: Option<ChannelAccount>,
    #[serde(default)]
    pub text: Option<String>,
}

/// Teams' own data: tenant, team and channel.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    #[serde(default)]
    pub tenant: Option<IdOnly>,
    #[serde(default)]
    pub team: Option<IdOnly>,
    #[serde(default)]
    pub channel: Option<IdOnly>,
    #[serde(default)]
    pub teams_channel_id: Option<String>,
}

/// `{ "id": … }`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IdOnly {
    #[serde(default)]
    pub id: String,
}

/// The two fields authentication needs from an activity before it is believed: read first,
/// from the verified body, so the rest is parsed only once the token matches it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(default)]
    pub service_url: String,
    #[serde(default)]
    pub channel_id: String,
}

impl Activity {
    /// The tenant the activity comes from (`channelData.tenant.id`, else `conversation.tenantId`).
    pub fn tenant(&self) -> Option<&str> {
        self.channel_data
            .as_ref()
            .and_then(|d| d.tenant.as_ref())
            .map(|t| t.id.as_str())
            .or(self.conversation.tenant_id.as_deref())
            .filter(|t| !t.is_empty())
    }

    /// The channel id (`19:…@thread.tacv2`) of a channel conversation: `channelData.channel.id`,
    /// else the part of `conversation.id` before `;messageid=`.
    pub fn channel(&self) -> Option<&str> {
        if self.conversation.conversation_type.as_deref() != Some("channel") {
            return None;
        }
        self.channel_data
            .as_ref()
            .and_then(|d| {
                d.channel
                    .as_ref()
                    .map(|c| c.id.as_str())
                    .or(d.teams_channel_id.as_deref())
            })
            .filter(|c| !c.is_empty())
            .or_else(|| self.conversation.id.split(';').next())
    }

    /// The message text with the bot's own @mention removed, found by its mention entity
    /// (`mentioned.id` equal to the recipient's id) and never by guessing at the text; what
    /// remains is trimmed. Anyone else mentioned is left as the name the person saw as they
    /// typed (`<at>Dr Okafor</at>` becomes `Dr Okafor`), so the tag never reaches the record or
    /// shows on a card. Teams' non-breaking spaces become ordinary ones.
    pub fn text_without_bot_mention(&self) -> String {
        let mut text = self.text.clone().unwrap_or_default();
        for entity in &self.entities {
            if entity.kind != "mention" {
                continue;
            }
            let Some(mention) = entity.text.as_deref().filter(|m| !m.is_empty()) else {
                continue;
            };
            let is_bot = entity
                .mentioned
                .as_ref()
                .is_some_and(|m| !m.id.is_empty() && m.id == self.recipient.id);
            let shown = if is_bot {
                ""
            } else {
                mention
                    .strip_prefix("<at>")
                    .and_then(|m| m.strip_suffix("</at>"))
                    .unwrap_or(mention)
            };
            text = text.replace(mention, shown);
        }
        text.replace('\u{a0}', " ")
            .replace("&nbsp;", " ")
            .trim()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The channel-thread activity of the Teams .NET SDK's unit tests (platforms.md V4).
    const V4: &str = r#"{
        "type": "message",
        "id": "1759881511856",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "from": { "id": "29:1abc", "name": "Test User", "aadObjectId": "00000000-0000-0000-0000-0000000000aa" },
        "recipient": { "id": "28:0b6fe6d1-ece8-4b8e-9bd5-5a8b7e4b0f00", "name": "ridotest" },
        "conversation": {
            "id": "19:6848757105754c8981c67612732d9aa7@thread.tacv2;messageid=1759881511856",
            "conversationType": "channel",
            "tenantId": "tenant-1"
        },
        "text": "<at>ridotest</at> reply to thread",
        "entities": [
            { "type": "mention", "text": "<at>ridotest</at>",
              "mentioned": { "id": "28:0b6fe6d1-ece8-4b8e-9bd5-5a8b7e4b0f00", "name": "ridotest" } },
            { "type": "clientInfo", "locale": "en-GB" }
        ],
        "channelData": {
            "teamsChannelId": "19:6848757105754c8981c67612732d9aa7@thread.tacv2",
            "channel": { "id": "19:6848757105754c8981c67612732d9aa7@thread.tacv2" },
            "tenant": { "id": "tenant-1" }
        }
    }"#;

    fn v4() -> Activity {
        serde_json::from_str(V4).expect("V4 parses")
    }

    #[test]
    fn the_bot_mention_is_removed_by_its_entity_as_in_vector_v4() {
        assert_eq!(v4().text_without_bot_mention(), "reply to thread");
    }

    #[test]
    fn a_mention_of_someone_else_is_kept_as_their_name() {
        let mut a = v4();
        a.text = Some("<at>ridotest</at> note <at>Dr Okafor</at> agreed".into());
        a.entities.push(Entity {
            kind: "mention".into(),
            mentioned: Some(ChannelAccount {
                id: "29:okafor".into(),
                ..ChannelAccount::default()
            }),
            text: Some("<at>Dr Okafor</at>".into()),
        });
        assert_eq!(a.text_without_bot_mention(), "note Dr Okafor agreed");
    }

    #[test]
    fn text_that_merely_looks_like_the_bots_name_is_not_stripped() {
        let mut a = v4();
        a.entities.clear();
        assert_eq!(
            a.text_without_bot_mention(),
            "<at>ridotest</at> reply to thread"
        );
    }

    #[test]
    fn the_channel_and_tenant_come_from_channel_data() {
        let a = v4();
        assert_eq!(
            a.channel(),
            Some("19:6848757105754c8981c67612732d9aa7@thread.tacv2")
        );
        assert_eq!(a.tenant(), Some("tenant-1"));
        let mut bare = v4();
        bare.channel_data = None;
        assert_eq!(
            bare.channel(),
            Some("19:6848757105754c8981c67612732d9aa7@thread.tacv2")
        );
        assert_eq!(bare.tenant(), Some("tenant-1"));
    }
}
