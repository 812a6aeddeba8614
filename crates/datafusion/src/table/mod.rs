//! Table functions, one per file.

pub mod advise_composition;
