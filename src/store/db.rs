//! The store's connection layer, one surface over both backends: a value type ([`Value`]), our own
//! conversions to and from it ([`ToValue`], [`FromValue`]; the model's enums and [`Lane`] as their
//! text), a row with typed getters ([`Row`]) and a connection ([`Db`]) that runs statements on a
//! SQLite connection or a PostgreSQL client. The table modules write their SQL once, in SQLite's
//! `?N` style; on PostgreSQL each statement is translated once ([`to_postgres`]) and kept prepared
//! beside its translation. Where the two languages truly differ, the phrase is chosen in one place,
//! [`Dialect`].
//!
//! PostgreSQL is strictly typed: a parameter is written as the type the server inferred for it
//! (BIGINT, INTEGER, SMALLINT, BOOLEAN, TEXT, BYTEA) and a column read as whichever of those it is,
//! so the same typed code serves both backends. The server infers a parameter's type where it is
//! first used: a parameter first met in `?N IS NULL` is written `CAST(?N AS TEXT) IS NULL` (which
//! SQLite reads the same), and an aggregate PostgreSQL widens (`SUM` of BIGINT is NUMERIC) is cast
//! back to BIGINT in the SQL.
//!
//! Failure: a statement's error is the backend's ([`StoreError::Sql`], [`StoreError::Postgres`]);
//! a value of the wrong kind is [`StoreError::Value`], naming the column and what was found.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

use postgres::fallible_iterator::FallibleIterator as _;
use postgres_types::{private::BytesMut, to_sql_checked, FromSql, IsNull, ToSql, Type};

use super::model::{Direction, EventState, Lane, Provenance, Source, StepState};
use super::StoreError;

/// One value as both backends hold it: what the store's columns are made of.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER; PostgreSQL BIGINT, INTEGER, SMALLINT or BOOLEAN).
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
        }
    }
}

// Never the contents: a bound value may be a sealed secret or a customer's message.
impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Int(_) => f.write_str("Int"),
            Value::Text(s) => write!(f, "Text({} bytes)", s.len()),
            Value::Blob(b) => write!(f, "Blob({} bytes)", b.len()),
        }
    }
}

/// A Rust value written as a statement's parameter.
pub(crate) trait ToValue {
    /// The value, borrowed from `self` (binding allocates nothing).
    fn to_value(&self) -> Value<'_>;
}

/// A Rust value read from a column.
pub(crate) trait FromValue: Sized {
    /// The value, or why it cannot be one (the kind found, the text not known).
    fn from_value(v: Value<'_>) -> Result<Self, String>;
}

impl ToValue for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

/// Booleans are stored as 0 and 1 (the schema's INTEGER/BIGINT flags).
impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl ToValue for Lane {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self.as_str())
    }
}

impl FromValue for i64 {
    fn from_value(v: Value<'_>) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            other => Err(format!("expected an integer, found {}", other.kind())),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value<'_>) -> Result<Self, String> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for String {
    fn from_value(v: Value<'_>) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.to_owned()),
            other => Err(format!("expected text, found {}", other.kind())),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value<'_>) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.to_vec()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {}", other.kind())),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value<'_>) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for Lane {
    fn from_value(v: Value<'_>) -> Result<Self, String> {
        String::from_value(v).map(Lane::from_stored)
    }
}

/// The conversions of text-backed enums, through their `as_str` and `parse` (the text the
/// schema's CHECK constraints allow).
macro_rules! text_value {
    ($($ty:ident),+) => {$(
        impl ToValue for $ty {
            fn to_value(&self) -> Value<'_> {
                Value::Text(self.as_str())
            }
        }
        impl FromValue for $ty {
            fn from_value(v: Value<'_>) -> Result<Self, String> {
                match v {
                    Value::Text(s) => $ty::parse(s)
                        .ok_or_else(|| format!("unknown {} {s:?}", stringify!($ty))),
                    other => Err(format!("expected text, found {}", other.kind())),
                }
            }
        }
    )+};
}

text_value!(Source, EventState, StepState, Direction, Provenance);

/// A statement's parameters, borrowed: `params![a, b]` is `&[&a, &b]` as [`ToValue`]s.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(crate) use params;

/// A statement's parameters.
pub(crate) type Params<'a> = &'a [&'a dyn ToValue];

/// One result row, of either backend.
pub(crate) enum Row<'r> {
    /// A SQLite row.
    Sqlite(&'r rusqlite::Row<'r>),
    /// A PostgreSQL row.
    Pg(&'r postgres::Row),
}

impl std::fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Row")
    }
}

impl Row<'_> {
    /// Column `idx` (from 0) as a `T`.
    pub(crate) fn get<T: FromValue>(&self, idx: usize) -> Result<T, StoreError> {
        let fail = |detail: String| StoreError::Value {
            column: idx,
            detail,
        };
        let v = match self {
            Row::Sqlite(r) => match r.get_ref(idx)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                rusqlite::types::ValueRef::Real(_) => {
                    return Err(fail(
                        "expected an integer, text or bytes, found a real".into(),
                    ))
                }
                rusqlite::types::ValueRef::Text(t) => {
                    Value::Text(std::str::from_utf8(t).map_err(|e| fail(e.to_string()))?)
                }
                rusqlite::types::ValueRef::Blob(b) => Value::Blob(b),
            },
            Row::Pg(r) => r.try_get::<_, PgValue<'_>>(idx)?.0,
        };
        T::from_value(v).map_err(fail)
    }
}

/// A value bound to a PostgreSQL parameter, written as the type the server inferred for it.
#[derive(Debug)]
struct Bind<'a>(Value<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::BOOL => (i != 0).to_sql(ty, out),
            Value::Text(s) if is_text(ty) => s.to_sql(ty, out),
            Value::Text(s) if *ty == Type::BYTEA => s.as_bytes().to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            v => Err(format!("cannot bind {} to a parameter of type {ty}", v.kind()).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
}

/// A PostgreSQL column read as a [`Value`], whichever of the store's types it is.
struct PgValue<'a>(Value<'a>);

impl<'a> FromSql<'a> for PgValue<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let v = match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(<&[u8]>::from_sql(ty, raw)?),
            ref t if is_text(t) => Value::Text(<&str>::from_sql(ty, raw)?),
            ref t => {
                return Err(format!(
                    "a column of type {t} (the SQL should cast it to BIGINT or TEXT)"
                )
                .into())
            }
        };
        Ok(PgValue(v))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A PostgreSQL client with its prepared statements (by their SQLite text) and whether a statement
/// failed in the open transaction (PostgreSQL then refuses everything until a rollback).
pub(crate) struct PgConn {
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    returning: RefCell<HashMap<String, postgres::Statement>>,
    /// PostgreSQL's own statements ([`PgConn::query_native`]), by their text.
    native: RefCell<HashMap<&'static str, postgres::Statement>>,
    /// The pairings that got new work in the open transaction: told at its COMMIT.
    wakes: RefCell<BTreeSet<String>>,
    aborted: Cell<bool>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("statements", &self.statements.borrow().len())
            .finish()
    }
}

impl PgConn {
    /// Wraps a connected client.
    pub(crate) fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            returning: RefCell::new(HashMap::new()),
            native: RefCell::new(HashMap::new()),
            wakes: RefCell::new(BTreeSet::new()),
            aborted: Cell::new(false),
        }
    }

    /// Runs a statement written for PostgreSQL alone (no translation; typed parameters such as
    /// arrays), kept prepared; returns its rows. For the few paths where one PostgreSQL statement
    /// does the work of many (a batch of webhook inserts).
    pub(crate) fn query_native(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let cached = self.native.borrow().get(sql).cloned();
        let result = (|| {
            let st = match cached {
                Some(st) => st,
                None => {
                    let st = self.client.borrow_mut().prepare(sql)?;
                    self.native.borrow_mut().insert(sql, st.clone());
                    st
                }
            };
            self.client.borrow_mut().query(&st, params)
        })();
        result.map_err(|e| {
            self.aborted.set(true);
            StoreError::Postgres(e)
        })
    }

    /// Remembers that `pairing` got new work in the open transaction (told at COMMIT).
    pub(crate) fn wake(&self, pairing: &str) {
        if !self.wakes.borrow().contains(pairing) {
            self.wakes.borrow_mut().insert(pairing.to_owned());
        }
    }

    /// The pairings to tell of new work at this COMMIT, forgotten here (each once).
    pub(crate) fn take_wakes(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.wakes.borrow_mut())
    }

    /// The server process serving this client (what a notification it sends is signed with).
    pub(crate) fn backend_pid(&self) -> Result<i32, StoreError> {
        let row = self
            .client
            .borrow_mut()
            .query_one("SELECT pg_backend_pid()", &[])?;
        Ok(row.try_get(0)?)
    }

    /// The client itself (the listener for new work, which needs its notifications).
    pub(crate) fn into_client(self) -> postgres::Client {
        self.client.into_inner()
    }

    /// Whether a statement failed since the last successful `ROLLBACK TO`, `BEGIN` or `COMMIT`.
    pub(crate) fn aborted(&self) -> bool {
        self.aborted.get()
    }

    /// Whether the connection to the server is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }

    /// Runs SQL text as it is (no parameters, no translation): transaction control, migrations.
    pub(crate) fn batch(&self, sql: &str) -> Result<(), postgres::Error> {
        let r = self.client.borrow_mut().batch_execute(sql);
        match &r {
            Ok(()) if is_reset(sql) => self.aborted.set(false),
            Ok(()) => {}
            Err(_) => self.aborted.set(true),
        }
        r
    }

    fn statement(&self, sql: &str, returning_id: bool) -> Result<postgres::Statement, StoreError> {
        let cache = if returning_id {
            &self.returning
        } else {
            &self.statements
        };
        if let Some(s) = cache.borrow().get(sql) {
            return Ok(s.clone());
        }
        let mut text = to_postgres(sql);
        if returning_id {
            text.push_str(" RETURNING id");
        }
        let prepared = self.client.borrow_mut().prepare(&text).map_err(|e| {
            self.aborted.set(true);
            StoreError::Postgres(e)
        })?;
        cache.borrow_mut().insert(sql.to_owned(), prepared.clone());
        Ok(prepared)
    }

    /// Runs a statement, handing each row to `f` until it answers false; returns the rows affected.
    fn run(
        &self,
        sql: &str,
        params: Params<'_>,
        returning_id: bool,
        mut f: impl FnMut(&Row<'_>) -> Result<bool, StoreError>,
    ) -> Result<u64, StoreError> {
        let st = self.statement(sql, returning_id)?;
        let mut client = self.client.borrow_mut();
        let result = (|| {
            let binds = params.iter().map(|p| Bind(p.to_value()));
            let mut rows = client.query_raw(&st, binds)?;
            let mut more = true;
            while let Some(row) = rows.next()? {
                if more {
                    more = f(&Row::Pg(&row))?;
                }
            }
            Ok(rows.rows_affected().unwrap_or(0))
        })();
        if matches!(result, Err(StoreError::Postgres(_))) {
            self.aborted.set(true);
        }
        result
    }
}

/// Whether SQL text ends the failed state of a transaction when it succeeds.
fn is_reset(sql: &str) -> bool {
    let s = sql.trim_start();
    ["ROLLBACK", "BEGIN", "COMMIT"]
        .iter()
        .any(|w| s.len() >= w.len() && s[..w.len()].eq_ignore_ascii_case(w))
}

/// The phrases the two SQL dialects write differently, chosen in one place.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The aggregate that joins text with a separator: `group_concat(x, ' ')`.
    pub(crate) group_concat: &'static str,
}

const SQLITE: Dialect = Dialect {
    group_concat: "group_concat",
};
const POSTGRES: Dialect = Dialect {
    group_concat: "string_agg",
};

/// A connection of either backend, as the store's closures see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Db<'c> {
    /// A SQLite connection (the writer's, or a reader's).
    Sqlite(&'c rusqlite::Connection),
    /// A PostgreSQL client (the writer's, or a reader's).
    Pg(&'c PgConn),
}

impl Db<'_> {
    /// Whether this is the PostgreSQL backend.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Db::Pg(_))
    }

    /// The phrases of this backend's SQL.
    pub(crate) fn dialect(&self) -> &'static Dialect {
        match self {
            Db::Sqlite(_) => &SQLITE,
            Db::Pg(_) => &POSTGRES,
        }
    }

    /// Says that `pairing` got new work in this transaction: on PostgreSQL the writer notifies the
    /// other replicas at COMMIT (once per pairing and batch); on SQLite there are none.
    pub(crate) fn wake(&self, pairing: &str) {
        if let Db::Pg(c) = self {
            c.wake(pairing);
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: Params<'_>) -> Result<usize, StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(
                params.iter().map(|p| Sqlite(*p)),
            ))?),
            Db::Pg(c) => Ok(c.run(sql, params, false, |_| Ok(false))? as usize),
        }
    }

    /// Runs an `INSERT` into a table keyed by `id`; returns the new row's id, or None when the
    /// statement inserted nothing (`ON CONFLICT DO NOTHING`).
    pub(crate) fn insert_id(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<i64>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let n = c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(
                    params.iter().map(|p| Sqlite(*p)),
                ))?;
                Ok((n == 1).then(|| c.last_insert_rowid()))
            }
            Db::Pg(c) => {
                let mut id = None;
                c.run(sql, params, true, |r| {
                    id = Some(r.get(0)?);
                    Ok(false)
                })?;
                Ok(id)
            }
        }
    }

    /// Hands each row to `f` until it answers false.
    pub(crate) fn each(
        &self,
        sql: &str,
        params: Params<'_>,
        mut f: impl FnMut(&Row<'_>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(
                    params.iter().map(|p| Sqlite(*p)),
                ))?;
                while let Some(r) = rows.next()? {
                    if !f(&Row::Sqlite(r))? {
                        break;
                    }
                }
                Ok(())
            }
            Db::Pg(c) => c.run(sql, params, false, f).map(|_| ()),
        }
    }

    /// Every row, each made into a `T` by `f`.
    pub(crate) fn query_map<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each(sql, params, |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row made into a `T` by `f`, if there is a row.
    pub(crate) fn query_opt<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// The first row made into a `T` by `f`; a statement that returns no row is an error.
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?.ok_or(StoreError::NoRow)
    }

    /// Runs SQL text as it is, statements separated by `;`, without parameters or translation.
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Pg(c) => Ok(c.batch(sql)?),
        }
    }

    /// Runs one statement without parameters, kept prepared on SQLite (transaction control).
    pub(crate) fn run_cached(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => {
                c.prepare_cached(sql)?.execute([])?;
                Ok(())
            }
            Db::Pg(c) => Ok(c.batch(sql)?),
        }
    }
}

/// A parameter bound to SQLite.
struct Sqlite<'a>(&'a dyn ToValue);

impl rusqlite::ToSql for Sqlite<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0.to_value() {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// SQLite's SQL as PostgreSQL takes it: `?N` parameters become `$N`, and `LIKE` becomes `ILIKE`
/// (SQLite's LIKE ignores the case of ASCII letters, PostgreSQL's does not). String literals are
/// left as they are.
pub(crate) fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut in_literal = false;
    let mut prev = ' ';
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if in_literal {
            in_literal = c != '\'';
            out.push(c);
        } else if c == '\'' {
            in_literal = true;
            out.push(c);
        } else if c == '?' {
            out.push('$');
        } else if !prev.is_alphanumeric()
            && prev != '_'
            && rest.len() >= 5
            && rest[..4].eq_ignore_ascii_case("LIKE")
            && !rest[4..].starts_with(|n: char| n.is_alphanumeric() || n == '_')
        {
            out.push_str("ILIKE");
            rest = &rest[4..];
            prev = 'E';
            continue;
        } else {
            out.push(c);
        }
        prev = c;
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_sql_is_translated_once_for_postgres() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c LIKE ?2 || '%' AND d = '?1 LIKE'"),
            "SELECT a FROM t WHERE b = $1 AND c ILIKE $2 || '%' AND d = '?1 LIKE'"
        );
        assert_eq!(
            to_postgres("SELECT unlike, likely FROM t WHERE x LIKE\n'a'"),
            "SELECT unlike, likely FROM t WHERE x ILIKE\n'a'"
        );
    }

    #[test]
    fn values_convert_both_ways_and_name_what_they_found() {
        assert_eq!(i64::from_value(Value::Int(4)), Ok(4));
        assert_eq!(bool::from_value(Value::Int(1)), Ok(true));
        assert_eq!(Option::<i64>::from_value(Value::Null), Ok(None));
        assert_eq!(
            Source::from_value(Value::Text("telegram")),
            Err("unknown Source \"telegram\"".to_string())
        );
        assert!(String::from_value(Value::Int(1))
            .unwrap_err()
            .contains("found an integer"));
        assert_eq!(Some("x").to_value(), Value::Text("x"));
        assert_eq!(true.to_value(), Value::Int(1));
        assert_eq!(format!("{:?}", Value::Text("secret")), "Text(6 bytes)");
    }
}
