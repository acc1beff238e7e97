//! The seam suite, written once and compiled against each client: a mocked `HttpTransport`
//! and a fake `Timer` under the client, to check that it sends exactly the core's
//! requests, maps errors as the core says, and refuses bad input before sending anything.
//! Nothing sleeps for real.
//!
//! Each scenario file is compiled twice, in the module of each client, where `sdk` is that
//! client's crate, `shim` its mocked transport and fake timer, and three macros say how a
//! call is made: `run!` (awaited, or not), `all!` (a stream collected, or an iterator) and
//! `seam_test!` (a tokio test, or a plain one). What only one client has (its cancellation from elsewhere, its fake services) is in its
//! own module beside them.

// Each scenario file is compiled once per client, on purpose.
#![allow(clippy::duplicate_mod)]

mod common;

mod async_client {
    pub(crate) use cloud_task_async as sdk;

    macro_rules! run {
        ($call:expr) => {
            $call.await
        };
    }
    macro_rules! all {
        ($items:expr) => {
            futures_util::StreamExt::collect::<Vec<_>>($items).await
        };
    }
    macro_rules! next {
        ($items:expr) => {
            futures_util::StreamExt::next(&mut $items).await
        };
    }
    macro_rules! seam_test {
        ($(#[$meta:meta])* fn $name:ident() $body:block) => {
            $(#[$meta])*
            #[tokio::test]
            async fn $name() $body
        };
    }

    mod shim;

    #[path = "../ops.rs"]
    mod ops;

    #[path = "../waits.rs"]
    mod waits;

    #[path = "../uploads.rs"]
    mod uploads;

    // What only this client has.
    mod polling;
    mod upload;
}

mod blocking_client {
    pub(crate) use cloud_task_blocking as sdk;

    macro_rules! run {
        ($call:expr) => {
            $call
        };
    }
    macro_rules! all {
        ($items:expr) => {
            Iterator::collect::<Vec<_>>($items)
        };
    }
    macro_rules! next {
        ($items:expr) => {
            Iterator::next(&mut $items)
        };
    }
    macro_rules! seam_test {
        ($(#[$meta:meta])* fn $name:ident() $body:block) => {
            $(#[$meta])*
            #[test]
            fn $name() $body
        };
    }

    mod shim;

    #[path = "../ops.rs"]
    mod ops;

    #[path = "../waits.rs"]
    mod waits;

    #[path = "../uploads.rs"]
    mod uploads;

    // What only this client has.
    mod polling;
    mod threads;
    mod upload;
}
