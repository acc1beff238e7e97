//! Small helpers shared by the emulator's parts.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, going on when a panicking holder poisoned it: every state behind the
/// emulator's locks stays consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
