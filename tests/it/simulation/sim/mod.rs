//! The seeded crash/fault simulation: one seed = one scenario, every decision drawn from
//! an RNG seeded with it (the timing of crashes and faults still varies run to run; the
//! invariants must hold whatever it is).

pub mod bugs;
pub mod check;
pub mod run;
pub mod world;

use bigin_sync::sandbox::Sandbox;
use rand::Rng;
use run::{Crash, incarnation, settle};
use world::World;

/// What a failed seed reports.
pub struct Failure {
    pub seed: u64,
    pub problems: Vec<String>,
    pub log: Vec<String>,
}

/// Plays one seed against the shared sandbox and checks the invariants.
pub fn run_seed(seed: u64, sandbox: &Sandbox, colliding_sizes: bool) -> Result<(), Failure> {
    sandbox.set_faults(Default::default());
    // Each seed has a fresh journal and so asks for its own token; Zoho (and the
    // sandbox) allow only 15 live tokens per refresh token, so retire the last seed's.
    sandbox.expire_tokens();
    let mut w = World::new(seed, sandbox, colliding_sizes);
    let fail = |w: &World<'_>, problems: Vec<String>| Failure {
        seed,
        problems,
        log: w.log.clone(),
    };

    if w.rng.random_bool(0.4) {
        w.note("prior sync:".to_string());
        w.initial_trees();
        settle(&mut w).map_err(|e| fail(&w, vec![format!("prior sync: {e}")]))?;
        w.prior_names = w.local_names().into_iter().collect();
    }
    w.note("initial trees:".to_string());
    w.initial_trees();
    let faults = w.random_faults();
    sandbox.set_faults(faults);

    let rounds = w.rng.random_range(2..=5);
    for round in 0..rounds {
        w.note(format!("round {round}:"));
        w.user_round();
        let passes = w.rng.random_range(1..=3);
        let user_between = w.rng.random_bool(0.5);
        let crash = Crash::random(&mut w.rng);
        incarnation(&mut w, passes, user_between, crash);
    }

    settle(&mut w).map_err(|e| fail(&w, vec![e]))?;
    let problems = check::invariants(&w);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(&w, problems))
    }
}
