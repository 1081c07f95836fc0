//! Sharing commands: `POST /v1/commands/share-url`, `/mark-share-seen` and
//! `/mark-all-shares-seen`.
//!
//! A share is its own aggregate (`share`/<new UUID>); its URL, title and domain are
//! sealed with the sharer's key. Who the sharer's friends are comes from the
//! `friendships` view, and what the caller has received and seen from the `shares` view
//! ([`store`]); the domain decides with those facts.

pub mod body;
pub mod store;

use auth::AuthUser;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use domain::share::inbox::{
    Inbox, InboxCommand, InboxEvent, MarkAllSharesSeen, MarkShareSeen, SeenVia,
};
use domain::share::{Share, ShareCommand, ShareEvent, ShareId, ShareUrl};
use domain::user::UserId;
use event_store::codec::Upcasters;
use event_store::AggregateRepository;
use http_api::{ApiError, Json};
use personal_data::Keys;
use serde::Serialize;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::body::{AllSeenBody, Page, SeenBody, ShareBody};
use crate::error::CommandError;
use crate::users::Accepted;
use crate::{metadata, AppState};

/// What the sharing handlers share: the share and inbox repositories, the views they
/// consult, and the keys that seal a page.
pub struct Commands {
    pool: PgPool,
    keys: Keys,
    shares: AggregateRepository<Share>,
    inboxes: AggregateRepository<Inbox>,
}

/// The answer to `share-url`: the new share's id, and [`Accepted`]'s fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Shared {
    #[schema(value_type = String, format = Uuid)]
    pub share_id: ShareId,
    #[serde(flatten)]
    pub accepted: Accepted,
}

impl Commands {
    pub fn new(pool: PgPool, keys: Keys) -> Self {
        Self {
            shares: AggregateRepository::new(
                pool.clone(),
                Upcasters::default(),
                ShareEvent::current_version,
            ),
            inboxes: AggregateRepository::new(
                pool.clone(),
                Upcasters::of(InboxEvent::UPCASTS),
                InboxEvent::current_version,
            ),
            pool,
            keys,
        }
    }

    /// The command sharing `page`: a new id, the sharer's friends, the page sealed.
    async fn share_command(
        &self,
        sharer: UserId,
        sharer_registered: bool,
        page: Page,
    ) -> Result<ShareUrl, CommandError> {
        let friends = store::friends_of(&self.pool, &sharer)
            .await
            .map_err(CommandError::SharingView)?;
        let owner = sharer.as_str();
        Ok(ShareUrl {
            share_id: ShareId::parse(&uuid::Uuid::new_v4().to_string())?,
            url: self.keys.seal(owner, page.url.as_str()).await?,
            title: self.keys.seal(owner, page.title.as_str()).await?,
            domain: self.keys.seal(owner, page.url.domain().as_str()).await?,
            audience: page.audience,
            friends,
            sharer_registered,
            at: Utc::now(),
            sharer,
        })
    }

    async fn mark(
        &self,
        recipient: &UserId,
        command: InboxCommand,
        headers: &HeaderMap,
    ) -> Result<Json<Accepted>, ApiError> {
        let committed = self
            .inboxes
            .execute(
                recipient.as_str(),
                command,
                &(),
                &metadata(recipient, headers),
            )
            .await
            .map_err(CommandError::from)?;
        Ok(Json(committed.into()))
    }
}

/// The sharing routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share_url))
        .routes(routes!(mark_share_seen))
        .routes(routes!(mark_all_shares_seen))
}

/// Shares a page with all the caller's friends, or with the friends named in `to`.
#[utoipa::path(
    post,
    path = "/v1/commands/share-url",
    tag = "shares",
    request_body = ShareBody,
    responses(
        (status = OK, description = "Carried out, or nothing to change: `position` lets a query read this write", body = Shared),
        http_api::openapi::Forbidden,
    )
)]
async fn share_url(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<ShareBody>,
) -> Result<Json<Shared>, ApiError> {
    let sharer = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let page = body.parse()?;
    let sharer_state = state.users.load_state(sharer.as_str()).await;
    let registered = sharer_state.map_err(CommandError::from)?.is_registered();
    let metadata = metadata(&sharer, &headers);
    let command = state.shares.share_command(sharer, registered, page).await?;
    let share_id = command.share_id.clone();
    let committed = state
        .shares
        .shares
        .execute(
            share_id.as_str(),
            ShareCommand::ShareUrl(Box::new(command)),
            &(),
            &metadata,
        )
        .await
        .map_err(CommandError::from)?;
    Ok(Json(Shared {
        share_id,
        accepted: committed.into(),
    }))
}

/// Marks one share sent to the caller as seen, in the list of notifications or (with
/// `"via": "page"`) on the shared page.
#[utoipa::path(
    post,
    path = "/v1/commands/mark-share-seen",
    tag = "shares",
    request_body = SeenBody,
    responses(
        crate::users::CarriedOut,
        http_api::openapi::NotFound,
    )
)]
async fn mark_share_seen(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<SeenBody>,
) -> Result<Json<Accepted>, ApiError> {
    let recipient = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let share_id = ShareId::parse(&body.share_id).map_err(CommandError::from)?;
    let notification = store::notification(&state.shares.pool, &share_id, &recipient)
        .await
        .map_err(CommandError::SharingView)?;
    let mark = MarkShareSeen {
        share_id,
        notification,
        at: Utc::now(),
    };
    let command = match body.via {
        SeenVia::Notification => InboxCommand::MarkShareSeen(mark),
        SeenVia::Page => InboxCommand::MarkShareSeenOnPage(mark),
    };
    state.shares.mark(&recipient, command, &headers).await
}

/// Marks every share the caller's notifications show as seen.
#[utoipa::path(
    post,
    path = "/v1/commands/mark-all-shares-seen",
    tag = "shares",
    request_body = AllSeenBody,
    responses(
        crate::users::CarriedOut,
    )
)]
async fn mark_all_shares_seen(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(AllSeenBody {}): Json<AllSeenBody>,
) -> Result<Json<Accepted>, ApiError> {
    let recipient = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let unread = store::unread(&state.shares.pool, &recipient)
        .await
        .map_err(CommandError::SharingView)?;
    let command = InboxCommand::MarkAllSharesSeen(MarkAllSharesSeen {
        unread,
        at: Utc::now(),
    });
    state.shares.mark(&recipient, command, &headers).await
}
