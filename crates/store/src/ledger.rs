//! The ledger in SQL: account balances and immutable transfers, written by applying domain
//! postings inside the caller's transaction.

use crate::bulk::{field, BulkRow, Column, Filler, Q};
use crate::{Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::id::Kind;
use souk_domain::ledger::{
    net_moves, Account, CurrencyTotals, LedgerReport, Posting, WalletBalance, WalletTransaction,
};
use souk_domain::order::OrderState;
use souk_domain::time::Timestamp;
use souk_domain::{Currency, Money};
use sqlx::Row;
use std::collections::BTreeMap;

/// The columns `kind` and `owner` of an account's row.
fn kind_and_owner(a: &Account) -> (&'static str, String) {
    match a {
        Account::Wallet { user_id, .. } => ("wallet", user_id.clone()),
        Account::Escrow { order_id, .. } => ("escrow", order_id.clone()),
        Account::PromotionEscrow { promotion_id, .. } => ("escrow", promotion_id.clone()),
        Account::Revenue { .. } => ("revenue", "platform".to_string()),
        Account::Provider { provider, .. } => ("provider", provider.clone()),
    }
}

/// A posting with what the transfer log says of it.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub posting: Posting,
    /// The transfer's id; a new one when `None`.
    pub id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub reference: Option<&'a str>,
    /// When it happened; now when `None`.
    pub at: Option<i64>,
}

/// Where a batch of postings is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Balances move, and each posting becomes a transfer.
    Transfers,
    /// Balances move; each posting's flash journal row stands for its transfer until the order
    /// is written out (keeping the buy path's commit to a few rows per order).
    Journal,
    /// The transfers of postings that were recorded as [`Record::Journal`]: their balances
    /// moved then.
    FromJournal,
}

/// A transfer row.
struct TransferRow<'a> {
    id: String,
    debit: String,
    credit: String,
    amount: i64,
    currency: &'static str,
    kind: &'static str,
    order_id: Option<&'a str>,
    reference: Option<&'a str>,
    at: i64,
}

impl BulkRow for TransferRow<'_> {
    fn columns(&self) -> &'static [Column] {
        use Column::{Int, Text};
        &[Text, Text, Text, Int, Text, Text, Text, Text, Int]
    }

    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>> {
        Ok(q.bind(self.id.as_str())
            .bind(self.debit.as_str())
            .bind(self.credit.as_str())
            .bind(self.amount)
            .bind(self.currency)
            .bind(self.kind)
            .bind(self.order_id)
            .bind(self.reference)
            .bind(self.at))
    }
}

/// An account credited (or touched) by a batch: key, kind, owner, currency, amount.
struct CreditRow {
    key: String,
    kind: &'static str,
    owner: String,
    currency: &'static str,
    amount: i64,
}

impl BulkRow for CreditRow {
    fn columns(&self) -> &'static [Column] {
        use Column::{Int, Text};
        &[Text, Text, Text, Text, Int]
    }

    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>> {
        Ok(q.bind(self.key.as_str()).bind(self.kind).bind(self.owner.as_str()).bind(self.currency).bind(self.amount))
    }
}

impl Tx {
    /// The one writer of the ledger: every movement of money, the flash engine's included,
    /// comes through here. The batch's net movement per account (`domain::ledger::net_moves`)
    /// is applied in at most two statements whatever its size (credits, then guarded debits,
    /// each in key order), and its transfers written in one, as `record` says. A debit that
    /// would take an account other than a provider's below zero fails the batch with
    /// `insufficient_funds`, naming how much is missing; the caller's transaction is then to
    /// be dropped.
    pub async fn post(&mut self, entries: &[Entry<'_>], record: Record) -> Result<()> {
        let moves = net_moves(entries.iter().map(|e| &e.posting))
            .map_err(|e| StoreError::broken(format!("malformed postings: {e:?}")))?;
        if record != Record::FromJournal {
            self.move_balances(&moves).await?;
        }
        if record != Record::Journal {
            let now = self.store().now_ms();
            let rows: Vec<TransferRow> = entries
                .iter()
                .map(|e| TransferRow {
                    id: e.id.map_or_else(|| self.store().new_id(Kind::Transfer), str::to_string),
                    debit: e.posting.from.key(),
                    credit: e.posting.to.key(),
                    amount: e.posting.amount.amount,
                    currency: e.posting.amount.currency.code(),
                    kind: e.posting.kind.as_str(),
                    order_id: e.order_id,
                    reference: e.reference,
                    at: e.at.unwrap_or(now),
                })
                .collect();
            let cols = [
                "id",
                "debit_account",
                "credit_account",
                "amount",
                "currency",
                "kind",
                "order_id",
                "reference",
                "created_at",
            ];
            self.insert_rows("ledger_transfers", &cols, &[], &rows).await?;
        }
        Ok(())
    }

    /// [`Tx::post`] of postings that share an order and a reference, recorded as transfers now.
    pub async fn apply_postings(
        &mut self,
        postings: &[Posting],
        order_id: Option<&str>,
        reference: Option<&str>,
    ) -> Result<()> {
        let entries: Vec<Entry> =
            postings.iter().map(|p| Entry { posting: p.clone(), id: None, order_id, reference, at: None }).collect();
        self.post(&entries, Record::Transfers).await
    }

    /// Credits first, creating the accounts (each touched account exists afterwards, as the
    /// transfers name them), then the guarded debits: on PostgreSQL the credits lock their
    /// rows one at a time in key order.
    async fn move_balances(&mut self, moves: &BTreeMap<Account, i64>) -> Result<()> {
        let (mut credits, mut debits) = (Vec::new(), Vec::new());
        for (account, &delta) in moves {
            if delta >= 0 || account.may_go_negative() {
                let (kind, owner) = kind_and_owner(account);
                let currency = account.currency().code();
                credits.push(CreditRow { key: account.key(), kind, owner, currency, amount: delta });
            } else {
                debits.push((account.key(), -delta));
            }
        }
        credits.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        // `WHERE true` lets SQLite read the ON CONFLICT after a SELECT.
        let sql = |v: &str| {
            format!(
                "INSERT INTO ledger_accounts (key, kind, owner, currency, balance) \
                 SELECT {}, {}, {}, {}, {} FROM {v} WHERE true \
                 ON CONFLICT (key) DO UPDATE SET balance = ledger_accounts.balance + excluded.balance",
                field(0),
                field(1),
                field(2),
                field(3),
                field(4)
            )
        };
        self.execute_rows_in_order(sql, &credits, Filler::LeftOut).await?;
        if debits.is_empty() {
            return Ok(());
        }
        debits.sort_unstable();
        let rows: Vec<(&str, i64)> = debits.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let sql = |v: &str| {
            format!(
                "UPDATE ledger_accounts SET balance = balance - {amount} FROM {v} \
                 WHERE ledger_accounts.key = {key} AND ledger_accounts.balance >= {amount}",
                key = field(0),
                amount = field(1),
            )
        };
        if self.execute_rows(sql, &rows, Filler::MatchesNothing).await? == rows.len() as u64 {
            return Ok(());
        }
        // Some account is short (or missing): say which, and by how much.
        for (account, &delta) in moves.iter().filter(|(a, d)| **d < 0 && !a.may_go_negative()) {
            let balance: i64 = sqlx::query("SELECT balance FROM ledger_accounts WHERE key = $1")
                .bind(account.key())
                .fetch_optional(self.conn())
                .await?
                .map(|r| r.try_get("balance"))
                .transpose()?
                .unwrap_or(0);
            if balance + delta < 0 {
                let currency = account.currency();
                return Err(StoreError::Conflict {
                    kind: Conflict::InsufficientFunds,
                    message: format!(
                        "the wallet is short by {}: it holds {}",
                        Money::new(-(balance + delta), currency),
                        Money::new(balance, currency)
                    ),
                });
            }
        }
        // Each short account was topped up between the debit and the look (PostgreSQL reads
        // what committed meanwhile): the batch may simply be tried again.
        Err(StoreError::Contention("a balance moved while its debit was refused".into()))
    }

    /// A user's available balance in one currency.
    pub async fn wallet_available(&mut self, user_id: &str, currency: Currency) -> Result<i64> {
        let key = Account::Wallet { user_id: user_id.to_string(), currency }.key();
        let row = sqlx::query("SELECT balance FROM ledger_accounts WHERE key = $1")
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(r) => r.try_get("balance")?,
            None => 0,
        })
    }
}

/// The states in which an order holds its escrow (`OrderState::holds_escrow`), as SQL.
const HOLDS_ESCROW: &str = "('paid', 'shipped', 'delivered', 'disputed')";

impl Store {
    /// Balances of every currency the user has touched.
    pub async fn wallet(&self, user_id: &str) -> Result<Vec<WalletBalance>> {
        let mut conn = self.snapshot().await?;
        let available =
            sqlx::query("SELECT currency, balance FROM ledger_accounts WHERE kind = 'wallet' AND owner = $1")
                .bind(user_id)
                .fetch_all(&mut *conn)
                .await?;
        // Escrow balances of the orders that hold escrow, on each side of the user's, found
        // through the partial indexes of open orders (`orders_buyer_open`, `orders_seller_open`).
        let mut escrow = Vec::new();
        for side in ["buyer_id", "seller_id"] {
            let sql = format!(
                "SELECT o.currency, CAST(SUM(a.balance) AS BIGINT) AS amount FROM orders o \
                 JOIN ledger_accounts a ON a.owner = o.id AND a.kind = 'escrow' \
                 WHERE o.{side} = $1 AND o.state IN {HOLDS_ESCROW} GROUP BY o.currency"
            );
            escrow.push(sqlx::query(&sql).bind(user_id).fetch_all(&mut *conn).await?);
        }
        // Flash orders paid but not yet written out: their money is in the promotion's escrow.
        let journal = sqlx::query(
            "SELECT f.currency, \
                    CAST(SUM(CASE WHEN f.buyer_id = $1 THEN f.quantity * f.unit_price ELSE 0 END) AS BIGINT) AS held, \
                    CAST(SUM(CASE WHEN st.owner_id = $1 THEN f.quantity * f.unit_price ELSE 0 END) AS BIGINT) AS incoming \
             FROM flash_orders f JOIN promotions pr ON pr.id = f.promotion_id JOIN stores st ON st.id = pr.store_id \
             WHERE f.buyer_id = $1 OR st.owner_id = $1 GROUP BY f.currency",
        )
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_currency: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for r in &available {
            by_currency.entry(r.try_get("currency")?).or_default().0 = r.try_get("balance")?;
        }
        for r in &escrow[0] {
            by_currency.entry(r.try_get("currency")?).or_default().1 += r.try_get::<i64, _>("amount")?;
        }
        for r in &escrow[1] {
            by_currency.entry(r.try_get("currency")?).or_default().2 += r.try_get::<i64, _>("amount")?;
        }
        for r in &journal {
            let e = by_currency.entry(r.try_get("currency")?).or_default();
            e.1 += r.try_get::<i64, _>("held")?;
            e.2 += r.try_get::<i64, _>("incoming")?;
        }
        by_currency
            .into_iter()
            .map(|(code, (a, h, i))| {
                let c = crate::currency(&code)?;
                Ok(WalletBalance {
                    currency: code,
                    available: Money::new(a, c),
                    held: Money::new(h, c),
                    incoming: Money::new(i, c),
                })
            })
            .collect()
    }

    /// The user's wallet movements, newest first, after the cursor (a transfer id). A flash
    /// order still in the journal shows as its payment, under the id its transfer will have.
    pub async fn wallet_transactions(
        &self,
        user_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<WalletTransaction>> {
        // Money in and money out of the user's wallets, each read newest first through its
        // account's index and cut at the page, then merged: one condition over both sides
        // (`d.owner = $1 OR c.owner = $1`) read every transfer of the marketplace.
        let after = if cursor.is_some() { "AND t.id < $2" } else { "AND $2 = ''" };
        let side = |column: &str, sign: i64| {
            format!(
                "SELECT * FROM (SELECT t.id, t.kind, t.amount, t.currency, t.order_id, t.reference, t.created_at, \
                 {sign} AS sign FROM ledger_transfers t WHERE t.{column} IN \
                 (SELECT key FROM ledger_accounts WHERE owner = $1 AND kind = 'wallet') {after} \
                 ORDER BY t.id DESC LIMIT $3) {column}"
            )
        };
        let journal_after = if cursor.is_some() { "AND f.transfer_id < $2" } else { "" };
        let sql = format!(
            "{} UNION ALL {} UNION ALL SELECT f.transfer_id, 'payment', f.quantity * f.unit_price, f.currency, \
             f.order_id, CAST(NULL AS TEXT), f.created_at, -1 FROM flash_orders f WHERE f.buyer_id = $1 {journal_after} \
             ORDER BY 1 DESC LIMIT $3",
            side("credit_account", 1),
            side("debit_account", -1)
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .bind(cursor.unwrap_or(""))
            .bind(limit as i64 + 1)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let code: String = r.try_get("currency")?;
            let c = crate::currency(&code)?;
            let amount: i64 = r.try_get("amount")?;
            let sign: i64 = r.try_get("sign")?;
            items.push(WalletTransaction {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                amount: Money::new(amount * sign, c),
                order_id: r.try_get("order_id")?,
                reference: r.try_get("reference")?,
                created_at: Timestamp(r.try_get("created_at")?),
            });
        }
        Ok(Page::from_rows(items, limit, |t| t.id.clone()))
    }

    /// Verifies the books: each balance equals its transfers (and flash journal postings), every
    /// currency nets to zero, no wallet, escrow or revenue account is negative, and each order's
    /// escrow holds exactly what the order still holds (its total from payment until release or
    /// refund, else nothing).
    pub async fn ledger_check(&self) -> Result<LedgerReport> {
        let mut conn = self.snapshot().await?;
        let mut problems = Vec::new();
        let drift = sqlx::query(
            "SELECT a.key, a.balance, \
                    CAST(COALESCE((SELECT SUM(amount) FROM ledger_transfers WHERE credit_account = a.key), 0) AS BIGINT) \
                  - CAST(COALESCE((SELECT SUM(amount) FROM ledger_transfers WHERE debit_account = a.key), 0) AS BIGINT) AS computed \
             FROM ledger_accounts a",
        )
        .fetch_all(&mut *conn)
        .await?;
        // Each flash journal row is a posting too: its buyer's wallet into its promotion's escrow.
        let journal = sqlx::query(
            "SELECT buyer_id, promotion_id, currency, CAST(SUM(quantity * unit_price) AS BIGINT) AS amount \
             FROM flash_orders GROUP BY buyer_id, promotion_id, currency",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut posted: BTreeMap<String, i64> = BTreeMap::new();
        let mut journal_moved: BTreeMap<String, i64> = BTreeMap::new();
        for r in &journal {
            let (buyer, promotion, code, amount): (String, String, String, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            let currency = crate::currency(&code)?;
            *posted.entry(Account::Wallet { user_id: buyer, currency }.key()).or_default() -= amount;
            *posted.entry(Account::PromotionEscrow { promotion_id: promotion, currency }.key()).or_default() += amount;
            *journal_moved.entry(code).or_default() += amount;
        }
        for r in &drift {
            let (key, balance, transferred): (String, i64, i64) =
                (r.try_get("key")?, r.try_get("balance")?, r.try_get("computed")?);
            let computed = transferred + posted.remove(&key).unwrap_or(0);
            if balance != computed {
                problems.push(format!("{key}: balance {balance} but its transfers sum to {computed}"));
            }
        }
        for (key, amount) in &posted {
            problems.push(format!("{key}: flash journal postings of {amount} to an account that does not exist"));
        }
        let negative = sqlx::query("SELECT key, balance FROM ledger_accounts WHERE kind <> 'provider' AND balance < 0")
            .fetch_all(&mut *conn)
            .await?;
        for r in &negative {
            problems.push(format!(
                "{} is negative: {}",
                r.try_get::<String, _>("key")?,
                r.try_get::<i64, _>("balance")?
            ));
        }
        let escrow = sqlx::query(
            "SELECT o.id, o.state, o.total, COALESCE(a.balance, 0) AS held FROM orders o \
             LEFT JOIN ledger_accounts a ON a.kind = 'escrow' AND a.owner = o.id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in &escrow {
            let (id, state, total, held): (String, String, i64, i64) =
                (r.try_get("id")?, r.try_get("state")?, r.try_get("total")?, r.try_get("held")?);
            let holds = OrderState::parse(&state).is_some_and(OrderState::holds_escrow);
            let expected = if holds { total } else { 0 };
            if held != expected {
                problems.push(format!("order {id} ({state}) holds {held} in escrow, expected {expected}"));
            }
        }
        let mut currencies = BTreeMap::new();
        let nets =
            sqlx::query("SELECT currency, CAST(SUM(balance) AS BIGINT) AS net FROM ledger_accounts GROUP BY currency")
                .fetch_all(&mut *conn)
                .await?;
        let moved = sqlx::query(
            "SELECT currency, CAST(SUM(amount) AS BIGINT) AS moved FROM ledger_transfers GROUP BY currency",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in &nets {
            let code: String = r.try_get("currency")?;
            let net: i64 = r.try_get("net")?;
            if net != 0 {
                problems.push(format!("{code} nets to {net}, not 0: money was created or lost"));
            }
            let total = moved
                .iter()
                .find(|m| m.try_get::<String, _>("currency").ok().as_deref() == Some(code.as_str()))
                .map(|m| m.try_get::<i64, _>("moved"))
                .transpose()?
                .unwrap_or(0)
                + journal_moved.get(&code).copied().unwrap_or(0);
            currencies.insert(code, CurrencyTotals { net_balance: net, total_debits: total, total_credits: total });
        }
        let accounts: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM ledger_accounts").fetch_one(&mut *conn).await?.try_get("n")?;
        let transfers: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM ledger_transfers").fetch_one(&mut *conn).await?.try_get("n")?;
        Ok(LedgerReport { sound: problems.is_empty(), accounts, transfers, currencies, problems })
    }
}
