//! Rows decoded by column position, their columns checked once per result.
//!
//! sqlx's `FromRow` derive finds each value by its column's name and checks its type,
//! on every row: for a page of 20 conversations, 340 hash lookups and type checks. All
//! rows of one result share their columns, so [`fetch_all`] checks the first row's
//! column names and types against the struct's fields once, then decodes every row by
//! position. Declare such a struct with [`positional_row!`](crate::positional_row).

use sqlx::postgres::{PgArguments, PgColumn, PgRow};
use sqlx::query::Query;
use sqlx::{Column, PgPool, Postgres, Row, Type, TypeInfo};

/// A struct whose fields are a statement's columns, in order.
pub trait Positional: Sized {
    /// Whether `columns` are the fields' names and of types they decode, in order.
    fn check(columns: &[PgColumn]) -> Result<(), sqlx::Error>;
    /// `row`, whose columns [`Self::check`] accepted.
    fn decode(row: &PgRow) -> Result<Self, sqlx::Error>;
}

/// Declares a struct as `struct` would, and implements [`Positional`] for it: its
/// fields, in order, are the columns of the statements it is read from.
#[macro_export]
macro_rules! positional_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        impl $crate::rows::Positional for $name {
            fn check(columns: &[sqlx::postgres::PgColumn]) -> Result<(), sqlx::Error> {
                let fields: &[&str] = &[$(stringify!($field)),*];
                $crate::rows::check_count(columns, fields)?;
                let mut columns = columns.iter();
                $($crate::rows::check_column::<$ty>(columns.next(), stringify!($field))?;)*
                Ok(())
            }

            fn decode(row: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                let mut next = 0;
                let mut index = || {
                    next += 1;
                    next - 1
                };
                // Fields are initialized in the order they are written: column by column.
                Ok(Self {
                    $($field: row.try_get_unchecked(index())?),*
                })
            }
        }
    };
}

/// Runs `query` and decodes its rows as `T`.
pub async fn fetch_all<T: Positional>(
    query: Query<'_, Postgres, PgArguments>,
    pool: &PgPool,
) -> Result<Vec<T>, sqlx::Error> {
    let rows = query.fetch_all(pool).await?;
    if let Some(first) = rows.first() {
        T::check(first.columns())?;
    }
    rows.iter().map(T::decode).collect()
}

#[doc(hidden)]
pub fn check_count(columns: &[PgColumn], fields: &[&str]) -> Result<(), sqlx::Error> {
    if columns.len() == fields.len() {
        return Ok(());
    }
    Err(mismatch(
        fields.first().copied().unwrap_or("-"),
        format!("{} columns for {} fields", columns.len(), fields.len()),
    ))
}

#[doc(hidden)]
pub fn check_column<T: Type<Postgres>>(
    column: Option<&PgColumn>,
    field: &str,
) -> Result<(), sqlx::Error> {
    let column = column.ok_or_else(|| mismatch(field, "no column".into()))?;
    if column.name() != field {
        return Err(mismatch(field, format!("the column is {}", column.name())));
    }
    let found = column.type_info();
    // As sqlx's own check: a type Postgres did not name is taken on trust.
    if !found.is_null() && !T::compatible(found) {
        return Err(mismatch(
            field,
            format!("a {} column for a {}", found.name(), T::type_info().name()),
        ));
    }
    Ok(())
}

fn mismatch(field: &str, what: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: field.to_owned(),
        source: what.into(),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::fetch_all;

    crate::positional_row! {
        #[derive(Debug, PartialEq, Eq)]
        struct Named {
            name: String,
            n: i32,
            nickname: Option<String>,
        }
    }

    const TWO_ROWS: &str = "SELECT * FROM (VALUES ('ada'::text, 1::int4, 'a'::text),
                                                  ('bo', 2, NULL)) AS t (name, n, nickname)
                            ORDER BY n";

    #[sqlx::test]
    async fn rows_are_decoded_column_by_column(pool: PgPool) {
        let rows: Vec<Named> = fetch_all(sqlx::query(TWO_ROWS), &pool)
            .await
            .expect("two rows");
        assert_eq!(
            rows,
            [
                Named {
                    name: "ada".into(),
                    n: 1,
                    nickname: Some("a".into())
                },
                Named {
                    name: "bo".into(),
                    n: 2,
                    nickname: None
                },
            ]
        );
        let none: Vec<Named> = fetch_all(sqlx::query(&format!("{TWO_ROWS} LIMIT 0")), &pool)
            .await
            .expect("no row");
        assert_eq!(none, []);
    }

    /// The error's text for a statement whose columns do not fit [`Named`].
    async fn refusal(pool: &PgPool, statement: &str) -> String {
        let query = sqlx::query(statement);
        match fetch_all::<Named>(query, pool).await {
            Ok(rows) => panic!("{statement}: decoded as {rows:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[sqlx::test]
    async fn columns_that_do_not_fit_the_fields_are_refused(pool: PgPool) {
        // Same types, two columns swapped: only the names tell.
        let swapped = "SELECT 'ada'::text AS nickname, 1::int4 AS n, 'a'::text AS name";
        let error = refusal(&pool, swapped).await;
        assert!(
            error.contains("name") && error.contains("nickname"),
            "{error}"
        );

        let wrong_type = "SELECT 'ada'::text AS name, 1::int8 AS n, NULL::text AS nickname";
        let error = refusal(&pool, wrong_type).await;
        assert!(error.contains("INT8") && error.contains("INT4"), "{error}");

        let one_short = "SELECT 'ada'::text AS name, 1::int4 AS n";
        let error = refusal(&pool, one_short).await;
        assert!(error.contains("2 columns for 3 fields"), "{error}");
    }
}
