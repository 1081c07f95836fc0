//! The `popular` projection: the most-shared domains (`popular_domains`), the shared
//! pages of each domain (`popular_pages`) and the most active sharers (`sharer_stats`),
//! counted from `share.created` events.
//!
//! Domain and URL are opened with the sharer's key. A share whose page no longer opens
//! (the sharer was erased) still counts for its sharer, so the leaderboard keeps the
//! history's shape, but counts for no domain or page: those tables hold pages in clear
//! and must never hold an erased one. A replay after an erasure therefore counts fewer
//! pages than the live view did before it.
//!
//! Counting is not idempotent by itself, so each share is recorded in `popular_counted`
//! first; a share applied a second time finds its row there and counts nothing.

use async_trait::async_trait;
use domain::share::{self as share, ShareCreated, ShareEvent};
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use personal_data::Keys;
use sqlx::PgConnection;

use crate::{Projection, ProjectionError};

/// The projection's name (its checkpoint row, and the view `?min_position=` waits for).
pub const NAME: &str = "popular";

/// The shares already counted.
pub const COUNTED: &str = "popular_counted";
/// Shares per domain.
pub const DOMAINS: &str = "popular_domains";
/// Shares per page.
pub const PAGES: &str = "popular_pages";
/// Shares per sharer.
pub const SHARERS: &str = "sharer_stats";

/// Keeps the popular pages tables. A rebuild into other tables goes through
/// [`crate::replay::RebuildOptions::schema`].
pub struct Popular {
    keys: Keys,
    upcasters: Upcasters,
}

/// A share's page, opened: `None` when its sharer was erased.
struct Page {
    domain: String,
    url: String,
    title: Option<String>,
}

impl Popular {
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            upcasters: Upcasters::default(),
        }
    }

    async fn open(&self, e: &ShareCreated) -> Result<Option<Page>, ProjectionError> {
        let domain = self.keys.open(&e.domain).await?.into_text();
        let url = self.keys.open(&e.url).await?.into_text();
        let title = self.keys.open(&e.title).await?.into_text();
        Ok(domain
            .zip(url)
            .map(|(domain, url)| Page { domain, url, title }))
    }

    /// Counts the share once: for its sharer, and for its domain and page when they open.
    async fn created(
        &self,
        tx: &mut PgConnection,
        e: &ShareCreated,
        position: i64,
    ) -> Result<(), ProjectionError> {
        if !first_time(tx, e, position).await? {
            return Ok(());
        }
        count_sharer(tx, e).await?;
        if let Some(page) = self.open(e).await? {
            count_page(tx, e, &page).await?;
        }
        Ok(())
    }
}

/// Records the share as counted; `false` when it already was.
async fn first_time(
    tx: &mut PgConnection,
    e: &ShareCreated,
    position: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO popular_counted (share_id, position) VALUES ($1::uuid, $2)
         ON CONFLICT (share_id) DO NOTHING",
    )
    .bind(e.share_id.as_str())
    .bind(position)
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn count_sharer(tx: &mut PgConnection, e: &ShareCreated) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sharer_stats (user_id, share_count) VALUES ($1, 1)
         ON CONFLICT (user_id) DO UPDATE SET share_count = sharer_stats.share_count + 1",
    )
    .bind(e.sharer.as_str())
    .execute(tx)
    .await?;
    Ok(())
}

/// Counts the share for its domain and its page; the page keeps the latest title.
async fn count_page(
    tx: &mut PgConnection,
    e: &ShareCreated,
    page: &Page,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO popular_domains (domain, share_count) VALUES ($1, 1)
         ON CONFLICT (domain) DO UPDATE SET share_count = popular_domains.share_count + 1",
    )
    .bind(&page.domain)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO popular_pages (domain, url, title, share_count, last_shared_at)
         VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (domain, url) DO UPDATE
            SET title = EXCLUDED.title,
                share_count = popular_pages.share_count + 1,
                last_shared_at = GREATEST(popular_pages.last_shared_at, EXCLUDED.last_shared_at)",
    )
    .bind(&page.domain)
    .bind(&page.url)
    .bind(&page.title)
    .bind(e.shared_at)
    .execute(tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Projection for Popular {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[COUNTED, DOMAINS, PAGES, SHARERS]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        if event.aggregate_type != share::AGGREGATE_TYPE {
            return Ok(vec![]);
        }
        let decoded: ShareEvent = codec::decode_ref(
            &event.event_type,
            &event.event_version,
            &event.payload,
            &self.upcasters,
            ShareEvent::current_version,
        )?;
        let ShareEvent::Created(e) = &decoded;
        self.created(tx, e, event.position).await?;
        Ok(vec![])
    }
}
