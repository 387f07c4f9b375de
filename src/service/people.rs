//! Changes to the directory made from the chat: an agency admin connecting the channel their
//! agency's challenges are threaded in. Each is applied as a recorded directory change, the
//! same way `directory import` applies one, and taken up at once.

use super::{Service, ServiceError};
use crate::directory::{Channel, Directory, Person, Platform, normal_email};
use crate::posts::{Delivery, Origin, Target, compose};
use crate::store::StoreError;

/// How many times a change made from the chat is prepared again when a change applied
/// meanwhile (an import, another replica's) came first.
const CHANGE_RETRIES: u32 = 5;

/// What `connect` comes to on one version of the directory.
enum Connect {
    /// Nothing to change: the answer, or the refusal (`Err`).
    Answer(Result<String, String>),
    /// The directory with the channel connected, and what to record and say.
    Change(Box<Connected>),
}

/// A connect to apply: the next directory, the change's summary, the agency and the channel.
struct Connected {
    next: Directory,
    summary: String,
    agency: crate::directory::Agency,
    origin: Origin,
}

impl Service {
    /// `connect`: the channel the command was typed in becomes the asker's agency's challenges
    /// channel, when the directory names them an admin of that agency. The confirmation is
    /// posted in the channel; the answer to the asker is returned. `Err` is the answer when
    /// nothing was changed, saying why and what to do. It is applied on the newest directory
    /// change: an import applied meanwhile is taken up first and kept, never overwritten.
    pub async fn connect_channel(
        &self,
        person: &Person,
        origin: Option<&Origin>,
        channel_name: &str,
        command_word: &str,
    ) -> Result<String, String> {
        let mut tries = 0;
        let (agency, origin) = loop {
            if let Err(e) = self.refresh_directory().await {
                tracing::warn!(error = %e, "connect: the newest directory change could not be read");
            }
            let dir = self.stored_directory();
            let based_on = dir.version().map_or(0, |v| v.change);
            let (next, summary, connected) =
                match plan_connect(&dir, person, origin, channel_name, command_word) {
                    Connect::Answer(answer) => return answer,
                    Connect::Change(c) => {
                        let Connected {
                            next,
                            summary,
                            agency,
                            origin,
                        } = *c;
                        (next, summary, (agency, origin))
                    }
                };
            let applied = self
                .store
                .apply_directory(&next.to_stored(), &summary, based_on, self.now())
                .await;
            match applied {
                Ok(_) => break connected,
                Err(StoreError::DirectoryChanged { .. }) if tries < CHANGE_RETRIES => tries += 1,
                Err(e) => {
                    tracing::error!(error = %e, "connect: the directory change could not be recorded");
                    return Err(
                        "The channel could not be connected just now; nothing changed. Please try again."
                            .to_string(),
                    );
                }
            }
        };
        if let Err(e) = self.refresh_directory().await {
            tracing::warn!(error = %e, "connect: recorded, but not yet taken up here");
        }
        let text = format!(
            "{}'s challenges are threaded in this channel from now on: new challenges raised by or with the agency start their thread here. Connected by {}.",
            agency.name, person.name
        );
        let target = Target {
            platform: origin.platform,
            workspace: origin.workspace.clone(),
            delivery: Delivery::Notice {
                channel: origin.channel.clone(),
            },
        };
        let owner = format!("connect/{}", agency.id);
        let key = format!(
            "connect|{}|{}|{}|{}",
            agency.id,
            origin.platform,
            origin.channel,
            self.directory_version()
        );
        let message = compose::channel_notice("Channel connected", &text);
        if let Err(e) = self.reply_privately(&owner, key, &target, &message).await {
            tracing::warn!(error = %e, "connect: the confirmation could not be queued");
        }
        Ok(format!(
            "Connected: this is now {}'s challenges channel.",
            agency.name
        ))
    }
}

/// What `connect` asked by `person` in `origin` comes to on the directory `dir`.
fn plan_connect(
    dir: &Directory,
    person: &Person,
    origin: Option<&Origin>,
    channel_name: &str,
    command_word: &str,
) -> Connect {
    let refuse = |text: String| Connect::Answer(Err(text));
    let Some(agency) = dir.agency(&person.agency) else {
        return refuse(format!(
            "Your agency {} is not in the directory; ask the board's business unit to add it.",
            person.agency
        ));
    };
    if !dir.is_admin(person) {
        let admins: Vec<String> = dir
            .admins_of(&agency.id)
            .iter()
            .map(|p| p.name.clone())
            .collect();
        return refuse(if admins.is_empty() {
            format!(
                "Only an administrator of {} can connect its challenges channel, and the directory names none yet. Ask the board's business unit to add one.",
                agency.name
            )
        } else {
            format!(
                "Only an administrator of {} can connect its challenges channel. Ask {} to type `{command_word} connect` in the channel to use.",
                agency.name,
                admins.join(" or ")
            )
        });
    }
    let Some(origin) = origin.filter(|o| !o.channel.is_empty()) else {
        return refuse(format!(
            "Type `{command_word} connect` in the channel {}'s challenges should be threaded in.",
            agency.name
        ));
    };
    match dir.agency_of_channel(origin.platform, &origin.workspace, &origin.channel) {
        Some(a) if a.id == agency.id => {
            return Connect::Answer(Ok(format!(
                "This channel is already {}'s challenges channel; nothing changed.",
                agency.name
            )));
        }
        Some(other) => {
            return refuse(format!(
                "This channel is {}'s challenges channel; each agency needs its own. Type `{command_word} connect` in another channel.",
                other.name
            ));
        }
        None => {}
    }
    let name = if channel_name.trim().is_empty() {
        origin.channel.clone()
    } else {
        channel_name.trim().to_string()
    };
    let next = dir.with_connected(
        &agency.id,
        Channel {
            platform: origin.platform,
            workspace: origin.workspace.clone(),
            channel: origin.channel.clone(),
            name: name.clone(),
            connected: true,
        },
    );
    let summary = format!(
        "connect: {} ({}) channel {} ({}) in {}, by {}",
        agency.id,
        origin.platform,
        origin.channel,
        name,
        origin.workspace,
        person.email.as_deref().unwrap_or(&person.id.0)
    );
    Connect::Change(Box::new(Connected {
        next,
        summary,
        agency: agency.clone(),
        origin: origin.clone(),
    }))
}

/// What the service calls a link it made by matching a verified work email.
pub const LINKED_BY_EMAIL: &str = "work email";

impl Service {
    /// The person a chat identity was linked to, where the store has a link this process has
    /// not taken up yet (made on another replica): takes it up and returns them.
    pub async fn linked_person(
        &self,
        platform: Platform,
        workspace: &str,
        user: &str,
    ) -> Result<Option<Person>, ServiceError> {
        let Some(email) = self
            .store
            .identity_link(&platform.to_string(), workspace, user)
            .await?
        else {
            return Ok(None);
        };
        self.refresh_directory().await?;
        Ok(self.directory().by_email(&email).cloned())
    }

    /// Links a chat identity to the person whose work email the platform verified, recording
    /// the link; later requests find them without asking the platform. `Err` is the answer for
    /// someone the directory does not know: it names their agency's administrators where the
    /// email's domain is an agency's, and those administrators are told once.
    pub async fn link_by_email(
        &self,
        platform: Platform,
        workspace: &str,
        user: &str,
        email: &str,
    ) -> Result<Person, String> {
        let dir = self.directory();
        if dir.by_email(email).is_some() {
            let recorded = self
                .store
                .link_identity(
                    &platform.to_string(),
                    workspace,
                    user,
                    Some(&normal_email(email)),
                    LINKED_BY_EMAIL,
                    self.now(),
                )
                .await;
            if let Err(e) = recorded {
                tracing::error!(error = %e, "link: the identity link could not be recorded");
                return Err("You could not be recognised just now. Please try again.".into());
            }
            if let Err(e) = self.refresh_directory().await {
                tracing::warn!(error = %e, "link: the new link is recorded but not yet taken up");
            }
            let dir = self.directory();
            if let Some(p) = dir.by_email(email) {
                tracing::info!(person = %p.id, %platform, "linked a chat identity by work email");
                return Ok(p.clone());
            }
        }
        let Some(agency) = dir.agency_by_domain(email) else {
            let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
            return Err(format!(
                "Your organisation ({domain}) is not in the escalation-bot directory, so you cannot raise or act on challenges yet. Ask your agency's escalation-bot administrator to add your agency and its email domain."
            ));
        };
        let admins = dir.admins_of(&agency.id);
        self.tell_admins_once(&dir, &agency.name, &admins, email, platform)
            .await;
        if admins.is_empty() {
            return Err(format!(
                "Your work email {email} is not in the escalation-bot directory of {} yet, so you cannot raise or act on challenges. Ask your agency's escalation-bot administrator to add you.",
                agency.name
            ));
        }
        let names: Vec<String> = admins
            .iter()
            .map(|a| match &a.email {
                Some(e) => format!("{} ({e})", a.name),
                None => a.name.clone(),
            })
            .collect();
        Err(format!(
            "Your work email {email} is not in the escalation-bot directory of {} yet, so you cannot raise or act on challenges. {} administers it for {}: ask them to add you.",
            agency.name,
            names.join(" or "),
            agency.name
        ))
    }

    /// Tells an agency's administrators, once per email, that someone outside the directory
    /// tried to use the service.
    async fn tell_admins_once(
        &self,
        dir: &Directory,
        agency: &str,
        admins: &[&Person],
        email: &str,
        platform: Platform,
    ) {
        let targets: Vec<(String, Target)> = admins
            .iter()
            .filter_map(|a| {
                crate::posts::fanout::direct_target(dir, &a.id).map(|t| (a.id.0.clone(), t))
            })
            .collect();
        if targets.is_empty() {
            return;
        }
        let once = format!("unknown-email:{}", normal_email(email));
        match self.store.claim_inbound(&once, self.now()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot note that an admin was told; not telling now");
                return;
            }
        }
        let text = format!(
            "{email} tried to use escalation-bot on {platform}, and the directory of {agency} does not list them. If they work for {agency}, add them to its people (the CSV you import) so they can raise and act on challenges."
        );
        let message = compose::channel_notice("Someone is not in your directory", &text);
        for (admin, target) in targets {
            let owner = format!("admin/{admin}");
            let key = format!("{once}|{admin}");
            if let Err(e) = self.reply_privately(&owner, key, &target, &message).await {
                tracing::warn!(error = %e, "cannot tell an admin about an unknown email");
            }
        }
    }
}

impl Service {
    /// Tells the boards of the agencies whose channels are in a workspace (a Slack team, a
    /// Teams tenant) something about it, such as the app being removed there; each board's
    /// channel once per call.
    pub async fn tell_boards_about_workspace(
        &self,
        platform: Platform,
        workspace: &str,
        title: &str,
        text: &str,
    ) {
        let dir = self.directory();
        let mut boards: Vec<&str> = dir
            .agencies()
            .filter(|a| {
                a.channels
                    .iter()
                    .any(|c| c.platform == platform && c.workspace == workspace)
            })
            .map(|a| a.board.as_str())
            .collect();
        boards.sort_unstable();
        boards.dedup();
        let message = compose::channel_notice(title, text);
        let at = self.now().timestamp_micros();
        for board in boards {
            for target in crate::posts::fanout::board_channels(&dir, board) {
                let owner = format!("workspace/{board}");
                let key = format!(
                    "workspace|{platform}|{workspace}|{board}|{}|{title}|{at}",
                    target.key()
                );
                if let Err(e) = self.reply_privately(&owner, key, &target, &message).await {
                    tracing::warn!(error = %e, "cannot tell a board about a workspace");
                }
            }
        }
    }
}
