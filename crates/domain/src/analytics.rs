//! Seller analytics: daily figures over a window, with the totals and rates derived from them.
//! Money stays in integer minor units; rates are ratios for display only.

use crate::time::DAY_MS;
use serde::Serialize;

/// The windows a seller may look at.
pub const WINDOWS_DAYS: [i64; 3] = [7, 30, 90];

/// One day's figures (days since the Unix epoch, UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Day {
    pub day: i64,
    /// Gross merchandise value of orders paid that day (not cancelled or refunded since), in
    /// minor units of the store's currency.
    pub gmv: i64,
    pub orders: i64,
    pub units: i64,
    pub views: i64,
    pub disputes: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub gmv: i64,
    pub orders: i64,
    pub units: i64,
    pub views: i64,
    pub disputes: i64,
    /// Orders per product view; absent without views.
    pub conversion_rate: Option<f64>,
    /// GMV per order, rounded down; absent without orders.
    pub average_order_value: Option<i64>,
    /// Disputes per order; absent without orders.
    pub dispute_rate: Option<f64>,
}

/// The day `now_ms` falls on.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Every day of the `days`-long window ending today, in order, with the given figures filled in
/// and zeros elsewhere; figures outside the window are dropped.
pub fn series(rows: &[Day], days: i64, now_ms: i64) -> Vec<Day> {
    let today = day_of(now_ms);
    let first = today - days + 1;
    let mut out: Vec<Day> = (first..=today).map(|day| Day { day, ..Day::default() }).collect();
    for r in rows.iter().filter(|r| (first..=today).contains(&r.day)) {
        let d = &mut out[(r.day - first) as usize];
        d.gmv += r.gmv;
        d.orders += r.orders;
        d.units += r.units;
        d.views += r.views;
        d.disputes += r.disputes;
    }
    out
}

pub fn totals(series: &[Day]) -> Totals {
    let mut t = Totals::default();
    for d in series {
        t.gmv += d.gmv;
        t.orders += d.orders;
        t.units += d.units;
        t.views += d.views;
        t.disputes += d.disputes;
    }
    t.conversion_rate = (t.views > 0).then(|| t.orders as f64 / t.views as f64);
    t.average_order_value = (t.orders > 0).then(|| t.gmv / t.orders);
    t.dispute_rate = (t.orders > 0).then(|| t.disputes as f64 / t.orders as f64);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_filled_day_by_day() {
        let now = 20_000 * DAY_MS + 5;
        let rows = [
            Day { day: 20_000, gmv: 300, orders: 2, units: 3, views: 40, disputes: 1 },
            Day { day: 19_998, gmv: 100, orders: 1, units: 1, views: 10, disputes: 0 },
            Day { day: 19_000, gmv: 999, orders: 9, units: 9, views: 9, disputes: 9 },
        ];
        let s = series(&rows, 7, now);
        assert_eq!(s.len(), 7);
        assert_eq!((s[0].day, s[6].day), (19_994, 20_000));
        assert_eq!(s[6].gmv, 300);
        assert_eq!(s[4].orders, 1);
        let t = totals(&s);
        assert_eq!((t.gmv, t.orders, t.units, t.views, t.disputes), (400, 3, 4, 50, 1), "the old day is outside");
        assert_eq!(t.average_order_value, Some(133));
        assert_eq!(t.conversion_rate, Some(0.06));
        assert!(totals(&series(&[], 30, now)).conversion_rate.is_none());
    }
}
