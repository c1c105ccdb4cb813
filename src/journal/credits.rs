//! API requests and the credits they cost, per minute, kind and outcome (migration 7), so
//! that the credits spent over the last rolling 24 h survive a restart and `status` can
//! show them while the daemon runs. Rows older than two days are dropped as new ones come.

use super::{Journal, Result};
use crate::zoho::{ApiCall, ApiOp, Outcome};
use rusqlite::params;

/// Zoho counts credits over a rolling 24 h.
pub const CREDIT_WINDOW_SECS: i64 = 24 * 3600;

/// Rows are kept a little longer than the window (a slow clock, a late `status`).
const KEEP_SECS: i64 = 2 * CREDIT_WINDOW_SECS;

/// Requests of one kind and outcome within a time span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// What was asked.
    pub op: ApiOp,
    /// How it ended.
    pub outcome: Outcome,
    /// How many requests.
    pub calls: u64,
    /// The credits they cost.
    pub credits: u64,
}

/// What the API requests since some moment cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiUsage {
    /// Per kind and outcome, in [`ApiOp::ALL`] then [`Outcome::ALL`] order.
    pub rows: Vec<UsageRow>,
}

impl ApiUsage {
    /// Credits of every request.
    pub fn credits(&self) -> u64 {
        self.rows.iter().map(|r| r.credits).sum()
    }

    /// Requests of every kind.
    pub fn calls(&self) -> u64 {
        self.rows.iter().map(|r| r.calls).sum()
    }

    /// (calls, credits) of one kind, whatever the outcome.
    pub fn of(&self, op: ApiOp) -> (u64, u64) {
        self.rows
            .iter()
            .filter(|r| r.op == op)
            .fold((0, 0), |(c, k), r| (c + r.calls, k + r.credits))
    }
}

impl Journal {
    /// Adds completed requests, each with the unix time it completed.
    pub fn record_api_calls(&self, calls: &[(i64, ApiCall)]) -> Result<()> {
        if calls.is_empty() {
            return Ok(());
        }
        self.write("record API calls", |tx| {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO api_calls (minute_unix, op, outcome, calls, credits)
                 VALUES (?1, ?2, ?3, 1, ?4)
                 ON CONFLICT (minute_unix, op, outcome)
                 DO UPDATE SET calls = calls + 1, credits = credits + excluded.credits",
            )?;
            let mut newest = i64::MIN;
            for (at, call) in calls {
                newest = newest.max(*at);
                upsert.execute(params![
                    at - at.rem_euclid(60),
                    call.op.name(),
                    call.outcome.name(),
                    call.credits
                ])?;
            }
            tx.execute(
                "DELETE FROM api_calls WHERE minute_unix < ?1",
                [newest - KEEP_SECS],
            )?;
            Ok(())
        })
    }

    /// Credits per minute (minute start, credits) from `since_unix` on, oldest first.
    pub fn credits_per_minute_since(&self, since_unix: i64) -> Result<Vec<(i64, u64)>> {
        self.read("read credits per minute", |conn| {
            let mut q = conn.prepare_cached(
                "SELECT minute_unix, SUM(credits) FROM api_calls
                 WHERE minute_unix >= ?1 GROUP BY minute_unix ORDER BY minute_unix",
            )?;
            let rows = q.query_map([since_unix - since_unix.rem_euclid(60)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            rows.collect()
        })
    }

    /// The requests completed at or after `since_unix` (rounded down to its minute).
    pub fn api_usage_since(&self, since_unix: i64) -> Result<ApiUsage> {
        let rows = self.read("read API calls", |conn| {
            let mut q = conn.prepare_cached(
                "SELECT op, outcome, SUM(calls), SUM(credits) FROM api_calls
                 WHERE minute_unix >= ?1 GROUP BY op, outcome",
            )?;
            let rows = q.query_map([since_unix - since_unix.rem_euclid(60)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut rows: Vec<UsageRow> = rows
            .into_iter()
            // A kind this build does not know (written by a newer one) is left out.
            .filter_map(|(op, outcome, calls, credits)| {
                Some(UsageRow {
                    op: ApiOp::parse(&op)?,
                    outcome: Outcome::parse(&outcome)?,
                    calls: calls.max(0) as u64,
                    credits: credits.max(0) as u64,
                })
            })
            .collect();
        rows.sort_by_key(|r| (r.op, r.outcome));
        Ok(ApiUsage { rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_summed_per_kind_over_the_window_and_old_rows_go() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let now = 1_800_000_000;
        let call = |op, status| ApiCall::replied(op, status, false);
        j.record_api_calls(&[
            (
                now - CREDIT_WINDOW_SECS - 120,
                call(ApiOp::ListAttachments, 200),
            ),
            (now - 10, call(ApiOp::ListAttachments, 200)),
            (now - 5, call(ApiOp::ListAttachments, 204)),
            (now, call(ApiOp::Upload, 200)),
            (now, call(ApiOp::Upload, 400)),
            (now, call(ApiOp::Token, 200)),
            (now, ApiCall::replied(ApiOp::ListRecords, 200, true)),
        ])
        .unwrap();
        let u = j.api_usage_since(now - CREDIT_WINDOW_SECS).unwrap();
        assert_eq!(u.of(ApiOp::ListAttachments), (2, 2));
        assert_eq!(u.of(ApiOp::Upload), (2, 2));
        assert_eq!(u.of(ApiOp::Token), (1, 0));
        assert_eq!(u.of(ApiOp::ListRecords), (1, 3));
        assert_eq!((u.calls(), u.credits()), (6, 7));
        // Everything, the old row included, while it is kept.
        assert_eq!(j.api_usage_since(0).unwrap().calls(), 7);
        // A call two days later drops the rows older than two days before it.
        j.record_api_calls(&[(now + KEEP_SECS - 60, call(ApiOp::Delete, 200))])
            .unwrap();
        assert_eq!(j.api_usage_since(0).unwrap().calls(), 7);
    }
}
