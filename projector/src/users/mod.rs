//! The `users` projection: `user_table`, one row per registered user, with personal
//! values opened (an erased value becomes NULL). Sharing-policy events have their own
//! view (`policies`); here they only count, so `version` stays the user's event count.
//! The notices of user events are the `notices` projection's.

use async_trait::async_trait;
use domain::user::{ProfileField, ProfileUpdated, UserEvent, UserRegistered, AGGREGATE_TYPE};
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use personal_data::{Keys, Sealed};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::{Projection, ProjectionError};

/// The projection's name (its checkpoint row).
pub const NAME: &str = "users";

/// The live view's table.
pub const TABLE: &str = "user_table";

/// Keeps `user_table`, or a table of the same shape (a replay's scratch copy).
pub struct Users {
    keys: Keys,
    upcasters: Upcasters,
    table: String,
}

impl Users {
    /// The live projection, into [`TABLE`].
    pub fn new(keys: Keys) -> Self {
        Self::into_table(keys, TABLE)
    }

    /// The projection into `table`, which has `user_table`'s columns. `table` is an
    /// identifier chosen by our code, never by a client.
    pub fn into_table(keys: Keys, table: &str) -> Self {
        Self {
            keys,
            upcasters: Upcasters::default(),
            table: table.to_owned(),
        }
    }

    async fn open(&self, sealed: Option<&Sealed>) -> Result<Option<String>, ProjectionError> {
        Ok(self.keys.open_optional(sealed).await?)
    }

    async fn registered(
        &self,
        tx: &mut PgConnection,
        e: &UserRegistered,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let sql = format!(
            "INSERT INTO {} (user_id, email, first_name, last_name, registered_at, updated_at, last_position, version)
             VALUES ($1, $2, $3, $4, $5, $5, $6, 1)",
            self.table
        );
        sqlx::query(&sql)
            .bind(e.user_id.as_str())
            .bind(self.open(Some(&e.email)).await?)
            .bind(self.open(Some(&e.first_name)).await?)
            .bind(self.open(Some(&e.last_name)).await?)
            .bind(e.registered_at)
            .bind(event.position)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Updates the changed columns.
    async fn updated(
        &self,
        tx: &mut PgConnection,
        e: &ProfileUpdated,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "UPDATE {} SET version = version + 1, updated_at = ",
            self.table
        ));
        sql.push_bind(e.updated_at)
            .push(", last_position = ")
            .push_bind(event.position);
        for (column, value) in [("first_name", &e.first_name), ("last_name", &e.last_name)] {
            if let Some(sealed) = value {
                sql.push(format!(", {column} = "))
                    .push_bind(self.open(Some(sealed)).await?);
            }
        }
        if let Some(public) = e.email_public {
            sql.push(", email_public = ").push_bind(public);
        }
        for (column, field) in fields(e) {
            if let Some(ProfileField { value, public }) = field {
                sql.push(format!(", {column} = "))
                    .push_bind(self.open(value.as_ref()).await?);
                sql.push(format!(", {column}_public = ")).push_bind(*public);
            }
        }
        if let Some(description) = &e.description {
            sql.push(", description = ")
                .push_bind(self.open(description.value.as_ref()).await?);
        }
        sql.push(" WHERE user_id = ")
            .push_bind(event.aggregate_id.as_str());
        sql.build().execute(tx).await?;
        Ok(())
    }

    /// Counts an event this view shows nothing of.
    async fn counted(&self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), sqlx::Error> {
        let sql = format!(
            "UPDATE {} SET version = version + 1, last_position = $1 WHERE user_id = $2",
            self.table
        );
        sqlx::query(&sql)
            .bind(event.position)
            .bind(&event.aggregate_id)
            .execute(tx)
            .await?;
        Ok(())
    }
}

/// The profile fields with a visibility of their own, by column name.
pub(crate) fn fields(e: &ProfileUpdated) -> [(&'static str, &Option<ProfileField>); 5] {
    [
        ("birth_date", &e.birth_date),
        ("gender", &e.gender),
        ("school", &e.school),
        ("work", &e.work),
        ("location", &e.location),
    ]
}

#[async_trait]
impl Projection for Users {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let decoded = codec::decode_stored::<UserEvent>(
            event,
            AGGREGATE_TYPE,
            &self.upcasters,
            UserEvent::current_version,
        )?;
        let Some(decoded) = decoded else {
            return Ok(vec![]);
        };
        match decoded {
            UserEvent::Registered(e) => self.registered(tx, &e, event).await?,
            UserEvent::ProfileUpdated(e) => self.updated(tx, &e, event).await?,
            UserEvent::SharingPolicySet(_)
            | UserEvent::ShareModeSet(_)
            | UserEvent::DomainShared(_)
            | UserEvent::DomainUnshared(_) => self.counted(tx, event).await?,
        }
        Ok(vec![])
    }
}
