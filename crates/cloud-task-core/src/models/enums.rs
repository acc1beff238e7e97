//! The string enums of the wire: task status, task type, workload, pause type. Each keeps
//! an unknown value in an `Unknown` variant instead of failing.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Defines a string enum that keeps unknown values.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the SDK does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The wire strings of the values this version of the SDK knows, in order.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $wire => $name::$variant, )+
                    _ => $name::Unknown(s),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                    fn visit_string<E: de::Error>(self, s: String) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
string_enum! {
    /// The status of a task. `queued`, `scheduling`, `scheduled`, `running` are in
    /// progress; `success` and `failed` are terminal. An unknown status is treated as in
    /// progress.
    TaskStatus {
        /// Waiting in the user's queue.
        Queued => "queued",
        /// Being assigned to a worker.
        Scheduling => "scheduling",
        /// Assigned, about to start.
        Scheduled => "scheduled",
        /// Running.
        Running => "running",
        /// Finished successfully (terminal).
        Success => "success",
        /// Finished with an error (terminal).
        Failed => "failed",
    }
}

impl TaskStatus {
    /// True for `success` and `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Failed)
    }

    /// True for every non-terminal status, unknown ones included.
    pub fn is_in_progress(&self) -> bool {
        !self.is_terminal()
    }
}

string_enum! {
    /// Who owns a task: the user, or a shared subscription.
    TaskType {
        /// A task of the current user.
        User => "user",
        /// A task run under a shared subscription.
        Shared => "shared",
    }
}

string_enum! {
    /// The kind of workload a task runs. The SDK only creates `serverless` tasks.
    Workload {
        /// A published block run as a serverless function.
        Serverless => "serverless",
        /// An applet.
        Applet => "applet",
        /// An API applet.
        ApiApplet => "api_applet",
        /// A web task.
        WebTask => "web_task",
    }
}

string_enum! {
    /// Why the user's queue is paused.
    PauseType {
        /// Paused by the user.
        User => "user",
        /// Paused by the system.
        System => "system",
        /// Paused for billing reasons.
        Billing => "billing",
    }
}
