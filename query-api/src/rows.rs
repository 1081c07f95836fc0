//! Rows decoded by column position, their columns checked once per result.
//!
//! sqlx's `FromRow` derive finds each value by its column's name and checks its type,
//! on every row: for a page of 20 conversations, 340 hash lookups and type checks. All
//! rows of one result share their columns, so [`fetch_all`] checks the first row's
//! column names and types against the struct's fields once, then decodes every row by
//! position. Declare such a struct with [`positional_row!`].

use sqlx::postgres::{PgArguments, PgColumn, PgRow, PgTypeInfo};
use sqlx::query::Query;
use sqlx::{Column, PgPool, Postgres, Row, Type, TypeInfo};

/// A struct whose fields are a statement's columns, in order.
pub(crate) trait Positional: Sized {
    /// Whether `columns` are the fields' names and of types they decode, in order.
    fn check(columns: &[PgColumn]) -> Result<(), sqlx::Error>;
    /// `row`, whose columns [`Self::check`] accepted.
    fn decode(row: &PgRow) -> Result<Self, sqlx::Error>;
}

/// Declares a struct as `struct` would, and implements [`Positional`] for it: its
/// fields, in order, are the columns of the statements it is read from, by name. Plain
/// field names only (no `r#` names, no `#[sqlx(…)]` attributes) and no generics.
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
            fn check(
                columns: &[::sqlx::postgres::PgColumn],
            ) -> ::core::result::Result<(), ::sqlx::Error> {
                let fields = [$($crate::rows::Field::of::<$ty>(stringify!($field))),*];
                $crate::rows::check(stringify!($name), columns, &fields)
            }

            fn decode(
                row: &::sqlx::postgres::PgRow,
            ) -> ::core::result::Result<Self, ::sqlx::Error> {
                use ::sqlx::Row as _;
                let mut next = 0;
                let mut index = || {
                    next += 1;
                    next - 1
                };
                // Fields are initialized in the order they are written: column by column.
                ::core::result::Result::Ok(Self {
                    $($field: row.try_get_unchecked(index())?),*
                })
            }
        }
    };
}
pub(crate) use positional_row;

/// Runs `query` and decodes its rows as `T`.
pub(crate) async fn fetch_all<T: Positional>(
    query: Query<'_, Postgres, PgArguments>,
    pool: &PgPool,
) -> Result<Vec<T>, sqlx::Error> {
    let rows = query.fetch_all(pool).await?;
    if let Some(first) = rows.first() {
        T::check(first.columns())?;
    }
    rows.iter().map(T::decode).collect()
}

/// A field of a [`Positional`] struct: its name, and the column types it decodes.
pub(crate) struct Field {
    name: &'static str,
    decodes: fn(&PgTypeInfo) -> bool,
    wants: fn() -> PgTypeInfo,
}

impl Field {
    /// Field `name`, of type `T`.
    pub(crate) fn of<T: Type<Postgres>>(name: &'static str) -> Self {
        Self {
            name,
            decodes: T::compatible,
            wants: T::type_info,
        }
    }
}

/// Whether `columns` are `fields`, of the struct named `row`: as many, named alike and
/// each of a type its field decodes.
///
/// A type is checked on the column, whatever the first row's value: sqlx skips its check
/// for a NULL value, but the later rows, decoded without a check, need it done here.
pub(crate) fn check(row: &str, columns: &[PgColumn], fields: &[Field]) -> Result<(), sqlx::Error> {
    if columns.len() != fields.len() {
        return Err(mismatch(
            row,
            "*",
            format!("{} columns for {} fields", columns.len(), fields.len()),
        ));
    }
    for (column, field) in columns.iter().zip(fields) {
        if column.name() != field.name {
            let found = format!("the column is {}", column.name());
            return Err(mismatch(row, field.name, found));
        }
        let found = column.type_info();
        if !(field.decodes)(found) {
            let found = format!(
                "the column is of type {}, the field of {}",
                found.name(),
                (field.wants)().name()
            );
            return Err(mismatch(row, field.name, found));
        }
    }
    Ok(())
}

fn mismatch(row: &str, field: &str, what: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: format!("{row}.{field}"),
        source: what.into(),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::fetch_all;

    super::positional_row! {
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
        assert!(error.contains("Named.name"), "{error}");
        assert!(error.contains("the column is nickname"), "{error}");

        let wrong_type = "SELECT 'ada'::text AS name, 1::int8 AS n, NULL::text AS nickname";
        let error = refusal(&pool, wrong_type).await;
        assert!(
            error.contains("Named.n") && error.contains("of type INT8, the field of INT4"),
            "{error}"
        );

        // NULL in the first row: the type is checked on the column, not on that value,
        // so the later rows, decoded unchecked, never read an int4 as text.
        let null_first = "SELECT * FROM (VALUES ('ada'::text, 1::int4, NULL::int4),
                                                ('bo', 2, 7)) AS t (name, n, nickname)
                          ORDER BY n";
        let error = refusal(&pool, null_first).await;
        assert!(
            error.contains("Named.nickname") && error.contains("of type INT4, the field of TEXT"),
            "{error}"
        );

        let one_short = "SELECT 'ada'::text AS name, 1::int4 AS n";
        let error = refusal(&pool, one_short).await;
        assert!(error.contains("2 columns for 3 fields"), "{error}");

        let one_over =
            "SELECT 'ada'::text AS name, 1::int4 AS n, NULL::text AS nickname, 1 AS extra";
        let error = refusal(&pool, one_over).await;
        assert!(error.contains("4 columns for 3 fields"), "{error}");
    }
}
