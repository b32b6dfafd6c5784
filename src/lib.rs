//! finseed: deterministic synthetic data for the Financy platform.
pub mod civil;
pub mod encode;
pub mod error;
pub mod gen;
pub mod model;
pub mod profile;
pub mod rng;
pub mod vocab;
pub mod generate;
pub mod pipeline;
pub mod progress;
pub mod sink;
pub mod cli;
pub mod commands;
pub mod schema;
