//! One error type for the whole core; engines map its kinds to their own error codes
//! (DataFusion `DataFusionError::Execution`/`Plan`, PostgreSQL SQLSTATEs).

use std::fmt;

/// Everything that can go wrong in veil-core.
#[derive(Debug, Clone, PartialEq)]
pub enum VeilError {
    /// A caller-supplied argument breaks a rule. `argument` names it as the SQL user wrote it.
    InvalidArgument {
        argument: std::borrow::Cow<'static, str>,
        rule: String,
    },
    /// Partial aggregate states that cannot be merged (e.g. different bounds).
    IncompatibleState(String),
    /// The noise sampler failed (e.g. the CSPRNG had no entropy). Nothing is released.
    Noise(String),
    /// The principal's privacy budget does not cover the query (or there is none). Nothing
    /// was spent and nothing is released.
    BudgetExceeded(String),
    /// The budget ledger could not be read or written. Nothing is released.
    Ledger(String),
}

/// Result type used across veil-core.
pub type Fallible<T> = Result<T, VeilError>;

impl VeilError {
    /// Shorthand for [`VeilError::InvalidArgument`].
    pub fn invalid(
        argument: impl Into<std::borrow::Cow<'static, str>>,
        rule: impl Into<String>,
    ) -> Self {
        VeilError::InvalidArgument {
            argument: argument.into(),
            rule: rule.into(),
        }
    }

    /// The same error blamed on a more precise argument (`options.deny.X` instead of
    /// `options`); other errors are unchanged.
    pub fn for_argument(self, argument: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        match self {
            VeilError::InvalidArgument { rule, .. } => VeilError::InvalidArgument {
                argument: argument.into(),
                rule,
            },
            other => other,
        }
    }
}

impl fmt::Display for VeilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VeilError::InvalidArgument { argument, rule } => {
                write!(f, "invalid argument `{argument}`: {rule}")
            }
            VeilError::IncompatibleState(msg) => write!(f, "incompatible aggregate state: {msg}"),
            VeilError::Noise(msg) => write!(f, "noise generation failed: {msg}"),
            VeilError::BudgetExceeded(msg) => write!(f, "privacy budget exceeded: {msg}"),
            VeilError::Ledger(msg) => write!(f, "privacy budget ledger: {msg}"),
        }
    }
}

impl std::error::Error for VeilError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_argument_and_rule() {
        let e = VeilError::invalid("epsilon", "must be a finite number greater than 0, got 0");
        assert_eq!(
            e.to_string(),
            "invalid argument `epsilon`: must be a finite number greater than 0, got 0"
        );
    }
}
