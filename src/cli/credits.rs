//! The credits part of `status`: API calls and credits over the last rolling 24 h, by
//! kind, against the budget and the edition's allowance it comes from.

use crate::config::Config;
use crate::journal::ApiUsage;
use crate::zoho::{ApiOp, Outcome};
use serde_json::{Map, Value, json};

/// `status --json`'s `credits` object.
pub(super) fn json(cfg: &Config, usage: &ApiUsage) -> Value {
    let (z, s) = (&cfg.zoho, &cfg.sync);
    let mut by_op = Map::new();
    for op in ApiOp::ALL {
        let rows: Vec<_> = usage.rows.iter().filter(|r| r.op == op).collect();
        if rows.is_empty() {
            continue;
        }
        let mut by_outcome = Map::new();
        for o in Outcome::ALL {
            let calls: u64 = rows
                .iter()
                .filter(|r| r.outcome == o)
                .map(|r| r.calls)
                .sum();
            if calls > 0 {
                by_outcome.insert(o.name().into(), json!(calls));
            }
        }
        let (calls, credits) = usage.of(op);
        by_op.insert(
            op.name().into(),
            json!({"calls": calls, "credits": credits, "by_outcome": by_outcome}),
        );
    }
    json!({
        "window_hours": 24,
        "used": usage.credits(),
        "calls": usage.calls(),
        "budget": s.api_budget_per_day,
        "budget_from": if s.api_budget_explicit { "api_budget_per_day" } else { "api_budget_share" },
        "budget_share": s.api_budget_share,
        "edition": z.edition.to_string(),
        "edition_assumed": z.edition_assumed,
        "users": z.users,
        "allowance": z.edition.daily_credits(z.users),
        "by_op": by_op,
    })
}

/// The human lines of `status`.
pub(super) fn lines(cfg: &Config, usage: &ApiUsage) -> Vec<String> {
    let (z, s) = (&cfg.zoho, &cfg.sync);
    let allowance = z.edition.daily_credits(z.users);
    let assumed = if z.edition_assumed {
        ", assumed: zoho.edition not set"
    } else {
        ""
    };
    let from = if s.api_budget_explicit {
        "sync.api_budget_per_day".to_owned()
    } else {
        format!("{:.0} % of", s.api_budget_share * 100.0)
    };
    let mut out = vec![format!(
        "API credits (last 24 h): {} used of a budget of {} ({from} {} allowance of {allowance}{assumed})",
        usage.credits(),
        s.api_budget_per_day,
        z.edition,
    )];
    if usage.calls() > 0 {
        let parts: Vec<String> = ApiOp::ALL
            .into_iter()
            .map(|op| (op, usage.of(op)))
            .filter(|(_, (calls, _))| *calls > 0)
            .map(|(op, (calls, credits))| format!("{op} {calls} ({credits} credits)"))
            .collect();
        out.push(format!("  calls: {}", parts.join(", ")));
    }
    out
}
