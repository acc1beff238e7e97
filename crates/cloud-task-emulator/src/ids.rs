//! Identifiers: task and upload IDs drawn from a seeded generator (repeatable runs), and
//! unguessable tokens (keys, signatures) from the operating system's randomness.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::util::lock;

/// Task and upload IDs, in the shape the service uses (UUID v7: time-ordered), drawn from
/// a generator seeded with the emulator's seed and stamped with its clock: an emulator
/// with a manual clock and a given seed hands out the same IDs on every run.
pub(crate) struct IdSource {
    rng: Mutex<StdRng>,
}

impl IdSource {
    pub(crate) fn new(seed: u64) -> Self {
        IdSource {
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x6964_7321)),
        }
    }

    /// A UUID v7 for the instant `epoch_ms`.
    pub(crate) fn next(&self, epoch_ms: i64) -> String {
        let random: [u8; 10] = lock(&self.rng).random();
        let millis = u64::try_from(epoch_ms).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .to_string()
    }
}

/// An unguessable token: 128 bits of the operating system's randomness, in hex. For what
/// must not be predictable from the seed: generated API keys and URL signatures.
pub(crate) fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_repeat_with_the_seed_and_differ_within_a_run() {
        let (a, b) = (IdSource::new(7), IdSource::new(7));
        let first = [a.next(1_000), a.next(1_000)];
        assert_eq!(first, [b.next(1_000), b.next(1_000)]);
        assert_ne!(first[0], first[1]);
        assert_ne!(IdSource::new(8).next(1_000), first[0]);
        let id = uuid::Uuid::parse_str(&first[0]).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_ne!(random_token(), random_token());
    }
}
