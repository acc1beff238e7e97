//! The error of inputs that do not fit their block: every problem, found before anything
//! was sent (the checks themselves live in `crate::inputs`).

use std::fmt;

use super::{one_line, truncate};

/// The most problems one check reports (then `and N more`).
pub const MAX_INPUT_PROBLEMS: usize = 50;
/// The longest message of one problem, in characters (a message may quote the value), and
/// of a name from the description quoted in the error's text.
pub(crate) const MAX_MESSAGE: usize = 300;

/// What is wrong with one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The block has no such input.
    Unknown,
    /// A required input was not given.
    Missing,
    /// The value breaks the input's schema.
    Invalid,
    /// The input takes a kind of value tasks cannot be given (`contentMediaType` other
    /// than `oomol/secret`, such as a credential).
    Unsupported,
    /// The block's own schema for the input cannot be used (not a valid schema, or a
    /// reference to a remote document).
    BadSchema,
}

impl ProblemKind {
    /// Its name in JSON: `unknown`, `missing`, `invalid`, `unsupported`, `bad_schema`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unknown => "unknown",
            ProblemKind::Missing => "missing",
            ProblemKind::Invalid => "invalid",
            ProblemKind::Unsupported => "unsupported",
            ProblemKind::BadSchema => "bad_schema",
        }
    }
}

/// One problem of one input: which handle, where in its value (a JSON pointer, empty for
/// the value itself), and what.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputProblem {
    /// The input.
    pub handle: String,
    /// Where in the value, as a JSON pointer (`""`: the value itself, `/pages/0`: inside).
    pub pointer: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line whatever the names hold (a pointer follows the value's own keys).
        write!(f, "input {:?}", self.handle)?;
        if !self.pointer.is_empty() {
            write!(f, " at {}", truncate(&one_line(&self.pointer), MAX_MESSAGE))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A task's inputs do not fit its block: every problem, found before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidInputsError {
    /// The package.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The block.
    pub block: String,
    /// The problems, at most [`MAX_INPUT_PROBLEMS`].
    pub problems: Vec<InputProblem>,
    /// How many more there were.
    pub more: usize,
}

impl fmt::Display for InvalidInputsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len() + self.more;
        write!(
            f,
            "the inputs do not fit block {} of {}@{} ({count} problem{}): ",
            truncate(&one_line(&self.block), MAX_MESSAGE),
            truncate(&one_line(&self.package), MAX_MESSAGE),
            truncate(&one_line(&self.version), MAX_MESSAGE),
            if count == 1 { "" } else { "s" }
        )?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        if self.more > 0 {
            write!(f, "; and {} more", self.more)?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidInputsError {}
