//! Request bodies of the sharing commands, and their parsing into domain values.

use domain::share::inbox::SeenVia;
use domain::share::{Audience, ShareTitle, SharedUrl};
use domain::user::UserId;
use serde::Deserialize;

use crate::error::CommandError;

/// `POST /v1/commands/share-url`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    pub url: String,
    pub title: String,
    /// The friends to share with; every current friend when absent.
    #[serde(default)]
    pub to: Option<Vec<String>>,
}

/// A page to share, validated.
#[derive(Debug)]
pub struct Page {
    pub url: SharedUrl,
    pub title: ShareTitle,
    pub audience: Audience,
}

impl ShareBody {
    pub fn parse(&self) -> Result<Page, CommandError> {
        let audience = match &self.to {
            None => Audience::AllFriends,
            Some(ids) => Audience::Chosen(
                ids.iter()
                    .map(|id| UserId::parse(id))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Page {
            url: SharedUrl::parse(&self.url)?,
            title: ShareTitle::parse(&self.title)?,
            audience,
        })
    }
}

/// `POST /v1/commands/mark-share-seen`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeenBody {
    pub share_id: String,
    /// `"notification"` (the default: the list of notifications) or `"page"` (the
    /// recipient opened the shared page).
    #[serde(default = "in_the_list")]
    #[schema(value_type = String, example = "page")]
    pub via: SeenVia,
}

fn in_the_list() -> SeenVia {
    SeenVia::Notification
}

/// `POST /v1/commands/mark-all-shares-seen`: an empty object.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllSeenBody {}
