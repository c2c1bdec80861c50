//! Multi-row statements over one bound JSON array, for the flash-sale paths: a batch of any
//! size costs the same few statements, and reads come back as one aggregated row rather than a
//! row each (the driver hands rows over one by one between threads, which dominates at
//! thousands of rows).

use crate::{Backend, Result, StoreError, Tx};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::Row;

/// How a JSON field is read into its column.
#[derive(Clone, Copy)]
pub(crate) enum Col {
    Text,
    Int,
}

/// The `i`th element of a row of [`Tx::json_rows`]: text (PostgreSQL) or its JSON type (SQLite).
pub(crate) fn json_field(i: usize) -> String {
    format!("value->>{i}")
}

impl Tx {
    /// The rows of a JSON array bound as `$1`, one per row, each as `value`.
    pub(crate) fn json_rows(&self) -> &'static str {
        match self.store().backend() {
            Backend::Sqlite => "json_each($1)",
            Backend::Postgres => "json_array_elements(CAST($1 AS JSON)) AS j(value)",
        }
    }

    /// An aggregate making one JSON array of every row's `exprs` (each row an array): `[]` when
    /// there are none.
    pub(crate) fn json_agg(&self, exprs: &[&str]) -> String {
        match self.store().backend() {
            Backend::Sqlite => format!("COALESCE(json_group_array(json_array({})), '[]')", exprs.join(", ")),
            Backend::Postgres => {
                format!("COALESCE(CAST(json_agg(json_build_array({})) AS TEXT), '[]')", exprs.join(", "))
            }
        }
    }

    /// Runs `sql` (one row, one column made by [`Tx::json_agg`]) with `arg` bound as `$1` and
    /// decodes its rows.
    pub(crate) async fn fetch_json<T: DeserializeOwned>(&mut self, sql: &str, arg: &str) -> Result<Vec<T>> {
        let row = sqlx::query(sql).bind(arg).fetch_one(self.conn()).await?;
        let text: String = row.try_get(0)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Db(sqlx::Error::Protocol(format!("{e}: {text}"))))
    }

    /// Runs `sql` with `rows` (a JSON array) bound as `$1`; the number of rows it changed.
    pub(crate) async fn execute_json(&mut self, sql: &str, rows: Vec<Value>) -> Result<u64> {
        Ok(sqlx::query(sql).bind(Value::Array(rows).to_string()).execute(self.conn()).await?.rows_affected())
    }

    /// Inserts `rows` (JSON arrays of the `columns`' values) with one statement and one bound
    /// parameter; `constants` are expressions every row shares, or the name of one of
    /// `columns` to repeat its value.
    pub(crate) async fn insert_json(
        &mut self,
        table: &str,
        columns: &[(&str, Col)],
        constants: &[(&str, &str)],
        rows: Vec<Value>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).chain(constants.iter().map(|(n, _)| *n)).collect();
        let mut exprs: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| match ty {
                Col::Text => json_field(i),
                Col::Int => format!("CAST({} AS BIGINT)", json_field(i)),
            })
            .collect();
        for (_, e) in constants {
            let same = columns.iter().position(|(n, _)| n == e);
            exprs.push(same.map_or(e.to_string(), |i| exprs[i].clone()));
        }
        let sql =
            format!("INSERT INTO {table} ({}) SELECT {} FROM {}", names.join(", "), exprs.join(", "), self.json_rows());
        self.execute_json(&sql, rows).await?;
        Ok(())
    }
}
