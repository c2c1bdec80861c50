//! Multi-row statements for the flash-sale paths: a batch of up to a thousand rows costs one
//! statement per table, its rows bound as the parameters of one `VALUES` list each, and reads come back as one
//! aggregated row rather than a row each (the driver hands rows over one by one between
//! threads, which dominates at thousands of rows).
//!
//! Rows are bound value by value rather than as one JSON text: on SQLite, reading each field of
//! a bound JSON array's element parses that element again, which cost about 19 µs per journal
//! row against 3 µs bound. A statement takes rows in chunks of a few fixed sizes (the last
//! filled up), so each shape is prepared once per connection and then comes from the
//! statement cache.

use crate::{Backend, Result, StoreError, Tx};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

/// Rows per statement, largest first. A batch is cut into the largest while it has that many
/// rows, and what is left goes in one statement of the smallest size that holds it, filled up
/// with rows of NULLs that the row source leaves out: every statement is a round trip to the
/// database's thread or server, so a thousand rows cost one, not ten.
const CHUNKS: [usize; 6] = [1024, 256, 64, 16, 4, 1];

/// The `i`th value of a row of the `VALUES` list a [`Tx::execute_rows`] statement reads from
/// as `v` (both backends name its columns `column1`, `column2`, ...).
pub(crate) fn field(i: usize) -> String {
    format!("v.column{}", i + 1)
}

/// What becomes of a chunk's filling rows, whose first value is NULL (no real row's is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filler {
    /// The row source leaves them out: for inserts and reads.
    LeftOut,
    /// The statement finds rows by the first value (`= v.column1`, `IN`), which NULL never
    /// matches: updates and deletes read the `VALUES` list straight, a third faster on SQLite
    /// than through the filtering subquery.
    MatchesNothing,
}

/// `(SELECT * FROM (VALUES ($1, $2), ($3, $4), ...) AS p WHERE ...) AS v` for `rows` rows of
/// `width` values, leaving out the filling rows, or `(VALUES ...) AS v` for statements whose
/// filling rows match nothing. SQLite gets anonymous `?` placeholders: binding numbered ones
/// looks each name up in a list, which costs the square of their number (three quarters of a
/// batch's time at a thousand rows).
fn values(rows: usize, width: usize, backend: Backend, filler: Filler) -> String {
    let mut s = String::with_capacity(64 + rows * width * 6);
    if filler == Filler::LeftOut {
        s.push_str("(SELECT * FROM ");
    }
    s.push_str("(VALUES ");
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                s.push_str(", ");
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * width + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s.push_str(match filler {
        Filler::LeftOut => ") AS p WHERE p.column1 IS NOT NULL) AS v",
        Filler::MatchesNothing => ") AS v",
    });
    s
}

pub(crate) type Q<'q> = Query<'q, Any, AnyArguments<'q>>;

/// The type of a `VALUES` column, for the NULLs of a filling row.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Column {
    Text,
    Int,
}

/// One row of a multi-row statement: its values, bound in column order. JSON arrays are rows;
/// a hot path binds its own structs straight, without building and dropping a JSON value per
/// row. A struct names its columns' types once; its width and filling rows follow.
pub(crate) trait BulkRow {
    fn columns(&self) -> &'static [Column];
    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>>;

    fn width(&self) -> usize {
        self.columns().len()
    }

    /// Binds a filling row: NULLs of this row's types, as PostgreSQL wants one type per
    /// `VALUES` column.
    fn bind_nulls<'q>(&self, q: Q<'q>) -> Q<'q> {
        self.columns().iter().fold(q, |q, c| match c {
            Column::Text => q.bind(None::<String>),
            Column::Int => q.bind(None::<i64>),
        })
    }
}

impl BulkRow for Value {
    /// Unused: a JSON row's width and types are its values'.
    fn columns(&self) -> &'static [Column] {
        &[]
    }

    fn width(&self) -> usize {
        self.as_array().map_or(0, Vec::len)
    }

    fn bind<'q>(&'q self, mut q: Q<'q>) -> Result<Q<'q>> {
        let bad = |v: &Value| StoreError::broken(format!("cannot bind {v} as a row value"));
        for v in self.as_array().ok_or_else(|| bad(self))? {
            q = match v {
                Value::String(s) => q.bind(s.as_str()),
                Value::Number(n) => q.bind(n.as_i64().ok_or_else(|| bad(v))?),
                Value::Null => q.bind(None::<String>),
                _ => return Err(bad(v)),
            };
        }
        Ok(q)
    }

    fn bind_nulls<'q>(&self, mut q: Q<'q>) -> Q<'q> {
        for v in self.as_array().map_or(&[][..], Vec::as_slice) {
            q = match v {
                Value::Number(_) => q.bind(None::<i64>),
                _ => q.bind(None::<String>),
            };
        }
        q
    }
}

/// A key and an amount.
impl BulkRow for (&str, i64) {
    fn columns(&self) -> &'static [Column] {
        &[Column::Text, Column::Int]
    }

    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>> {
        Ok(q.bind(self.0).bind(self.1))
    }
}

/// Two keys.
impl BulkRow for (&str, &str) {
    fn columns(&self) -> &'static [Column] {
        &[Column::Text, Column::Text]
    }

    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>> {
        Ok(q.bind(self.0).bind(self.1))
    }
}

/// The statement `sql` with a chunk's rows and its filling rows bound.
fn bind_chunk<'q, R: BulkRow>(sql: &'q str, chunk: &'q [R], filler: usize) -> Result<Q<'q>> {
    let mut q = sqlx::query(sql);
    for row in chunk {
        q = row.bind(q)?;
    }
    for _ in 0..filler {
        q = chunk[0].bind_nulls(q);
    }
    Ok(q)
}

/// [`Tx::fetch_rows`] on any connection (a reader's, say).
pub(crate) async fn fetch_rows<T: DeserializeOwned, R: BulkRow>(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    sql: impl Fn(&str) -> String,
    rows: &[R],
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (chunk, filler, sql) in chunked(&sql, rows, backend, Filler::LeftOut)? {
        let q = bind_chunk(&sql, chunk, filler)?;
        let text: String = q.fetch_one(&mut *conn).await?.try_get(0)?;
        out.extend(decode::<T>(&text)?);
    }
    Ok(out)
}

/// [`Tx::json_agg`] for `backend`.
pub(crate) fn json_agg(backend: Backend, exprs: &[&str]) -> String {
    json_agg_ordered(backend, exprs, None)
}

/// [`json_agg`] with its elements in the order of `order_by`.
pub(crate) fn json_agg_ordered(backend: Backend, exprs: &[&str], order_by: Option<&str>) -> String {
    let order = order_by.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
    match backend {
        Backend::Sqlite => format!("COALESCE(json_group_array(json_array({}){order}), '[]')", exprs.join(", ")),
        Backend::Postgres => {
            format!("COALESCE(CAST(json_agg(json_build_array({}){order}) AS TEXT), '[]')", exprs.join(", "))
        }
    }
}

impl Tx {
    /// Runs the statement `sql` makes of a row source (`(VALUES ...) AS v`, read with
    /// [`field`]) over `rows`, all of one width, a chunk at a time; the number of rows it
    /// changed in all.
    pub(crate) async fn execute_rows<R: BulkRow>(
        &mut self,
        sql: impl Fn(&str) -> String,
        rows: &[R],
        filler: Filler,
    ) -> Result<u64> {
        let mut changed = 0;
        for (chunk, fill, sql) in chunked(&sql, rows, self.store().backend(), filler)? {
            let q = bind_chunk(&sql, chunk, fill)?;
            changed += q.execute(self.conn()).await?.rows_affected();
        }
        Ok(changed)
    }

    /// As [`Tx::execute_rows`] for `rows` sorted by the key of the rows they change: in one
    /// statement on SQLite, whose write lock already serialises writers; a row at a time on
    /// PostgreSQL, which then locks them in that order, so that two writers cannot deadlock.
    pub(crate) async fn execute_rows_in_order<R: BulkRow>(
        &mut self,
        sql: impl Fn(&str) -> String,
        rows: &[R],
        filler: Filler,
    ) -> Result<u64> {
        match self.store().backend() {
            Backend::Sqlite => self.execute_rows(sql, rows, filler).await,
            Backend::Postgres => {
                let mut changed = 0;
                for row in rows {
                    changed += self.execute_rows(&sql, std::slice::from_ref(row), filler).await?;
                }
                Ok(changed)
            }
        }
    }

    /// Like [`Tx::execute_rows`] for a read whose one row and column is made by
    /// [`Tx::json_agg`]: every chunk's rows, decoded.
    pub(crate) async fn fetch_rows<T: DeserializeOwned, R: BulkRow>(
        &mut self,
        sql: impl Fn(&str) -> String,
        rows: &[R],
    ) -> Result<Vec<T>> {
        let backend = self.store().backend();
        fetch_rows(self.conn(), backend, sql, rows).await
    }

    /// An aggregate making one JSON array of every row's `exprs` (each row an array): `[]` when
    /// there are none.
    pub(crate) fn json_agg(&self, exprs: &[&str]) -> String {
        json_agg(self.store().backend(), exprs)
    }

    /// Runs `sql` (one row, one column made by [`Tx::json_agg`]) with `arg` bound as `$1` and
    /// decodes its rows.
    pub(crate) async fn fetch_json<T: DeserializeOwned>(&mut self, sql: &str, arg: &str) -> Result<Vec<T>> {
        let row = sqlx::query(sql).bind(arg).fetch_one(self.conn()).await?;
        decode(&row.try_get::<String, _>(0)?)
    }

    /// Inserts `rows` (the `columns`' values, in order); `constants` are expressions
    /// every row shares, or the name of one of `columns` to repeat its value.
    pub(crate) async fn insert_rows<R: BulkRow>(
        &mut self,
        table: &str,
        columns: &[&str],
        constants: &[(&str, &str)],
        rows: &[R],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = columns.iter().copied().chain(constants.iter().map(|(n, _)| *n)).collect();
        let mut exprs: Vec<String> = (0..columns.len()).map(field).collect();
        for (_, e) in constants {
            let same = columns.iter().position(|n| n == e);
            exprs.push(same.map_or(e.to_string(), field));
        }
        let (names, exprs) = (names.join(", "), exprs.join(", "));
        let sql = |v: &str| format!("INSERT INTO {table} ({names}) SELECT {exprs} FROM {v}");
        self.execute_rows(sql, rows, Filler::LeftOut).await?;
        Ok(())
    }
}

/// `rows` cut into chunks of the sizes in [`CHUNKS`]: each chunk's rows, how many filling rows
/// it takes, and its statement. A statement must read its row source once: SQLite's
/// placeholders are anonymous, so a second copy would read parameters that were never bound.
fn chunked<'r, R: BulkRow>(
    sql: &impl Fn(&str) -> String,
    rows: &'r [R],
    backend: Backend,
    filler: Filler,
) -> Result<Vec<(&'r [R], usize, String)>> {
    if sql("\u{0}").matches('\u{0}').count() != 1 {
        let msg = format!("a multi-row statement must read its rows once: {}", sql("(VALUES ...) AS v"));
        return Err(StoreError::broken(msg));
    }
    let width = rows.first().map_or(0, BulkRow::width);
    let mut out = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let size = match CHUNKS[0] <= rest.len() {
            true => CHUNKS[0],
            false => CHUNKS.iter().copied().filter(|&n| n >= rest.len()).min().unwrap_or(CHUNKS[0]),
        };
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        out.push((chunk, size - chunk.len(), sql(&values(size, width, backend, filler))));
        rest = tail;
    }
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(text: &str) -> Result<Vec<T>> {
    serde_json::from_str(text).map_err(|e| StoreError::broken(format!("{e}: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_the_fixed_sizes() {
        let rows: Vec<Value> = (0..2_050).map(|i| serde_json::json!([i, "x"])).collect();
        let shape = |n: usize| {
            let cut = chunked(&|v: &str| v.to_string(), &rows[..n], Backend::Postgres, Filler::LeftOut).unwrap();
            cut.iter().map(|(c, filler, _)| (c.len(), *filler)).collect::<Vec<_>>()
        };
        assert_eq!(shape(2_050), vec![(1024, 0), (1024, 0), (2, 2)]);
        assert_eq!(shape(1_000), vec![(1000, 24)], "one statement, filled up");
        assert_eq!(shape(17), vec![(17, 47)]);
        assert_eq!(shape(1), vec![(1, 0)]);
        assert_eq!(shape(0), vec![]);
        let one = chunked(&|v: &str| v.to_string(), &rows[..1], Backend::Postgres, Filler::LeftOut).unwrap();
        assert_eq!(one[0].2, "(SELECT * FROM (VALUES ($1, $2)) AS p WHERE p.column1 IS NOT NULL) AS v");
        assert_eq!(
            values(2, 2, Backend::Postgres, Filler::LeftOut),
            "(SELECT * FROM (VALUES ($1, $2), ($3, $4)) AS p WHERE p.column1 IS NOT NULL) AS v"
        );
        assert!(
            values(2, 2, Backend::Sqlite, Filler::LeftOut).starts_with("(SELECT * FROM (VALUES (?, ?), (?, ?)) AS p")
        );
        assert_eq!(values(2, 1, Backend::Sqlite, Filler::MatchesNothing), "(VALUES (?), (?)) AS v");
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "must read its rows once"))]
    fn a_statement_that_reads_its_rows_twice_is_refused() {
        let rows = vec![serde_json::json!([1])];
        let twice = |v: &str| format!("SELECT 1 FROM {v} UNION ALL SELECT 1 FROM {v}");
        // The second copy would read unbound NULLs.
        assert!(chunked(&twice, &rows, Backend::Sqlite, Filler::LeftOut).is_err());
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "must read its rows once"))]
    fn a_statement_that_reads_no_rows_is_refused() {
        let rows = vec![serde_json::json!([1])];
        assert!(chunked(&|_: &str| "SELECT 1".to_string(), &rows, Backend::Sqlite, Filler::LeftOut).is_err());
    }
}
