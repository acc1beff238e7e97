//! The HTTP side of the emulator, by room: the state every handler shares, its error form,
//! the per-route guard (statistics, faults, the API key), request parameters, the task and
//! upload handlers, the control endpoints, the router, and the accept loop.

mod account;
mod control;
mod error;
mod files;
mod guard;
mod params;
mod registry;
mod router;
mod serve;
mod state;
mod tasks;
mod uploads;

pub(crate) use account::{LoginSettings, Logins};
pub(crate) use error::ApiError;
pub(crate) use router::router;
pub(crate) use serve::{public_addr, serve};
pub(crate) use state::Shared;
pub use tasks::DEFAULT_PAGE_SIZE;
