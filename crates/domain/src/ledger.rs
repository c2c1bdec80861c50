//! Double-entry ledger rules. Every movement of money is a [`Posting`]: one amount in one
//! currency leaving one account and entering another, so debits equal credits by construction.
//! Which accounts may go below zero is decided here, once.

use crate::money::Money;
use crate::time::Timestamp;
use crate::Currency;
use std::collections::BTreeMap;
use std::fmt;

/// An account in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    /// A user's spendable money in one currency.
    Wallet { user_id: String, currency: Currency },
    /// Money an order holds until it is released or refunded.
    Escrow { order_id: String, currency: Currency },
    /// Money paid for a flash sale's orders that are committed but not yet written out in full;
    /// each moves on into its order's own escrow when it is.
    PromotionEscrow { promotion_id: String, currency: Currency },
    /// The platform's commission income.
    Revenue { currency: Currency },
    /// The outside world through a payment provider: money enters from it and leaves to it, so
    /// its balance is the negative of what the platform holds for users.
    Provider { provider: String, currency: Currency },
}

impl Account {
    pub fn currency(&self) -> Currency {
        match self {
            Account::Wallet { currency, .. }
            | Account::Escrow { currency, .. }
            | Account::PromotionEscrow { currency, .. }
            | Account::Revenue { currency }
            | Account::Provider { currency, .. } => *currency,
        }
    }

    /// Only provider accounts may be negative; every other balance stays at or above zero.
    pub fn may_go_negative(&self) -> bool {
        matches!(self, Account::Provider { .. })
    }

    /// The stable text key the store uses: `wallet:usr_..:USD`, `escrow:ord_..:USD`, ...
    pub fn key(&self) -> String {
        match self {
            Account::Wallet { user_id, currency } => format!("wallet:{user_id}:{currency}"),
            Account::Escrow { order_id, currency } => format!("escrow:{order_id}:{currency}"),
            Account::PromotionEscrow { promotion_id, currency } => format!("escrow:{promotion_id}:{currency}"),
            Account::Revenue { currency } => format!("revenue:{currency}"),
            Account::Provider { provider, currency } => format!("provider:{provider}:{currency}"),
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    TopUp,
    Payout,
    Payment,
    Refund,
    Release,
    Commission,
    /// A flash order's payment moving from its promotion's escrow into the order's own.
    Allocation,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::TopUp => "top_up",
            TransferKind::Payout => "payout",
            TransferKind::Payment => "payment",
            TransferKind::Refund => "refund",
            TransferKind::Release => "release",
            TransferKind::Commission => "commission",
            TransferKind::Allocation => "allocation",
        }
    }
}

/// One balanced movement: `amount` leaves `from` and enters `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub from: Account,
    pub to: Account,
    pub amount: Money,
    pub kind: TransferKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingError {
    NotPositive,
    CurrencyMismatch,
    SameAccount,
    /// `account` would fall `missing` minor units below zero.
    Insufficient {
        account: Account,
        missing: i64,
    },
    Overflow,
}

impl Posting {
    /// A flash order's payment, when its batch commits: the buyer's wallet into the promotion's
    /// escrow, which holds it until the order is written out.
    pub fn flash_payment(buyer_id: &str, promotion_id: &str, total: Money) -> Posting {
        let (user_id, currency) = (buyer_id.to_string(), total.currency);
        let pool = Account::PromotionEscrow { promotion_id: promotion_id.to_string(), currency };
        Posting { from: Account::Wallet { user_id, currency }, to: pool, amount: total, kind: TransferKind::Payment }
    }

    /// A flash order written out: its payment moves from the promotion's escrow into the
    /// order's own, where any order's payment is.
    pub fn flash_allocation(promotion_id: &str, order_id: &str, total: Money) -> Posting {
        let (order_id, currency) = (order_id.to_string(), total.currency);
        let pool = Account::PromotionEscrow { promotion_id: promotion_id.to_string(), currency };
        Posting {
            from: pool,
            to: Account::Escrow { order_id, currency },
            amount: total,
            kind: TransferKind::Allocation,
        }
    }

    /// Checks the posting's own shape: a positive amount, one currency on both sides and in the
    /// amount, two different accounts.
    pub fn check(&self) -> Result<(), PostingError> {
        if self.amount.amount <= 0 {
            return Err(PostingError::NotPositive);
        }
        if self.from.currency() != self.amount.currency || self.to.currency() != self.amount.currency {
            return Err(PostingError::CurrencyMismatch);
        }
        if self.from == self.to {
            return Err(PostingError::SameAccount);
        }
        Ok(())
    }
}

/// What postings applied together do to each account they touch: credits less debits. Each
/// posting is checked first. A batch is judged by its net movement, so one account's debits
/// and credits in the same batch are weighed together, in whatever order they come.
pub fn net_moves<'a>(postings: impl IntoIterator<Item = &'a Posting>) -> Result<BTreeMap<Account, i64>, PostingError> {
    let mut moves: BTreeMap<Account, i64> = BTreeMap::new();
    for p in postings {
        p.check()?;
        let amount = p.amount.amount;
        let from = moves.entry(p.from.clone()).or_insert(0);
        *from = from.checked_sub(amount).ok_or(PostingError::Overflow)?;
        let to = moves.entry(p.to.clone()).or_insert(0);
        *to = to.checked_add(amount).ok_or(PostingError::Overflow)?;
    }
    Ok(moves)
}

/// Balances in memory: the reference model the store's SQL must agree with, and what property
/// tests run against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balances(BTreeMap<Account, i64>);

impl Balances {
    pub fn get(&self, account: &Account) -> i64 {
        self.0.get(account).copied().unwrap_or(0)
    }

    /// Applies postings all or nothing, as the store does: their net movement
    /// ([`net_moves`]) may not take an account that must stay at or above zero below it.
    pub fn apply(&mut self, postings: &[Posting]) -> Result<(), PostingError> {
        let mut next = self.0.clone();
        for (account, delta) in net_moves(postings)? {
            let balance = next.entry(account.clone()).or_insert(0);
            *balance = balance.checked_add(delta).ok_or(PostingError::Overflow)?;
            if *balance < 0 && !account.may_go_negative() {
                return Err(PostingError::Insufficient { missing: -*balance, account });
            }
        }
        self.0 = next;
        Ok(())
    }

    /// Per currency, the sum of all balances: zero when no money was created or lost.
    pub fn net_by_currency(&self) -> BTreeMap<Currency, i64> {
        let mut net = BTreeMap::new();
        for (account, balance) in &self.0 {
            *net.entry(account.currency()).or_insert(0) += balance;
        }
        net
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Account, &i64)> {
        self.0.iter()
    }
}

/// One currency of a user's wallet.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletBalance {
    pub currency: String,
    /// Spendable now.
    pub available: Money,
    /// Paid into escrow for the user's purchases, not yet released.
    pub held: Money,
    /// Held in escrow for the user's sales, released when buyers confirm.
    pub incoming: Money,
}

/// One movement of a user's money.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletTransaction {
    pub id: String,
    pub kind: String,
    /// Positive when money came in, negative when it went out.
    pub amount: Money,
    pub order_id: Option<String>,
    pub reference: Option<String>,
    pub created_at: Timestamp,
}

/// The result of checking the books.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerReport {
    pub sound: bool,
    pub accounts: i64,
    pub transfers: i64,
    /// Per currency: the sum of all balances (0 when no money was created or lost) and the
    /// total moved.
    pub currencies: std::collections::BTreeMap<String, CurrencyTotals>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrencyTotals {
    pub net_balance: i64,
    pub total_debits: i64,
    pub total_credits: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    fn wallet(u: &str) -> Account {
        Account::Wallet { user_id: u.into(), currency: usd() }
    }

    fn provider() -> Account {
        Account::Provider { provider: "sandbox".into(), currency: usd() }
    }

    fn post(from: Account, to: Account, amount: i64) -> Posting {
        Posting { from, to, amount: Money::new(amount, usd()), kind: TransferKind::TopUp }
    }

    #[test]
    fn postings_move_money_without_creating_it() {
        let mut b = Balances::default();
        b.apply(&[post(provider(), wallet("a"), 500), post(wallet("a"), wallet("b"), 200)]).unwrap();
        assert_eq!((b.get(&wallet("a")), b.get(&wallet("b")), b.get(&provider())), (300, 200, -500));
        assert_eq!(b.net_by_currency().get(&usd()), Some(&0));
    }

    #[test]
    fn wallets_never_go_negative_and_failures_change_nothing() {
        let mut b = Balances::default();
        b.apply(&[post(provider(), wallet("a"), 100)]).unwrap();
        let before = b.clone();
        let err = b.apply(&[post(wallet("a"), wallet("b"), 60), post(wallet("a"), wallet("b"), 60)]).unwrap_err();
        assert_eq!(err, PostingError::Insufficient { account: wallet("a"), missing: 20 });
        assert_eq!(b, before, "all or nothing");
        assert_eq!(b.apply(&[post(wallet("a"), wallet("a"), 1)]), Err(PostingError::SameAccount));
        assert_eq!(b.apply(&[post(wallet("a"), wallet("b"), 0)]), Err(PostingError::NotPositive));
        let jpy = Money::new(1, Currency::from_code("JPY").unwrap());
        let mixed = Posting { from: wallet("a"), to: wallet("b"), amount: jpy, kind: TransferKind::Payment };
        assert_eq!(b.apply(&[mixed]), Err(PostingError::CurrencyMismatch));
    }

    #[test]
    fn a_batch_is_judged_by_its_net_movement() {
        let mut b = Balances::default();
        // `a` pays 50 it has only once `b`'s 50 arrives in the same batch.
        b.apply(&[post(wallet("a"), wallet("c"), 50), post(wallet("b"), wallet("a"), 50)]).unwrap_err();
        b.apply(&[post(provider(), wallet("b"), 50)]).unwrap();
        b.apply(&[post(wallet("a"), wallet("c"), 50), post(wallet("b"), wallet("a"), 50)]).unwrap();
        assert_eq!((b.get(&wallet("a")), b.get(&wallet("b")), b.get(&wallet("c"))), (0, 0, 50));
        let moves = net_moves(&[post(wallet("a"), wallet("b"), 30), post(wallet("b"), wallet("a"), 30)]).unwrap();
        assert_eq!(moves.values().copied().collect::<Vec<_>>(), vec![0, 0], "touched, unmoved");
    }

    #[test]
    fn a_flash_payment_reaches_its_order_through_the_promotion() {
        let total = Money::new(900, usd());
        let mut b = Balances::default();
        b.apply(&[post(provider(), wallet("a"), 1000)]).unwrap();
        b.apply(&[Posting::flash_payment("a", "prm_1", total)]).unwrap();
        b.apply(&[Posting::flash_allocation("prm_1", "ord_1", total)]).unwrap();
        let escrow = Account::Escrow { order_id: "ord_1".into(), currency: usd() };
        let pool = Account::PromotionEscrow { promotion_id: "prm_1".into(), currency: usd() };
        assert_eq!((b.get(&wallet("a")), b.get(&pool), b.get(&escrow)), (100, 0, 900));
        assert!(b.apply(&[Posting::flash_allocation("prm_1", "ord_2", total)]).is_err(), "the pool is empty");
    }

    proptest::proptest! {
        /// Whatever is attempted, accepted postings keep every currency's net at zero and no
        /// wallet below zero.
        #[test]
        fn random_transfers_keep_the_books_balanced(ops in proptest::collection::vec((0usize..4, 0usize..4, 1i64..1000), 1..60)) {
            let accounts = [provider(), wallet("a"), wallet("b"), Account::Revenue { currency: usd() }];
            let mut b = Balances::default();
            for (f, t, amount) in ops {
                let _ = b.apply(&[post(accounts[f].clone(), accounts[t].clone(), amount)]);
                proptest::prop_assert_eq!(b.net_by_currency().values().sum::<i64>(), 0);
                for (account, balance) in b.iter() {
                    proptest::prop_assert!(account.may_go_negative() || *balance >= 0);
                }
            }
        }
    }
}
