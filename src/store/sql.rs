//! How the store's vocabulary ([`super::model`]) is written to and read from SQLite: each enum as
//! the text its `as_str` gives (the text the schema's CHECK constraints allow), a lane as its name.
//! Kept on the backend's side so that the model names no SQLite type.
//!
//! Failure: text this build does not know reads as an error naming the type and the text.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::model::{Direction, EventState, Lane, Provenance, Source, StepState};

/// Implements the SQLite conversions of text-backed enums through their `as_str` and `parse`.
macro_rules! sql_text {
    ($($ty:ident),+) => {$(
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                $ty::parse(s).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {s:?}", stringify!($ty)).into())
                })
            }
        }
    )+};
}

sql_text!(Source, EventState, StepState, Direction, Provenance);

impl ToSql for Lane {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Lane {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(Lane::from_stored(value.as_str()?.to_string()))
    }
}
