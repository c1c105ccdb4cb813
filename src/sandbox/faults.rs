//! Deterministic fault decisions: one seeded RNG so a seed replays the same failures.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::options::Faults;

/// The active [`Faults`] and the RNG drawing from them.
pub(crate) struct FaultState {
    pub faults: Faults,
    rng: StdRng,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        FaultState { faults, rng }
    }

    /// True with probability `rate`; draws nothing for 0 so unrelated knobs do not shift
    /// the sequence of another.
    pub fn roll(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        self.rng.random::<f64>() < rate
    }
}
